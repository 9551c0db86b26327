package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/clock"
)

// captured is one object ready to store.
type captured struct {
	kind kindInfo
	name string
	data []byte // JSON of the stripped object
}

// Backup takes a backup of the app req names and commits it to the
// repository. The backup's own snapshot is written last, after its data
// (and the volume snapshots it names), so an interrupted backup leaves no
// backup at all, only chunks and volume snapshots that Prune removes.
func (e *Engine) Backup(ctx context.Context, req Request) (*Result, error) {
	if req.Namespace == "" {
		return nil, errors.New("backup: no namespace")
	}
	mode, err := ParseDataMode(string(req.Data))
	if err != nil {
		return nil, err
	}
	sel := req.Selector
	if sel == nil {
		sel = labels.Everything()
	}
	progress := req.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	start := e.now()
	m := &Manifest{
		Format: ManifestFormat, Name: req.Name, Namespace: req.Namespace, Selector: sel.String(),
		Driver: req.DriverName, SecretRef: req.SecretRef, Tags: req.Tags, Started: start.UTC(),
	}

	// Metadata and config first: they are small, and the data's cut comes
	// right after them.
	progress(Progress{Phase: "resources", Message: fmt.Sprintf("capturing the objects of %s (selector %q)", req.Namespace, sel.String())})
	objs, secrets, nsObj, warns, err := e.capture(ctx, &req, sel)
	if err != nil {
		return nil, err
	}
	m.Warnings = append(m.Warnings, warns...)
	m.NamespaceObject = string(nsObj)
	m.Layers.Metadata = !req.SkipMetadata
	m.Layers.Config = !req.SkipConfig

	// The repository reads Metadata when the snapshot is committed; what
	// listing shows (level, cut) is known only then, so md is filled in
	// below (TestMetadataAtCommit guards this).
	md := map[string]string{}
	w, err := e.repo.NewSnapshot(ctx, repo.BackupOptions{Tags: append([]string{TagBackup}, req.Tags...), Metadata: md})
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	for _, c := range objs {
		name := resourcePrefix + c.kind.Resource + "/" + c.name + ".json"
		if err := w.AddObject(ctx, name, bytes.NewReader(c.data)); err != nil {
			return nil, err
		}
		m.Resources = append(m.Resources, ResourceEntry{Resource: c.kind.Resource, Kind: c.kind.Kind, Name: c.name, Object: name})
	}
	for _, c := range secrets {
		name := secretPrefix + c.name + ".sealed"
		if err := w.AddObject(ctx, name, bytes.NewReader(e.sealer.seal(name, c.data))); err != nil {
			return nil, err
		}
		m.Resources = append(m.Resources, ResourceEntry{Resource: c.kind.Resource, Kind: c.kind.Kind, Name: c.name, Object: name, Sealed: true})
	}
	progress(Progress{Phase: "resources", Done: true, Message: fmt.Sprintf("%d objects captured (%d secrets, sealed)", len(objs)+len(secrets), len(secrets))})

	// Data.
	cut := e.cutNow()
	var pvcSnaps []repo.ID
	ok := false
	defer func() {
		if !ok {
			e.dropSnapshots(pvcSnaps)
		}
	}()
	if mode != DataNone {
		driver := req.Driver
		if driver == nil && req.DriverName != "" {
			d, err := e.connect(ctx, req.DriverName, req.Namespace, sel, req.SecretRef)
			if err != nil {
				return nil, fmt.Errorf("backup: connect to the app: %w", err)
			}
			defer d.Close()
			driver = d
		}
		native, _ := driver.(apps.NativeBackuper)
		switch {
		case mode == DataNative && native == nil:
			return nil, fmt.Errorf("backup: %w (driver %q); use --data pvc for a copy of its volumes", ErrNoNativeBackup, req.DriverName)
		case native != nil && mode != DataPVC:
			entry, c, err := e.nativeBackup(ctx, native, w, req.AppOptions, progress)
			if err != nil {
				return nil, err
			}
			cut = c
			if warn := sumData(ctx, driver, &entry, "", entry.Position, progress); warn != "" {
				m.Warnings = append(m.Warnings, warn)
			}
			m.Data = append(m.Data, entry)
		default:
			entries, c, ids, warns, err := e.pvcSnapshots(ctx, &req, sel, driver, progress)
			pvcSnaps = ids
			if mode == DataAuto && errors.Is(err, errNoClaims) {
				m.Warnings = append(m.Warnings, "the app has no driver and no bound PVC: no data captured, config and metadata only")
				break
			}
			if err != nil {
				return nil, err
			}
			cut = c
			m.Data = append(m.Data, entries...)
			m.Warnings = append(m.Warnings, warns...)
		}
	}
	m.Cut, m.CutAt, m.CutUnknown = cut.wall.UTC(), cut.at, cut.unknown
	if cut.unknown != "" {
		m.CutAt = clock.Instant{} // no instant the data is consistent to
	} else if req.Probes != nil && len(m.Data) > 0 {
		if p := req.Probes(m.CutAt); p != nil {
			p.Acked = slices.Sorted(slices.Values(p.Acked))
			m.Probes = p
		}
	}
	m.Layers.Data = weakest(m.Data)
	m.Level = overallLevel(m.Layers, len(m.Data) > 0)
	m.FinishedAt = e.clock()
	m.Finished = e.now().UTC()
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := w.AddObject(ctx, manifestObject, bytes.NewReader(mb)); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{
		metaName: req.Name, metaNamespace: req.Namespace, metaSelector: sel.String(), metaDriver: req.DriverName,
		metaLevel: string(m.Level), metaCut: m.Cut.Format(time.RFC3339Nano),
		metaCutAt: formatInstant(m.CutAt), metaFinishedAt: formatInstant(m.FinishedAt), metaCutUnknown: m.CutUnknown,
	} {
		if v != "" {
			md[k] = v
		}
	}
	progress(Progress{Phase: "commit", Message: "committing the backup"})
	snap, err := w.Commit(ctx)
	if err != nil {
		return nil, err
	}
	ok = true
	res := &Result{ID: snap.ID.String(), Manifest: m, NewBytes: snap.Summary.NewBytes, StoredBytes: snap.Summary.StoredBytes, Bytes: snap.Summary.Bytes, Duration: e.now().Sub(start)}
	progress(Progress{Phase: "commit", Done: true, Message: fmt.Sprintf("backup %s committed: level %s", snap.ID.Short(), m.Level)})
	return res, nil
}

