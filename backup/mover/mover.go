package mover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/reboundhq/rebound/backup/repo"
)

// Subcommands of `rebound backup` that run the movers (hidden from help).
const (
	CmdEtcdRestoreMember = "etcd-restore-member"
	CmdPVCBackup         = "pvc-backup"
	CmdPVCRestore        = "pvc-restore"
)

// Tags and metadata keys of the snapshots movers write.
const (
	// TagPVCData marks the snapshot of one volume's files.
	TagPVCData = "rebound-pvc-data"
	// TagError marks a mover's error report.
	TagError = "rebound-mover-error"

	MetaToken     = "rebound.mover-token"  // the operation the mover ran for
	MetaTarget    = "rebound.mover-target" // the PVC or etcd member
	MetaNamespace = "rebound.namespace"
	MetaError     = "rebound.error"
)

// Common are the options of every mover.
type Common struct {
	Repo    string // repository URL or path, as seen from the pod
	KeyFile string // the repository key (a mounted Secret)
	Token   string // the engine's operation token, to find results by
	Target  string // the PVC or member this mover works on
}

func (c Common) args(cmd string) []string {
	return []string{"backup", cmd, "--repo=" + c.Repo, "--key-file=" + c.KeyFile, "--token=" + c.Token, "--target=" + c.Target}
}

// Command is the command line of a mover whose own part is own: its
// subcommand and the subcommand's flags (as an app's restore plan gives
// them, apps.Mover.Args), with the common flags after the subcommand.
func (c Common) Command(own []string) []string {
	if len(own) == 0 {
		return nil
	}
	return append(c.args(own[0]), own[1:]...)
}

// Open opens the repository the options name.
func (c Common) Open(ctx context.Context) (*repo.Repository, error) {
	key, err := repo.KeyFromFile(c.KeyFile)
	if err != nil {
		return nil, err
	}
	return repo.Open(ctx, c.Repo, key, repo.WithWorkers(2))
}

// EtcdMemberOptions rebuild one etcd member's data directory.
type EtcdMemberOptions struct {
	Common
	Backup string // repository snapshot id of the backup
	Object string // the object holding the etcd snapshot
	// VolumeRoot is where the member's volume is mounted; DataDir must be
	// inside it. The restore is staged there and renamed into place.
	VolumeRoot string
	// The member's own flags, as etcd is started with them.
	DataDir, Name, InitialCluster, InitialClusterToken, InitialAdvertisePeerURLs string
	// RevisionBump raises the revision after the restore and marks the old
	// ones compacted, so watchers that saw newer revisions start over.
	RevisionBump uint64
}

// Args is the command line of `rebound backup etcd-restore-member` for o.
func (o EtcdMemberOptions) Args() []string { return o.Common.Command(o.OwnArgs()) }

// OwnArgs is the subcommand and its own flags, without the common ones
// (which the backup engine adds).
func (o EtcdMemberOptions) OwnArgs() []string {
	a := []string{CmdEtcdRestoreMember}
	a = append(a, "--backup="+o.Backup, "--object="+o.Object, "--volume-root="+o.VolumeRoot,
		"--data-dir="+o.DataDir, "--name="+o.Name, "--initial-cluster="+o.InitialCluster,
		"--initial-cluster-token="+o.InitialClusterToken, "--initial-advertise-peer-urls="+o.InitialAdvertisePeerURLs)
	if o.RevisionBump > 0 {
		a = append(a, "--bump-revision="+strconv.FormatUint(o.RevisionBump, 10))
	}
	return a
}

// stagePrefix names the folders a member restore is staged in.
const stagePrefix = ".rebound-restore-"

// RestoreEtcdMember rebuilds the member's data directory from the etcd
// snapshot in the backup: it fetches the snapshot (every chunk checked),
// runs etcdutl's snapshot restore into a staging folder on the same
// volume (which checks the snapshot's own hash and writes a fresh WAL
// with the new membership), and only then replaces the data directory.
// A crash before the swap leaves the old data; staging folders of an
// earlier crashed run are removed first.
func RestoreEtcdMember(ctx context.Context, r *repo.Repository, o EtcdMemberOptions) error {
	if !filepath.IsAbs(o.DataDir) {
		return fmt.Errorf("--data-dir %q: want an absolute path", o.DataDir)
	}
	root := o.VolumeRoot
	if root == "" {
		root = filepath.Dir(o.DataDir)
	}
	rel, err := filepath.Rel(root, o.DataDir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("--data-dir %q is not inside --volume-root %q", o.DataDir, root)
	}
	if o.Name == "" || o.InitialCluster == "" || o.InitialAdvertisePeerURLs == "" {
		return errors.New("--name, --initial-cluster and --initial-advertise-peer-urls are required")
	}
	id, err := repo.ParseID(o.Backup)
	if err != nil {
		return fmt.Errorf("--backup: %w", err)
	}
	if err := removeStale(root); err != nil {
		return err
	}
	token := o.Token
	if token == "" {
		token = "x"
	}
	stage := filepath.Join(root, stagePrefix+token)
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return fmt.Errorf("staging folder: %w", err)
	}
	defer os.RemoveAll(stage)

	dbPath := filepath.Join(stage, "snapshot.db")
	if err := fetch(ctx, r, id, o.Object, dbPath); err != nil {
		return err
	}
	newDir := filepath.Join(stage, "data")
	cfg := snapshot.RestoreConfig{
		SnapshotPath:        dbPath,
		Name:                o.Name,
		OutputDataDir:       newDir,
		PeerURLs:            strings.Split(o.InitialAdvertisePeerURLs, ","),
		InitialCluster:      o.InitialCluster,
		InitialClusterToken: o.InitialClusterToken,
		RevisionBump:        o.RevisionBump,
		MarkCompacted:       o.RevisionBump > 0,
	}
	if err := snapshot.NewV3(zap.NewNop()).Restore(cfg); err != nil {
		return fmt.Errorf("etcd snapshot restore for member %s: %w", o.Name, err)
	}
	if err := os.Remove(dbPath); err != nil {
		return err
	}
	return swapIn(root, rel, stage, newDir, o.DataDir)
}

