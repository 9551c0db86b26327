package scenarios

import (
	"fmt"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Source is where an object was loaded from.
type Source struct {
	// File is the file name as given to Load, or a path in the embedded
	// catalog.
	File string
	// Line is the line of the document's first key; 0 when unknown.
	Line int
}

func (s Source) String() string {
	if s.Line == 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// Scenario is a validated scenario, the form the runner executes. Its fields
// mirror v1alpha1.ScenarioSpec with durations as time.Duration and every
// default filled in.
type Scenario struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Source      Source

	Description string
	Disruption  Disruption
	Target      Target
	// DR is the disaster-recovery cluster; nil when the scenario recovers
	// in the target's own cluster.
	DR            *DR
	Fault         Fault
	Probes        Probes
	Backup        Backup
	Recovery      Recovery
	Expect        Expect
	Abort         Abort
	PhaseTimeouts PhaseTimeouts
}

// GameDay returns the game day the scenario belongs to, from its
// rebound.dev/gameday label; empty when it belongs to none.
func (s *Scenario) GameDay() string { return s.Labels[GameDayLabel] }

// Disruption is a disruption type; see v1alpha1.Disruption.
type Disruption string

// Disruption types, from the smallest blast radius to the largest; Disruptions
// lists them in that order.
const (
	DisruptionNode       Disruption = "node"
	DisruptionZone       Disruption = "zone"
	DisruptionDisk       Disruption = "disk"
	DisruptionHumanError Disruption = "human-error"
	DisruptionRegion     Disruption = "region"
)

// Disruptions lists every disruption type, from the smallest blast radius to
// the largest; reports use this order.
var Disruptions = []Disruption{DisruptionNode, DisruptionZone, DisruptionDisk, DisruptionHumanError, DisruptionRegion}

// Target is the app a scenario acts on; see v1alpha1.Target.
type Target struct {
	Kubeconfig    string
	Context       string
	Namespace     string
	LabelSelector metav1.LabelSelector
	Driver        Driver
	Endpoints     Endpoints
}

// DR is the disaster-recovery cluster and namespace; see v1alpha1.DR.
type DR struct {
	Lab        string
	Kubeconfig string
	Context    string
	Namespace  string
}

// String names the DR cluster for people.
func (d *DR) String() string {
	switch {
	case d.Lab != "":
		return "lab " + d.Lab
	case d.Context != "":
		return "context " + d.Context
	}
	return "kubeconfig " + d.Kubeconfig
}

// Selector returns the label selector of the app's pods.
func (t *Target) Selector() (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(&t.LabelSelector)
}

// Driver names an app driver; see v1alpha1.Driver.
type Driver string

// Drivers.
const (
	DriverEtcd          Driver = "etcd"
	DriverElasticsearch Driver = "elasticsearch"
)

// Endpoints says how the app is reached; see v1alpha1.Endpoints.
type Endpoints struct {
	Mode EndpointMode
	URLs []string
	// Scheme is http or https for URLs rebound makes.
	Scheme string
	// Secret names the Secret with the app's credentials; empty for none.
	Secret string
	// TLS is how the app's server certificate is verified.
	TLS EndpointTLS
}

// EndpointTLS says how an app's server certificate is verified; see
// v1alpha1.TLS.
type EndpointTLS struct {
	// ServerName is the name the certificate must be valid for; empty
	// means the app's Service's (or, for urls, each URL's host).
	ServerName string
	// CASecret names a Secret whose ca.crt is trusted too; empty for none.
	CASecret string
}

// EndpointMode is how rebound connects to an app; see v1alpha1.EndpointMode.
type EndpointMode string

// Endpoint modes.
const (
	EndpointModeAuto        EndpointMode = "auto"
	EndpointModePodIP       EndpointMode = "pod-ip"
	EndpointModePortForward EndpointMode = "port-forward"
	EndpointModeURLs        EndpointMode = "urls"
)

// Fault is what a scenario does; see v1alpha1.Fault. Which selection field is
// set is told by Scope of the kind's FaultRule.
type Fault struct {
	Kind         FaultKind
	Via          Via
	Node         string
	NodeSelector map[string]string
	Zone         string
	Pod          string
	PVC          string
	Leader       bool
	// Duration is 0 when the fault stays until the run undoes it, or cannot
	// be undone.
	Duration time.Duration
	// StartAfter is how long after it is ordered (T0) the fault acts; 0
	// acts at once. Duration counts from when it acts.
	StartAfter   time.Duration
	Taint        *corev1.Taint
	AppDelete    *AppDelete
	IOChaos      *IOChaos
	PodChaos     *PodChaos
	Instructions string
}

// FaultKind names a fault; see v1alpha1.FaultKind for what each does.
type FaultKind string

// Fault kinds.
const (
	FaultNodeDrain         FaultKind = "node-drain"
	FaultNodeStop          FaultKind = "node-stop"
	FaultNodeFreeze        FaultKind = "node-freeze"
	FaultNodeTaint         FaultKind = "node-taint"
	FaultZoneStop          FaultKind = "zone-stop"
	FaultZoneFreeze        FaultKind = "zone-freeze"
	FaultZonePartition     FaultKind = "zone-partition"
	FaultPVCDelete         FaultKind = "pvc-delete"
	FaultPVDelete          FaultKind = "pv-delete"
	FaultDiskWipe          FaultKind = "disk-wipe"
	FaultDiskCorrupt       FaultKind = "disk-corrupt"
	FaultDiskReadonly      FaultKind = "disk-readonly"
	FaultDiskFill          FaultKind = "disk-fill"
	FaultIOChaos           FaultKind = "io-chaos"
	FaultNamespaceDelete   FaultKind = "namespace-delete"
	FaultStatefulSetDelete FaultKind = "statefulset-delete"
	FaultPVCDeleteAll      FaultKind = "pvc-delete-all"
	FaultScaleToZero       FaultKind = "scale-to-zero"
	FaultAppDelete         FaultKind = "app-delete"
	FaultPodKill           FaultKind = "pod-kill"
	FaultPause             FaultKind = "pause"
	FaultRegionLoss        FaultKind = "region-loss"
	FaultManual            FaultKind = "manual"
)

// Via is a mechanism that injects faults; see v1alpha1.Via.
type Via string

// Mechanisms.
const (
	ViaLab       Via = "lab"
	ViaChaosMesh Via = "chaos-mesh"
	ViaNative    Via = "native"
)

// AppDelete says what an app-delete fault deletes; see v1alpha1.AppDelete.
type AppDelete struct {
	Prefix string
	Index  string
}

// IOChaos describes an io-chaos fault; see v1alpha1.IOChaos.
type IOChaos struct {
	Action     chaosv1alpha1.IOChaosType
	Delay      time.Duration
	Errno      uint32
	Attr       *chaosv1alpha1.AttrOverrideSpec
	Mistake    *chaosv1alpha1.MistakeSpec
	Path       string
	Methods    []chaosv1alpha1.IoMethod
	Percent    int
	VolumePath string
}

// PodChaos tunes a pod-kill fault; see v1alpha1.PodChaos.
type PodChaos struct {
	Action         chaosv1alpha1.PodChaosAction
	ContainerNames []string
	GracePeriod    int64
}

// Probes tunes the probes; see v1alpha1.Probes.
type Probes struct {
	Availability AvailabilityProbe
	Writes       WriteProbe
}

// AvailabilityProbe tunes the availability probe; see
// v1alpha1.AvailabilityProbe.
type AvailabilityProbe struct {
	Interval        time.Duration
	Timeout         time.Duration
	StabilityWindow time.Duration
}

// WriteProbe tunes the write probe; see v1alpha1.WriteProbe.
type WriteProbe struct {
	Writers int
	// Rate is writes per second of each writer.
	Rate int
	// ReadBackInterval is how often the probe reads acknowledged writes
	// back during the run, while Abort.MaxLostWrites is set.
	ReadBackInterval time.Duration
}

// Backup says where a restore's data comes from; see v1alpha1.Backup. The
// zero value asks for no backup.
type Backup struct {
	Before   bool
	Schedule string
	// Every is the interval of the schedule rebound runs itself during
	// the scenario; 0 when the schedule runs elsewhere.
	Every time.Duration
	// ESRepository (with its type and settings, when rebound registers it)
	// and ESIndices are where an Elasticsearch snapshot goes and what it
	// holds besides the probe index; see v1alpha1.ElasticsearchBackup.
	ESRepository         string
	ESRepositoryType     string
	ESRepositorySettings map[string]string
	ESIndices            []string
}

// Recovery says how the app comes back; see v1alpha1.Recovery.
type Recovery struct {
	Path    RecoveryPath
	Timeout time.Duration
}

// RecoveryPath is how an app recovers; see v1alpha1.RecoveryPath.
type RecoveryPath string

// Recovery paths.
const (
	RecoverySelfHeal RecoveryPath = "self-heal"
	RecoveryRestore  RecoveryPath = "restore"
	RecoveryManual   RecoveryPath = "manual"
	RecoveryFailover RecoveryPath = "failover"
)

// Expect states what a scenario accepts beyond its targets; see
// v1alpha1.Expect.
type Expect struct {
	// LostWrites is nil when the driver's data-safety promise decides how
	// many lost acknowledged writes are accepted.
	LostWrites *int
}

// Abort lists the conditions that stop a run; see v1alpha1.Abort.
type Abort struct {
	// MaxLostWrites is nil when lost writes never abort the run.
	MaxLostWrites *int
	// NotBackAfter is 0 when the run is never aborted for it.
	NotBackAfter time.Duration
}

// PhaseTimeouts bounds the phases of a run; see v1alpha1.PhaseTimeouts.
type PhaseTimeouts struct {
	SteadyState time.Duration
	Inject      time.Duration
	// Observe bounds the time under the fault, from T0 until the fault is
	// over (Fault.StartAfter + Fault.Duration); it is never shorter than
	// that. Overrunning it aborts the run.
	Observe time.Duration
	// Recover bounds the recovery phase and is at least Recovery.Timeout.
	// Passing Recovery.Timeout is a measured "not restored"; passing
	// Recover aborts the run (a phase timeout).
	Recover time.Duration
	Verify  time.Duration
}

// Ladder is a validated ladder; see v1alpha1.Ladder.
type Ladder struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Source      Source

	// Rungs go from the loosest targets to the strictest.
	Rungs []Rung
}

// Rung is one level of a ladder.
type Rung struct {
	Name        string
	Description string
	// Targets holds the targets of the disruption types this rung covers.
	Targets map[Disruption]Objective
}

// Objective holds the RTO and RPO targets of one disruption type.
type Objective struct {
	RTO time.Duration
	RPO RPO
}

// RPO bounds data loss; a nil bound is no bound.
type RPO struct {
	Writes *int
	Time   *time.Duration
}

// Met reports whether a run with the given RTO, lost-write count and RPO in
// time meets o. It is the one comparison every verdict uses, kept here so
// that a nil bound means "unbounded" everywhere.
func (o Objective) Met(rto time.Duration, lostWrites int, rpo time.Duration) bool {
	if rto > o.RTO {
		return false
	}
	if o.RPO.Writes != nil && lostWrites > *o.RPO.Writes {
		return false
	}
	if o.RPO.Time != nil && rpo > *o.RPO.Time {
		return false
	}
	return true
}