// sumData records the driver's checksum of the data under prefix at point
// at (apps.Verifier) on the entry, for a drill to compare the restored
// copy with; a driver without one records nothing. A sum that fails is a
// warning, not a failed backup: the data itself is safe.
func sumData(ctx context.Context, d apps.Driver, entry *DataEntry, prefix, at string, progress func(Progress)) (warning string) {
	v, ok := d.(apps.Verifier)
	if !ok {
		return ""
	}
	progress(Progress{Phase: "checksum", Message: "summing the data for restore drills (key count and hash)"})
	sum, err := v.Checksum(ctx, prefix, at)
	if err != nil {
		return fmt.Sprintf("no checksum recorded, so a drill cannot compare the data: %v", err)
	}
	entry.Checksum = &sum
	progress(Progress{Phase: "checksum", Done: true, Message: fmt.Sprintf("%d records, %s", sum.Records, sum.Hash)})
	return ""
}

// dropSnapshots deletes the volume snapshots of a backup that failed.
func (e *Engine) dropSnapshots(ids []repo.ID) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range ids {
		_ = e.repo.Delete(ctx, id)
	}
}

// capture lists the app's objects, runs the backup actions on them, and
// returns them encoded: Secrets apart, and the namespace object.
func (e *Engine) capture(ctx context.Context, req *Request, sel labels.Selector) (objs, secrets []captured, nsObj []byte, warns []string, err error) {
	if ns, err := e.kube.CoreV1().Namespaces().Get(ctx, req.Namespace, metav1.GetOptions{}); err == nil {
		u, err := toUnstructured(ns, kindInfo{Kind: "Namespace", APIVersion: "v1"})
		if err != nil {
			return nil, nil, nil, nil, err
		}
		StripClusterFields(u)
		unstructured.RemoveNestedField(u.Object, "spec")
		nsObj, _ = json.Marshal(u.Object)
	} else {
		return nil, nil, nil, nil, fmt.Errorf("backup: namespace %s: %w", req.Namespace, err)
	}
	// State the running app keeps for itself is not the app's to restore.
	var runtimeState func(*unstructured.Unstructured) bool
	if app, err := apps.Lookup(req.DriverName); err == nil {
		runtimeState = app.RuntimeState
	}
	for _, k := range kinds {
		if (k.Layer == layerConfig && req.SkipConfig) || (k.Layer == layerMetadata && req.SkipMetadata) {
			continue
		}
		list, err := k.list(ctx, e.kube, req.Namespace, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("backup: list %s in %s: %w", k.Resource, req.Namespace, err)
		}
		for _, obj := range list {
			u, err := toUnstructured(obj, k)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			if u.GetDeletionTimestamp() != nil || (runtimeState != nil && runtimeState(u)) {
				continue
			}
			name := u.GetName()
			out, w, err := runBackupActions(ctx, k.Resource, u, req)
			warns = append(warns, w...)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			if out == nil {
				continue
			}
			b, err := json.Marshal(out.Object)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			c := captured{kind: k, name: name, data: b}
			if k.Resource == ResSecrets {
				secrets = append(secrets, c)
			} else {
				objs = append(objs, c)
			}
		}
	}
	return objs, secrets, nsObj, warns, nil
}