// swapIn replaces the data directory by the restored one.
func swapIn(root, rel, stage, newDir, dataDir string) error {
	if rel != "." {
		if err := os.RemoveAll(dataDir); err != nil {
			return fmt.Errorf("remove the old data directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(dataDir), 0o700); err != nil {
			return err
		}
		if err := os.Rename(newDir, dataDir); err != nil {
			return fmt.Errorf("move the restored data into place: %w", err)
		}
		return syncDir(filepath.Dir(dataDir))
	}
	// The data directory is the volume's root: empty it but for the
	// staging folder, then move the restored entries up.
	if err := emptyDir(root, filepath.Base(stage)); err != nil {
		return err
	}
	entries, err := os.ReadDir(newDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(newDir, e.Name()), filepath.Join(root, e.Name())); err != nil {
			return fmt.Errorf("move the restored data into place: %w", err)
		}
	}
	return syncDir(root)
}

// fetch writes the named object of backup id to path.
func fetch(ctx context.Context, r *repo.Repository, id repo.ID, object, path string) error {
	rc, err := r.OpenObject(ctx, id, object)
	if err != nil {
		return fmt.Errorf("read %s of backup %s: %w", object, id.Short(), err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("read %s of backup %s: %w", object, id.Short(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func removeStale(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("volume root: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagePrefix) {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return fmt.Errorf("remove an earlier staging folder: %w", err)
			}
		}
	}
	return nil
}

// emptyDir removes everything in dir but keep and lost+found.
func emptyDir(dir string, keep ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "lost+found" || contains(keep, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// PVCOptions copy one volume into, or back from, the repository.
type PVCOptions struct {
	Common
	Namespace string
	Path      string // where the volume is mounted
	Backup    string // pvc-restore: the repository snapshot of the files
}

// BackupArgs is the command line of `rebound backup pvc-backup` for o.
func (o PVCOptions) BackupArgs() []string {
	return append(o.args(CmdPVCBackup), "--namespace="+o.Namespace, "--path="+o.Path)
}

// RestoreArgs is the command line of `rebound backup pvc-restore` for o.
func (o PVCOptions) RestoreArgs() []string {
	return append(o.args(CmdPVCRestore), "--path="+o.Path, "--backup="+o.Backup)
}

// BackupPath stores the files under o.Path as a snapshot tagged
// TagPVCData that carries the token and target, for the engine to find.
func BackupPath(ctx context.Context, r *repo.Repository, o PVCOptions) (*repo.Snapshot, error) {
	return r.Backup(ctx, o.Path, repo.BackupOptions{
		Tags:     []string{TagPVCData},
		Metadata: map[string]string{MetaToken: o.Token, MetaTarget: o.Target, MetaNamespace: o.Namespace},
	})
}

// RestorePath makes o.Path hold exactly the files of snapshot o.Backup:
// it checks the snapshot is readable, empties the volume (lost+found
// aside), then restores into it.
func RestorePath(ctx context.Context, r *repo.Repository, o PVCOptions) error {
	id, err := repo.ParseID(o.Backup)
	if err != nil {
		return fmt.Errorf("--backup: %w", err)
	}
	snap, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	if _, err := r.LoadTree(ctx, snap); err != nil {
		return err
	}
	if err := emptyDir(o.Path); err != nil {
		return fmt.Errorf("empty %s: %w", o.Path, err)
	}
	return r.Restore(ctx, id, o.Path, repo.RestoreOptions{Overwrite: true, Sync: true})
}

// ReportError records a mover's failure where the engine will look: as a
// small snapshot tagged TagError in the repository (when it opens) and in
// the container's termination message. It returns err.
func ReportError(ctx context.Context, c Common, err error) error {
	msg := err.Error()
	if len(msg) > 4000 {
		msg = msg[:4000] + "…"
	}
	// Only where the kubelet mounted one: never create it (the lab runs
	// pods as host processes).
	if f, ferr := os.OpenFile("/dev/termination-log", os.O_WRONLY|os.O_TRUNC, 0); ferr == nil {
		_, _ = f.WriteString(msg)
		f.Close()
	}
	if c.Repo == "" || c.KeyFile == "" || errors.Is(err, repo.ErrWrongKey) {
		return err
	}
	r, oerr := c.Open(ctx)
	if oerr != nil {
		return err
	}
	defer r.Close()
	w, werr := r.NewSnapshot(ctx, repo.BackupOptions{
		Tags:     []string{TagError},
		Metadata: map[string]string{MetaToken: c.Token, MetaTarget: c.Target, MetaError: msg},
	})
	if werr == nil {
		_, _ = w.Commit(ctx)
	}
	return err
}
