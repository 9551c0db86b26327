package elasticsearch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/apps"
)

// SnapshotKind is the kind of the data an Elasticsearch backup records
// (apps.NativeData.Kind).
const SnapshotKind = "elasticsearch-snapshot"

// BackupOptions is what an Elasticsearch backup needs besides the
// connection (the opts of NativeBackup): the snapshot repository the
// snapshot goes to and the indices it holds (default: the driver's probe
// index). With Type (fs, s3 or azure) and Settings, rebound registers the
// repository; without, it must be registered already. It is verified
// either way.
type BackupOptions struct {
	Repository string
	Type       string
	Settings   map[string]string
	Indices    []string
}

// FreezeTargets are the indices a volume copy of the app freezes
// (backup.Request.Freeze); none means the probe index.
func (o BackupOptions) FreezeTargets() []string { return o.Indices }

// RestoreRename is the option of a restore (apps.RestoreInput.Options):
// restore indices under new names (Elasticsearch's rename_pattern →
// rename_replacement) instead of closing and replacing the existing ones.
type RestoreRename struct {
	Pattern, Replacement string
}

// snapshotParams is what a backup's manifest records of a snapshot
// (apps.NativeData.Params): where it lives in the cluster's own snapshot
// repository, and how that repository is registered (type and settings as
// Elasticsearch reports them; credentials live in Elasticsearch's
// keystore, never in settings). The names are those of the manifests of
// rebound before the driver seam, which decode into these.
type snapshotParams struct {
	Repository         string         `json:"esRepository"`
	RepositoryType     string         `json:"esRepositoryType,omitempty"`
	RepositorySettings map[string]any `json:"esRepositorySettings,omitempty"`
	Snapshot           string         `json:"esSnapshot"`
	Indices            []string       `json:"indices,omitempty"`
}

// snapshotter is what the native backup and restore ask of a driver: the
// Driver, or a stand-in for one in tests.
type snapshotter interface {
	PrepareRepository(ctx context.Context, name string, want *RepositoryInfo) (RepositoryInfo, error)
	Repository(ctx context.Context, name string) (info RepositoryInfo, ok bool, err error)
	VerifyRepository(ctx context.Context, name string) error
	ConsistentSnapshot(ctx context.Context, repo, snapshot string, indices []string) (SnapshotInfo, error)
	RestoreSnapshot(ctx context.Context, repo, snapshot string, opts RestoreOptions) (RestoreInfo, error)
	Index() string
}

var (
	_ snapshotter         = (*Driver)(nil)
	_ apps.NativeBackuper = (*Driver)(nil)
)

// NativeBackup takes an Elasticsearch snapshot of the indices opts (a
// BackupOptions) names into the cluster's snapshot repository, frozen
// (write block and flush) around it. The repository is registered first
// when opts says how, and verified on every node either way. The data
// stays in that repository; the backup records where, and how the
// repository is registered, so that a restore into another cluster can
// register the same storage.
func (d *Driver) NativeBackup(ctx context.Context, w apps.BackupWriter, opts any) (apps.NativeData, error) {
	return nativeBackup(ctx, d, w, opts, time.Now())
}

func nativeBackup(ctx context.Context, es snapshotter, w apps.BackupWriter, opts any, now time.Time) (apps.NativeData, error) {
	var o BackupOptions
	switch v := opts.(type) {
	case BackupOptions:
		o = v
	case *BackupOptions:
		if v != nil {
			o = *v
		}
	case nil:
	default:
		return apps.NativeData{}, fmt.Errorf("elasticsearch backup: options of type %T, want elasticsearch.BackupOptions", opts)
	}
	if o.Repository == "" {
		return apps.NativeData{}, errors.New("elasticsearch backup: no snapshot repository: name one with --es-repository, and give --es-repository-type (fs, s3 or azure) and its settings for rebound to register it")
	}
	var want *RepositoryInfo
	if o.Type != "" {
		want = &RepositoryInfo{Type: o.Type, Settings: map[string]any{}}
		for k, v := range o.Settings {
			want.Settings[k] = v
		}
	}
	w.Progress("elasticsearch snapshot: preparing snapshot repository "+o.Repository, 0, 0, false)
	reg, err := es.PrepareRepository(ctx, o.Repository, want)
	if err != nil {
		return apps.NativeData{}, err
	}
	indices := o.Indices
	if len(indices) == 0 {
		indices = []string{es.Index()}
	}
	name := "rebound-" + strings.ToLower(now.UTC().Format("20060102-150405")) + "-" + token()
	w.Progress(fmt.Sprintf("elasticsearch snapshot: %s of %v into repository %s", name, indices, o.Repository), 0, 0, false)
	w.Cut()
	info, err := es.ConsistentSnapshot(ctx, o.Repository, name, indices)
	if err != nil {
		return apps.NativeData{}, err
	}
	w.Progress("elasticsearch snapshot", 0, 0, true)
	params, err := json.Marshal(snapshotParams{Repository: o.Repository, RepositoryType: reg.Type,
		RepositorySettings: reg.Settings, Snapshot: info.Name, Indices: info.Indices})
	if err != nil {
		return apps.NativeData{}, err
	}
	return apps.NativeData{Kind: SnapshotKind, Position: o.Repository + "/" + info.Name, Params: params}, nil
}

