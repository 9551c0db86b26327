package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/journal"
)

// DefaultMoverImage is the image of the data-mover pods: the rebound
// binary itself (the lab runs it as a host process).
const DefaultMoverImage = "ghcr.io/reboundhq/rebound:latest"

// Engine takes and restores backups of apps into one repository. Its
// methods are safe for concurrent use; Backup and Restore of the same app
// at once are not.
type Engine struct {
	repo      *repo.Repository
	kube      kubernetes.Interface
	key       []byte
	sealer    *sealer
	moverURL  string
	moverImg  string
	moverEnv  string
	moverWait time.Duration
	log       *slog.Logger
	now       func() time.Time
	clock     func() clock.Instant // the host's monotonic clock, for cuts
	journal   *journal.Journal
	jrun      string
	jcluster  journal.Cluster
}

// Option configures an Engine.
type Option func(*engineConfig)

type engineConfig struct {
	init      bool
	repoOpts  []repo.Option
	moverURL  string
	moverImg  string
	moverEnv  string
	moverWait time.Duration
	log       *slog.Logger
	journal   *journal.Journal
	jrun      string
	jcluster  journal.Cluster
}

// WithInit creates the repository when there is none at the URL.
func WithInit() Option { return func(c *engineConfig) { c.init = true } }

// WithRepoOptions passes options to the repository.
func WithRepoOptions(o ...repo.Option) Option {
	return func(c *engineConfig) { c.repoOpts = append(c.repoOpts, o...) }
}

// WithMoverRepoURL is the repository URL as data-mover pods see it, when
// it differs from the engine's (default: the same; a local path is made
// absolute, which the lab's pods share with the host).
func WithMoverRepoURL(u string) Option { return func(c *engineConfig) { c.moverURL = u } }

// WithMoverImage sets the data-mover image (default DefaultMoverImage).
func WithMoverImage(img string) Option { return func(c *engineConfig) { c.moverImg = img } }

// WithMoverEnvSecret names a Secret, in the app's namespace, whose keys
// become the data movers' environment: the bucket's credentials
// (AWS_ACCESS_KEY_ID, AZURE_STORAGE_KEY, …).
func WithMoverEnvSecret(name string) Option { return func(c *engineConfig) { c.moverEnv = name } }

// WithMoverTimeout bounds each data-mover pod (default 15m).
func WithMoverTimeout(d time.Duration) Option { return func(c *engineConfig) { c.moverWait = d } }

// WithJournal records, in j under run, each data movers' key Secret and
// pods before they are created, with the steps that delete them, so that
// `rebound cleanup` removes them after a crash or kill -9; cluster says how
// cleanup reaches the cluster (its Namespace is set per operation).
func WithJournal(j *journal.Journal, run string, cluster journal.Cluster) Option {
	return func(c *engineConfig) { c.journal, c.jrun, c.jcluster = j, run, cluster }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *engineConfig) { c.log = l } }