// nativeBackup has the driver back its app's data up its own way
// (apps.NativeBackuper), into w; the cut is where the driver said
// (BackupWriter.Cut).
func (e *Engine) nativeBackup(ctx context.Context, nb apps.NativeBackuper, w *repo.SnapshotWriter, opts any, progress func(Progress)) (DataEntry, cutPoint, error) {
	bw := &backupWriter{e: e, w: w, progress: progress}
	nd, err := nb.NativeBackup(ctx, bw, opts)
	if err != nil {
		return DataEntry{}, cutPoint{}, err
	}
	if !bw.cut {
		return DataEntry{}, cutPoint{}, fmt.Errorf("backup: the app driver's native backup (%s) marked no consistent cut", nd.Kind)
	}
	if nd.Kind == "" || nd.Kind == DataPVCCopy {
		return DataEntry{}, cutPoint{}, fmt.Errorf("backup: the app driver's native backup named its data %q: a driver names its own kind", nd.Kind)
	}
	for _, o := range nd.Objects {
		if !slices.Contains(bw.objects, o) {
			return DataEntry{}, cutPoint{}, fmt.Errorf("backup: the app driver's native backup names object %q it did not add", o)
		}
	}
	if nd.Size == 0 {
		nd.Size = bw.bytes
	}
	return DataEntry{NativeData: nd, Level: LevelDB}, bw.at, nil
}

// backupWriter is the backup being written, as a driver's NativeBackup
// sees it (apps.BackupWriter).
type backupWriter struct {
	e        *Engine
	w        *repo.SnapshotWriter
	progress func(Progress)
	objects  []string
	bytes    int64
	cut      bool
	at       cutPoint
}

func (b *backupWriter) AddObject(ctx context.Context, name string, r io.Reader) error {
	if strings.HasPrefix(name, resourcePrefix) || strings.HasPrefix(name, secretPrefix) || name == manifestObject || slices.Contains(b.objects, name) {
		return fmt.Errorf("backup: object name %q is taken (the engine's own, or added before): a driver stores its data under names of its own, each once", name)
	}
	cr := &countReader{r: r}
	if err := b.w.AddObject(ctx, name, cr); err != nil {
		return err
	}
	b.objects = append(b.objects, name)
	b.bytes += cr.n
	return nil
}

// Cut records the cut at the call; a later call (the copy retried on
// another member) moves it.
func (b *backupWriter) Cut() { b.cut, b.at = true, b.e.cutNow() }