// PlanRestore is the Elasticsearch RestorePlanner: no movers (the data
// lives in the snapshot repository, not in the volumes), and once the
// cluster is Ready the snapshot is restored: under new names when
// in.Options (a RestoreRename) asks, else over the app's indices, closed
// first. A cluster that does not know the snapshot repository (a new
// cluster) gets it registered read-only as the backup recorded it, so it
// reads the same storage and cannot write to it while the cluster that
// made it may still do.
func PlanRestore(_ context.Context, in apps.RestoreInput) (*apps.RestorePlan, error) {
	if in.Data.Kind != SnapshotKind {
		return nil, fmt.Errorf("elasticsearch restore: data of kind %q: this driver restores %s", in.Data.Kind, SnapshotKind)
	}
	var p snapshotParams
	if err := json.Unmarshal(in.Data.Params, &p); err != nil {
		return nil, fmt.Errorf("elasticsearch restore: the backup's snapshot record: %w", err)
	}
	if p.Repository == "" || p.Snapshot == "" {
		return nil, errors.New("elasticsearch restore: the backup records no snapshot repository or snapshot name")
	}
	var rename RestoreRename
	switch v := in.Options.(type) {
	case RestoreRename:
		rename = v
	case *RestoreRename:
		if v != nil {
			rename = *v
		}
	case nil:
	default:
		return nil, fmt.Errorf("elasticsearch restore: options of type %T, want elasticsearch.RestoreRename", in.Options)
	}
	if (rename.Pattern == "") != (rename.Replacement == "") {
		return nil, errors.New("elasticsearch restore: give both a rename pattern and its replacement, or neither")
	}
	return &apps.RestorePlan{AfterReady: func(ctx context.Context, d apps.Driver, progress func(string)) error {
		es, ok := d.(snapshotter)
		if !ok {
			return fmt.Errorf("the backup holds an Elasticsearch snapshot, but the app's driver (%T) is not Elasticsearch", d)
		}
		return restoreSnapshot(ctx, es, p, rename, progress)
	}}, nil
}

func restoreSnapshot(ctx context.Context, es snapshotter, p snapshotParams, rename RestoreRename, progress func(string)) error {
	_, known, err := es.Repository(ctx, p.Repository)
	if err != nil {
		return err
	}
	switch {
	case known:
		err = es.VerifyRepository(ctx, p.Repository)
	case p.RepositoryType == "":
		return fmt.Errorf("snapshot repository %q is not registered in the target cluster, and the backup does not record how it was registered: register it there (read-only) and restore again", p.Repository)
	default:
		want := &RepositoryInfo{Type: p.RepositoryType, Settings: maps.Clone(p.RepositorySettings)}
		if want.Settings == nil {
			want.Settings = map[string]any{}
		}
		want.Settings["readonly"] = true
		progress(fmt.Sprintf("registering snapshot repository %s (%s, read-only) in the target cluster", p.Repository, p.RepositoryType))
		_, err = es.PrepareRepository(ctx, p.Repository, want)
	}
	if err != nil {
		return err
	}
	opts := RestoreOptions{Indices: p.Indices, Replace: ReplaceClose}
	if rename.Pattern != "" {
		opts = RestoreOptions{Indices: p.Indices, RenamePattern: rename.Pattern, RenameReplacement: rename.Replacement}
	}
	progress(fmt.Sprintf("restoring snapshot %s from repository %s", p.Snapshot, p.Repository))
	info, err := es.RestoreSnapshot(ctx, p.Repository, p.Snapshot, opts)
	if err != nil {
		return err
	}
	progress("restored indices " + fmt.Sprint(info.Indices) + " (" + strconv.Itoa(info.Shards.Successful) + " shards)")
	return nil
}

func token() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