// NewEngine opens the repository at repoURL with key and returns an engine
// acting on the cluster kube. A wrong key fails with repo.ErrWrongKey
// before anything is read or written; a missing repository fails with
// repo.ErrNotRepository unless WithInit.
func NewEngine(ctx context.Context, repoURL string, key []byte, kube kubernetes.Interface, opts ...Option) (*Engine, error) {
	cfg := engineConfig{moverImg: DefaultMoverImage, moverWait: 15 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r, err := repo.Open(ctx, repoURL, key, cfg.repoOpts...)
	if errors.Is(err, repo.ErrNotRepository) && cfg.init {
		r, err = repo.Init(ctx, repoURL, key, cfg.repoOpts...)
	}
	if err != nil {
		return nil, err
	}
	s, err := newSealer(key, r.ID())
	if err != nil {
		r.Close()
		return nil, err
	}
	moverURL := cfg.moverURL
	if moverURL == "" {
		moverURL = absURL(repoURL)
	}
	return &Engine{
		repo: r, kube: kube, key: slices.Clone(key), sealer: s,
		moverURL: moverURL, moverImg: cfg.moverImg, moverEnv: cfg.moverEnv, moverWait: cfg.moverWait,
		log: cfg.log, now: time.Now, clock: clock.Now, journal: cfg.journal, jrun: cfg.jrun, jcluster: cfg.jcluster,
	}, nil
}

// absURL makes a plain local path absolute.
func absURL(u string) string {
	if strings.Contains(u, "://") {
		return u
	}
	if abs, err := filepath.Abs(u); err == nil {
		return abs
	}
	return u
}

// MoverRepoURL is the repository's URL as the data-mover pods see it: a
// caller restoring into another cluster checks that cluster can reach it.
func (e *Engine) MoverRepoURL() string { return e.moverURL }

// Repository is the engine's repository, for verify, prune and unlock.
func (e *Engine) Repository() *repo.Repository { return e.repo }

// Close closes the repository.
func (e *Engine) Close() error { return e.repo.Close() }

// Info is a backup as listed, read from its snapshot alone.
type Info struct {
	ID        string // 64 hex digits
	Time      time.Time
	Name      string
	Namespace string
	Selector  string
	Driver    string
	Level     Level
	Cut       time.Time
	// CutAt is the cut on the monotonic clock of the host that took it
	// (zero when CutUnknown says why there is none, or for a backup of an
	// older rebound); FinishedAt is when the backup's data was all read.
	CutAt, FinishedAt clock.Instant
	CutUnknown        string
	Tags              []string // the backup's own tags (not TagBackup)
	Bytes             int64    // what it holds, uncompressed
	StoredBytes       int64    // what it added to the repository
}

// Short is the first 8 hex digits of the id.
func (i Info) Short() string { return i.ID[:8] }

func infoOf(s *repo.Snapshot) Info {
	in := Info{
		ID: s.ID.String(), Time: s.Time, Name: s.Metadata[metaName], Namespace: s.Metadata[metaNamespace],
		Selector: s.Metadata[metaSelector], Driver: s.Metadata[metaDriver], Level: Level(s.Metadata[metaLevel]),
		Bytes: s.Summary.Bytes, StoredBytes: s.Summary.StoredBytes,
	}
	in.Cut, _ = time.Parse(time.RFC3339Nano, s.Metadata[metaCut])
	in.CutAt, in.FinishedAt = parseInstant(s.Metadata[metaCutAt]), parseInstant(s.Metadata[metaFinishedAt])
	in.CutUnknown = s.Metadata[metaCutUnknown]
	for _, t := range s.Tags {
		if t != TagBackup {
			in.Tags = append(in.Tags, t)
		}
	}
	return in
}

// List returns the backups, oldest first. Snapshots that are not backups
// (a volume's files, a mover's error report) are left out. When a snapshot
// object is damaged, the readable backups are returned with an error
// wrapping repo.ErrCorrupt.
func (e *Engine) List(ctx context.Context) ([]Info, error) {
	snaps, err := e.repo.List(ctx)
	var out []Info
	for _, s := range snaps {
		if s.HasTag(TagBackup) {
			out = append(out, infoOf(s))
		}
	}
	return out, err
}

// Resolve finds the backup an id, a prefix of at least 4 hex digits, or
// "latest" names.
func (e *Engine) Resolve(ctx context.Context, ref string) (*repo.Snapshot, error) {
	if ref == "latest" || ref == "" {
		list, err := e.List(ctx)
		if len(list) == 0 {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("latest: %w: the repository holds no backup", ErrNotFound)
		}
		ref = list[len(list)-1].ID
	}
	id, err := e.repo.Resolve(ctx, ref)
	if errors.Is(err, repo.ErrSnapshotNotFound) {
		return nil, fmt.Errorf("backup %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s, err := e.repo.Get(ctx, id)
	if errors.Is(err, repo.ErrSnapshotNotFound) {
		return nil, fmt.Errorf("backup %q: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if !s.HasTag(TagBackup) {
		return nil, fmt.Errorf("snapshot %s is not a backup (tags %v): %w", s.ID.Short(), s.Tags, ErrNotFound)
	}
	return s, nil
}

// Describe returns a backup's listing and its manifest.
func (e *Engine) Describe(ctx context.Context, ref string) (*Info, *Manifest, error) {
	s, err := e.Resolve(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	m, err := e.manifest(ctx, s.ID)
	if err != nil {
		return nil, nil, err
	}
	in := infoOf(s)
	return &in, m, nil
}

func (e *Engine) manifest(ctx context.Context, id repo.ID) (*Manifest, error) {
	b, err := e.readObject(ctx, id, manifestObject)
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id.Short(), err)
	}
	return m, nil
}

func (e *Engine) readObject(ctx context.Context, id repo.ID, name string) ([]byte, error) {
	rc, err := e.repo.OpenObject(ctx, id, name)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id.Short(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", id.Short(), err)
	}
	return b, nil
}

// Delete removes a backup and the volume snapshots it names. Its chunks
// stay until Prune. A backup whose manifest cannot be read is still
// deleted; the volume snapshots it named then stay (Prune reports them as
// kept; delete them by id).
func (e *Engine) Delete(ctx context.Context, ref string) (warnings []string, err error) {
	s, err := e.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	m, merr := e.manifest(ctx, s.ID)
	if merr != nil {
		warnings = append(warnings, fmt.Sprintf("manifest unreadable, the volume snapshots it names are left: %v", merr))
	}
	// The backup first: a crash in between leaves unreferenced volume
	// snapshots, never a backup missing its data.
	if err := e.repo.Delete(ctx, s.ID); err != nil {
		return warnings, err
	}
	if m != nil {
		for _, d := range m.Data {
			if d.Snapshot == "" {
				continue
			}
			id, err := repo.ParseID(d.Snapshot)
			if err == nil {
				err = e.repo.Delete(ctx, id)
			}
			if err != nil && !errors.Is(err, repo.ErrSnapshotNotFound) {
				warnings = append(warnings, fmt.Sprintf("volume snapshot %s of %s: %v", d.Snapshot, d.PVC, err))
			}
		}
	}
	return warnings, nil
}

// Prune removes the chunks no backup needs any more, and the volume
// snapshots and mover reports no backup names (left by a crashed backup).
func (e *Engine) Prune(ctx context.Context) (*repo.PruneReport, int, error) {
	orphans, err := e.orphans(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, id := range orphans {
		if err := e.repo.Delete(ctx, id); err != nil && !errors.Is(err, repo.ErrSnapshotNotFound) {
			return nil, 0, err
		}
	}
	rep, err := e.repo.Prune(ctx)
	return rep, len(orphans), err
}

// orphans are the volume snapshots and mover reports older than an hour
// that no backup names. The hour keeps a backup running now, whose
// volume snapshots are written before its own, from losing them.
func (e *Engine) orphans(ctx context.Context) ([]repo.ID, error) {
	snaps, err := e.repo.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("find unreferenced volume snapshots: %w", err)
	}
	named := map[string]bool{}
	for _, s := range snaps {
		if !s.HasTag(TagBackup) {
			continue
		}
		m, err := e.manifest(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("find unreferenced volume snapshots: %w", err)
		}
		for _, d := range m.Data {
			if d.Snapshot != "" {
				named[d.Snapshot] = true
			}
		}
	}
	var out []repo.ID
	for _, s := range snaps {
		if (s.HasTag(mover.TagPVCData) || s.HasTag(mover.TagError)) && !named[s.ID.String()] && e.now().Sub(s.Time) > time.Hour {
			out = append(out, s.ID)
		}
	}
	return out, nil
}

// Verify reads every object of the repository and names each damaged or
// missing one and what it breaks (see repo.Repository.Verify).
func (e *Engine) Verify(ctx context.Context) (*repo.VerifyReport, error) {
	return e.repo.Verify(ctx)
}

// VerifyBackup reads every object of one backup — its manifest, resources,
// sealed Secrets (authenticated, not decrypted into memory for use), the
// etcd snapshot, and every file of its volume snapshots — and returns an
// error naming the first damaged object, wrapping repo.ErrCorrupt.
func (e *Engine) VerifyBackup(ctx context.Context, ref string) error {
	s, err := e.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	return e.verifySnapshot(ctx, s, true)
}

func (e *Engine) verifySnapshot(ctx context.Context, s *repo.Snapshot, isBackup bool) error {
	tree, err := e.repo.LoadTree(ctx, s)
	if err != nil {
		return err
	}
	for _, o := range tree.Objects {
		if err := e.drain(ctx, s.ID, o.Path, true); err != nil {
			return err
		}
		if isBackup && strings.HasPrefix(o.Path, secretPrefix) {
			b, err := e.readObject(ctx, s.ID, o.Path)
			if err != nil {
				return err
			}
			if _, err := e.sealer.unseal(o.Path, b); err != nil {
				return fmt.Errorf("backup %s: %w: %w", s.ID.Short(), repo.ErrCorrupt, err)
			}
		}
	}
	for _, n := range tree.Nodes {
		if n.Type != repo.TypeFile {
			continue
		}
		if err := e.drain(ctx, s.ID, n.Path, false); err != nil {
			return err
		}
	}
	if !isBackup {
		return nil
	}
	m, err := e.manifest(ctx, s.ID)
	if err != nil {
		return err
	}
	for _, d := range m.Data {
		if d.Snapshot == "" {
			continue
		}
		id, err := repo.ParseID(d.Snapshot)
		if err != nil {
			return fmt.Errorf("backup %s: volume snapshot of %s: %w", s.ID.Short(), d.PVC, err)
		}
		vs, err := e.repo.Get(ctx, id)
		if err != nil {
			return fmt.Errorf("backup %s: volume snapshot of %s: %w", s.ID.Short(), d.PVC, err)
		}
		if err := e.verifySnapshot(ctx, vs, false); err != nil {
			return fmt.Errorf("backup %s: volume %s: %w", s.ID.Short(), d.PVC, err)
		}
	}
	return nil
}

func (e *Engine) drain(ctx context.Context, id repo.ID, name string, object bool) error {
	var rc io.ReadCloser
	var err error
	if object {
		rc, err = e.repo.OpenObject(ctx, id, name)
	} else {
		rc, err = e.repo.OpenFile(ctx, id, name)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// token is a random operation id, for names and for finding results.
func token() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Location is the repository location, for messages.
func (e *Engine) Location() string { return e.repo.Location() }
