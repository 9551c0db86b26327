package apps

import (
	"context"
	"encoding/json"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// NativeBackuper is a driver that backs its app's data up the app's own
// way, consistent at the database level (an etcd snapshot, an
// Elasticsearch snapshot, a PostgreSQL base backup). The backup engine
// calls it through this interface only; what the app needs besides its
// connection comes in opts, which the caller builds with the app's own
// options type (elasticsearch.BackupOptions) or leaves nil.
type NativeBackuper interface {
	NativeBackup(ctx context.Context, w BackupWriter, opts any) (NativeData, error)
}

// BackupWriter is the backup being written, as a driver sees it.
type BackupWriter interface {
	// AddObject stores r under name in the backup (deduplicated,
	// compressed, encrypted). A failed AddObject leaves the backup
	// unusable: the driver returns the error.
	AddObject(ctx context.Context, name string, r io.Reader) error
	// Cut marks now as the backup's consistent cut: every write the app
	// acknowledged before this call is in the data. Call it once per
	// copy; a copy retried elsewhere (another member) calls it again, and
	// the last call counts. A NativeBackup that never calls it fails.
	Cut()
	// Progress reports a phase's bytes, for people. A phase may carry a
	// line for people after ": " ("etcd snapshot: from m-0, revision 9"),
	// shown once; the phase is the text before it.
	Progress(phase string, bytes, total int64, done bool)
}

// NativeData is what a backup's manifest records of the data a
// NativeBackup wrote.
type NativeData struct {
	// Kind names the data ("etcd-snapshot", "postgres-basebackup"); the
	// restore of a backup finds the app by the manifest's driver name.
	Kind string `json:"kind"`
	// Objects are the names given to AddObject; Size their bytes.
	Objects []string `json:"objects,omitempty"`
	Size    int64    `json:"size,omitempty"`
	// Endpoint is the member the copy came from.
	Endpoint string `json:"endpoint,omitempty"`
	// Position is where in the app's history the copy stands (an etcd
	// revision, a PostgreSQL LSN), for people and drills.
	Position string `json:"position,omitempty"`
	// Params is what the app's restore needs besides the objects (its own
	// JSON: an Elasticsearch repository and snapshot, a timeline).
	Params json.RawMessage `json:"params,omitempty"`
}

// RestorePlanner plans the restore of native data before anything in the
// cluster changes: an error refuses the restore with the cluster
// untouched.
type RestorePlanner func(ctx context.Context, in RestoreInput) (*RestorePlan, error)

// RestoreInput is what a restore plan is made from.
type RestoreInput struct {
	Data     NativeData
	BackupID string
	// Objects are the backup's objects as they will be applied, already
	// moved to the target namespace.
	Objects                          []*unstructured.Unstructured
	SourceNamespace, TargetNamespace string
	Kube                             kubernetes.Interface
	// Options are the restore's options for the app, built by the caller
	// with the app's own type (elasticsearch.RestoreRename) or nil.
	Options any
}

// RestorePlan is how the engine restores native data: movers write it
// into claims while the app's workloads are stopped; AfterReady runs once
// they are Ready again.
type RestorePlan struct {
	Movers []Mover
	// AfterReady, when set, runs with a driver connected to the restored
	// app once its workloads are Ready (Elasticsearch restores its
	// snapshot here); the engine then waits for full health.
	AfterReady func(ctx context.Context, d Driver, progress func(message string)) error
}

// Mover is one data-mover pod of a restore.
type Mover struct {
	// Target names what it works on ("etcd-0", "data-postgres-0").
	Target string
	// Claim is created when absent before the mover runs.
	Claim *corev1.PersistentVolumeClaim
	// Args are the `rebound mover` subcommand and its own flags; the
	// engine adds the repository, key, token and target flags.
	Args []string
	// Pod adjusts the pod the engine made: mounts the claim where the app
	// mounts it, the app container's environment and security context,
	// its scheduling.
	Pod func(p *corev1.Pod)
}