func (b *backupWriter) Progress(phase string, bytes, total int64, done bool) {
	name, msg, _ := strings.Cut(phase, ": ")
	b.progress(Progress{Phase: name, Message: msg, Bytes: bytes, Total: total, Done: done})
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// pvcSnapshots copies every bound PVC of the app through data-mover pods,
// frozen around the copies when asked and the driver can freeze.
func (e *Engine) pvcSnapshots(ctx context.Context, req *Request, sel labels.Selector, d apps.Driver, progress func(Progress)) ([]DataEntry, cutPoint, []repo.ID, []string, error) {
	pvcs, err := e.kube.CoreV1().PersistentVolumeClaims(req.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, cutPoint{}, nil, nil, fmt.Errorf("backup: list PVCs: %w", err)
	}
	var claims []corev1.PersistentVolumeClaim
	var warns []string
	for _, p := range pvcs.Items {
		if p.Status.Phase != corev1.ClaimBound || p.DeletionTimestamp != nil {
			warns = append(warns, fmt.Sprintf("pvc %s is %s: not copied", p.Name, p.Status.Phase))
			continue
		}
		claims = append(claims, p)
	}
	sort.Slice(claims, func(i, j int) bool { return claims[i].Name < claims[j].Name })
	if len(claims) == 0 {
		return nil, e.cutNow(), nil, warns, fmt.Errorf("backup: %w (selector %q); use --data none for config and metadata only", errNoClaims, sel.String())
	}
	level := LevelCrash
	// A copy made file by file while the app runs is consistent to no
	// single instant: each file is as it was when it was read. Claiming
	// one would report the app's torn state as lost writes.
	cut := e.cutNow()
	cut.unknown = crashCopyUnknown
	if fr, ok := d.(Freezer); ok && req.Freeze {
		var targets []string // the driver's default
		if ft, ok := req.AppOptions.(interface{ FreezeTargets() []string }); ok {
			targets = ft.FreezeTargets()
		}
		progress(Progress{Phase: "freeze", Message: "freezing the app"})
		unfreeze, err := fr.Freeze(ctx, targets)
		if err != nil {
			return nil, cutPoint{}, nil, warns, fmt.Errorf("backup: freeze: %w", err)
		}
		defer unfreeze(context.WithoutCancel(ctx))
		level, cut = LevelApp, e.cutNow()
	} else {
		warns = append(warns, "volumes copied file by file while the app ran (crash level): the app must recover them as after a power cut")
	}
	tok := token()
	progress(Progress{Phase: "volumes", Message: fmt.Sprintf("copying %d volumes with data-mover pods", len(claims))})
	jobs := make([]moverJob, len(claims))
	for i, c := range claims {
		jobs[i] = e.pvcBackupJob(ctx, req.Namespace, c, tok)
	}
	if err := e.runMovers(ctx, req.Namespace, tok, jobs, progress); err != nil {
		return nil, cutPoint{}, e.findPVCSnapshots(tok), warns, err
	}
	snaps, err := e.repo.List(ctx)
	if err != nil {
		return nil, cutPoint{}, e.findPVCSnapshots(tok), warns, err
	}
	var entries []DataEntry
	var ids []repo.ID
	for _, c := range claims {
		i := slices.IndexFunc(snaps, func(s *repo.Snapshot) bool {
			return s.HasTag(mover.TagPVCData) && s.Metadata[mover.MetaToken] == tok && s.Metadata[mover.MetaTarget] == c.Name
		})
		if i < 0 {
			return nil, cutPoint{}, ids, warns, fmt.Errorf("%w: the mover of pvc %s finished but its snapshot is not in the repository", ErrMover, c.Name)
		}
		ids = append(ids, snaps[i].ID)
		entries = append(entries, DataEntry{NativeData: apps.NativeData{Kind: DataPVCCopy, Size: snaps[i].Summary.Bytes}, Level: level, PVC: c.Name, Snapshot: snaps[i].ID.String()})
	}
	return entries, cut, ids, warns, nil
}

// crashCopyUnknown is why a crash-level volume copy has no cut.
const crashCopyUnknown = "the volumes were copied file by file while the app ran (crash level): the copy is consistent to no single instant, so no write can be said to be lost by the backup; freeze the app (--freeze) or use an app-native backup for a cut"

// cutPoint is where a backup's consistent cut is: its wall-clock time, for
// people, and the same instant on the host's monotonic clock, for a game
// day on this host to place it; unknown says why there is none.
type cutPoint struct {
	wall    time.Time
	at      clock.Instant
	unknown string
}

// cutNow reads both clocks at the cut.
func (e *Engine) cutNow() cutPoint { return cutPoint{wall: e.now(), at: e.clock()} }

// errNoClaims: a volume copy of an app that has no bound PVC.
var errNoClaims = errors.New("the app has no bound PVC to copy")

// Freezer is a driver that can block and flush writes for a consistent
// cut (Elasticsearch: a write block and a flush of the indices); no
// targets means the driver's own (its probe index).
type Freezer interface {
	Freeze(ctx context.Context, targets []string) (unfreeze func(context.Context) error, err error)
}
