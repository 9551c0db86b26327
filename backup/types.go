package backup

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
)

// Level is the consistency a backup achieved, from weakest to strongest.
type Level string

// The consistency levels. Each backup records the one it achieved, and so
// does each piece of data in it.
const (
	// LevelNone: no application data was captured (config and metadata
	// only, or nothing).
	LevelNone Level = "none"
	// LevelCrash: volume contents copied while the app ran, as after a
	// power cut; the app must recover them as it would after a crash.
	LevelCrash Level = "crash"
	// LevelApp: the app was frozen (writes blocked and flushed), the data
	// cut, then the app unfrozen.
	LevelApp Level = "app"
	// LevelDB: the database's own snapshot or dump (an etcd snapshot, an
	// Elasticsearch snapshot).
	LevelDB Level = "db"
	// LevelSystem: every layer together — the data at app or db level, and
	// the app's config and metadata, in one backup.
	LevelSystem Level = "system"
)

var levelRank = map[Level]int{LevelNone: 0, LevelCrash: 1, LevelApp: 2, LevelDB: 3, LevelSystem: 4}

// AtLeast reports whether l is as strong as o.
func (l Level) AtLeast(o Level) bool { return levelRank[l] >= levelRank[o] }

// ParseLevel parses a level name.
func ParseLevel(s string) (Level, error) {
	l := Level(s)
	if _, ok := levelRank[l]; !ok || s == "" {
		return "", fmt.Errorf("consistency level %q: want one of none, crash, app, db, system", s)
	}
	return l, nil
}

// DataMode says how a backup captures the app's data.
type DataMode string

// Data modes.
const (
	// DataAuto: app-native when a driver can (apps.NativeBackuper), else
	// a copy of every PVC of the app.
	DataAuto DataMode = "auto"
	// DataNative: only the app-native way; an app without one is an error.
	DataNative DataMode = "native"
	// DataPVC: a copy of every PVC of the app, read by a data-mover pod.
	DataPVC DataMode = "pvc"
	// DataNone: config and metadata only.
	DataNone DataMode = "none"
)

// ParseDataMode parses a data mode name ("" is DataAuto).
func ParseDataMode(s string) (DataMode, error) {
	switch m := DataMode(s); m {
	case "":
		return DataAuto, nil
	case DataAuto, DataNative, DataPVC, DataNone:
		return m, nil
	}
	return "", fmt.Errorf("data mode %q: want auto, native, pvc or none", s)
}

// Request is one backup to take, resolved: which app, how. Build it with
// the app's namespace and selector; the engine does the rest.
type Request struct {
	// Name is a label for people ("before-human-error"); optional.
	Name string
	// Namespace of the app.
	Namespace string
	// Selector chooses the app's objects within Namespace; nil or empty
	// means every object of the namespace.
	Selector labels.Selector
	// DriverName is the app driver ("etcd", "elasticsearch") or "" for an
	// app rebound has no driver for.
	DriverName string
	// SecretRef names a Secret of Namespace with the driver's credentials
	// (keys username, password, ca.crt), as a scenario's
	// endpoints.secretRef, for the engine to connect with; recorded in
	// the manifest for the restore.
	SecretRef string
	// Driver is the app, connected; when nil and DriverName is set, the
	// engine connects to the app's pods by their IPs (which works on the
	// lab and from inside a cluster).
	Driver apps.Driver
	// Data says how data is captured (default DataAuto).
	Data DataMode
	// SkipConfig leaves out ConfigMaps and Secrets; SkipMetadata leaves out
	// the workload, service, PVC, PDB and RBAC objects.
	SkipConfig, SkipMetadata bool
	// Freeze, for DataPVC: freeze the app (when its driver can) around the
	// volume copies, for app-level consistency.
	Freeze bool
	// AppOptions is what the app's native backup needs besides its
	// connection, built with the app's own options type
	// (elasticsearch.BackupOptions), or nil; the engine passes it to the
	// driver's NativeBackup as it is. When it has a FreezeTargets method,
	// Freeze freezes those targets (an Elasticsearch backup's indices).
	AppOptions any
	// Tags are stored with the backup (list and retention filter on them).
	Tags []string
	// Probes, when set, is asked once the data's cut is known which
	// write-probe ids were acknowledged before it; the manifest records
	// them (Manifest.Probes) for a drill to check. It is not asked when
	// the cut is unknown (a crash-level copy): no id can be said to be in
	// such a backup.
	Probes func(cut clock.Instant) *ProbeRecord
	// Progress, when set, receives progress reports from the calling
	// goroutine. It must return quickly.
	Progress func(Progress)
}

// Progress is a report on a long operation.
type Progress struct {
	// Phase names what is being done ("etcd snapshot", "resources",
	// "restore etcd-0").
	Phase string
	// Bytes done of Total (0 when unknown), for phases that move bytes;
	// Done is set on the last report of a phase.
	Bytes, Total int64
	Done         bool
	// Message is a line for people, on phase changes.
	Message string
}

// Result is a backup that was committed.
type Result struct {
	ID       string // repository snapshot id, 64 hex digits
	Manifest *Manifest
	// Stored bytes the backup added to the repository (compressed and
	// encrypted), and what it holds.
	NewBytes, StoredBytes, Bytes int64
	Duration                     time.Duration
}

// RestoreRequest is one restore to run.
type RestoreRequest struct {
	// Backup is the backup id (a prefix of at least 4 hex digits, or
	// "latest").
	Backup string
	// Namespace is where the app is restored; empty means the namespace
	// it was backed up from (a roll back).
	Namespace string
	// Driver, when set, is used to wait until the app is healthy (the
	// runner's, which follows pod addresses); else the engine connects one
	// by pod IPs when the backup names a driver.
	Driver apps.Driver
	// Timeout bounds the wait for Ready and healthy (default 10m).
	Timeout time.Duration
	// AppOptions are the restore's options for the app, built with the
	// app's own type (elasticsearch.RestoreRename: indices under new
	// names), or nil; the app's restore plan gets them
	// (apps.RestoreInput.Options).
	AppOptions any
	// SkipVerify skips reading every object of the backup before the
	// cluster is touched. Without it, a damaged backup is refused before
	// anything changes.
	SkipVerify bool
	Progress   func(Progress)
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	ID        string
	Namespace string
	Created   []string // kind/name of the objects created
	Updated   []string // kind/name of the objects replaced
	Warnings  []string
	Duration  time.Duration
}

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNoNativeBackup: DataNative was asked for an app whose driver has
	// no app-native backup.
	ErrNoNativeBackup = errors.New("the app has no app-native backup")
	// ErrNotFound: no backup with that id.
	ErrNotFound = errors.New("backup not found")
	// ErrMover: a data-mover pod failed or did not finish.
	ErrMover = errors.New("data mover failed")
	// ErrNotHealthy: the restored app did not become Ready and healthy in time.
	ErrNotHealthy = errors.New("restored app not healthy")
)
