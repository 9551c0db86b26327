package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Backup references of a Drill besides a backup id.
const (
	// DrillBackupLatest drills the newest backup in the repository.
	DrillBackupLatest = "latest"
	// DrillBackupTake takes a new backup of spec.target and drills it.
	DrillBackupTake = "take"
)

// Defaults of a Drill, also named in the field comments.
const (
	DefaultDrillBackup  = DrillBackupLatest
	DefaultDrillTimeout = 10 * time.Minute
	DefaultDrillProbes  = 100
)

// Drill is a restore drill written down: restore a backup into a scratch
// namespace, verify the copy (its health, the write-probe ids the backup
// recorded, the data's checksum), measure the time to a verified copy, and
// delete the scratch namespace. `rebound run -f` runs it beside the fault
// scenarios of the same files and reports it like one; it is reported, not
// ranked on the ladder.
type Drill struct {
	// APIVersion is rebound.dev/v1alpha1 and Kind is Drill.
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. Only name, labels and annotations are used;
	// a Drill is not namespaced (spec.target.namespace is the app's,
	// spec.scratchNamespace the copy's).
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the drill.
	Spec DrillSpec `json:"spec"`
}

// DrillSpec describes one restore drill.
type DrillSpec struct {
	// Description tells a person in a sentence or two what the drill
	// proves; reports show it.
	// +optional
	Description string `json:"description,omitempty"`

	// Target is the app whose backup is drilled. Required with backup:
	// take (the drill writes probe ids into it and backs it up); with
	// latest or an id it is optional and only documents the app. A drill
	// acts on the run's cluster: target.kubeconfig and target.context are
	// refused (give rebound run --kubeconfig/--context), and so are
	// endpoints other than the default, since a drill reaches the app as
	// rebound drill does.
	// +optional
	Target *Target `json:"target,omitempty"`

	// Backup is the backup to drill: latest (the newest in the
	// repository), take (take a new one of spec.target first), or a
	// backup id or a prefix of one, as rebound backup list shows them.
	// Defaults to latest.
	// +optional
	Backup string `json:"backup,omitempty"`

	// ScratchNamespace is the namespace the copy is restored into. It must
	// not exist (unless reuseNamespace) and must be allowed with rebound
	// run --allow-namespace. Empty makes one up: rebound-drill-<id>.
	// +optional
	ScratchNamespace string `json:"scratchNamespace,omitempty"`

	// ReuseNamespace restores into scratchNamespace, which must exist and
	// hold no workloads, no claims and no object of the backup; afterwards
	// the drill deletes the restored objects and claims, not the
	// namespace. For credentials that may not create namespaces.
	// +optional
	ReuseNamespace bool `json:"reuseNamespace,omitempty"`

	// Keep leaves the scratch namespace (with reuseNamespace: the restored
	// objects) for inspection instead of deleting it.
	// +optional
	Keep bool `json:"keep,omitempty"`

	// Timeout bounds each wait of the drill: each restore step, the
	// scratch namespace gone. Defaults to 10m.
	// +optional
	Timeout metav1.Duration `json:"timeout,omitzero"`

	// Probes is how many write-probe ids the drill writes into the app
	// before it takes the backup; used with backup: take only. Defaults
	// to 100.
	// +optional
	Probes int `json:"probes,omitempty"`

	// Targets are what the drill is judged against besides its checks.
	// +optional
	Targets DrillTargets `json:"targets,omitzero"`
}

// DrillTargets are a drill's targets.
type DrillTargets struct {
	// RTO is the longest acceptable time from the restore's start to a
	// verified, serving copy. Unset means no target: the time is measured
	// and reported, and only the checks decide the verdict.
	// +optional
	RTO *metav1.Duration `json:"rto,omitempty"`
}

// SetDefaultsDrill fills in the defaults of unset fields.
func SetDefaultsDrill(d *Drill) {
	spec := &d.Spec
	if spec.Backup == "" {
		spec.Backup = DefaultDrillBackup
	}
	if spec.Target != nil && spec.Target.Endpoints.Mode == "" {
		spec.Target.Endpoints.Mode = DefaultEndpointMode
	}
	setDuration(&spec.Timeout, DefaultDrillTimeout)
	if spec.Probes == 0 {
		spec.Probes = DefaultDrillProbes
	}
}
