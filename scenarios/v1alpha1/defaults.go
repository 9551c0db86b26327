package v1alpha1

import (
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of this version, also named in the field comments.
const (
	DefaultProbeInterval      = 100 * time.Millisecond
	DefaultProbeTimeout       = time.Second
	DefaultStabilityWindow    = 10 * time.Second
	DefaultWriters            = 2
	DefaultWriteRate          = 50
	DefaultReadBackInterval   = 5 * time.Second
	DefaultRecoveryTimeout    = 5 * time.Minute
	DefaultSteadyStateTimeout = 2 * time.Minute
	DefaultInjectTimeout      = time.Minute
	DefaultObserveTimeout     = 30 * time.Second // at least; a longer startAfter + duration wins
	DefaultVerifyTimeout      = 2 * time.Minute
	DefaultIOChaosPercent     = 100
	DefaultTaintKey           = "rebound.dev/chaos"
	DefaultTaintValue         = "true"
	DefaultTaintEffect        = corev1.TaintEffectNoExecute
	DefaultEndpointMode       = EndpointModeAuto
	DefaultRecoveryPath       = RecoverySelfHeal
	DefaultPodChaosAction     = chaosv1alpha1.PodKillAction
)

// DefaultVia is the mechanism each fault kind is injected with when via is
// not set: the lab where the fault needs power or disk controls, Chaos Mesh
// for IOChaos, the Kubernetes API otherwise. Manual faults have none.
var DefaultVia = map[FaultKind]Via{
	FaultNodeDrain:         ViaNative,
	FaultNodeStop:          ViaLab,
	FaultNodeFreeze:        ViaLab,
	FaultNodeTaint:         ViaNative,
	FaultZoneStop:          ViaLab,
	FaultZoneFreeze:        ViaLab,
	FaultZonePartition:     ViaLab,
	FaultPVCDelete:         ViaNative,
	FaultPVDelete:          ViaNative,
	FaultDiskWipe:          ViaLab,
	FaultDiskCorrupt:       ViaLab,
	FaultDiskReadonly:      ViaLab,
	FaultDiskFill:          ViaLab,
	FaultIOChaos:           ViaChaosMesh,
	FaultNamespaceDelete:   ViaNative,
	FaultStatefulSetDelete: ViaNative,
	FaultPVCDeleteAll:      ViaNative,
	FaultScaleToZero:       ViaNative,
	FaultAppDelete:         ViaNative,
	FaultPodKill:           ViaNative,
	FaultPause:             ViaLab,
	FaultRegionLoss:        ViaLab,
	FaultManual:            "",
}

// SetDefaultsScenario fills in every optional field of s that is unset.
// Values that are set, even invalid ones, are left for validation to report.
func SetDefaultsScenario(s *Scenario) {
	spec := &s.Spec

	if spec.Target.Endpoints.Mode == "" {
		spec.Target.Endpoints.Mode = DefaultEndpointMode
	}

	f := &spec.Fault
	if f.Via == "" {
		// An unknown kind keeps an empty via: validation reports the kind,
		// and a guessed mechanism would only add noise.
		f.Via = DefaultVia[f.Kind]
	}
	if f.Kind == FaultNodeTaint && f.Taint == nil {
		f.Taint = &corev1.Taint{Key: DefaultTaintKey, Value: DefaultTaintValue, Effect: DefaultTaintEffect}
	}
	if f.IOChaos != nil && f.IOChaos.Percent == 0 {
		f.IOChaos.Percent = DefaultIOChaosPercent
	}
	if f.Kind == FaultPodKill {
		if f.PodChaos == nil {
			f.PodChaos = &PodChaos{}
		}
		if f.PodChaos.Action == "" {
			f.PodChaos.Action = DefaultPodChaosAction
		}
	}

	a := &spec.Probes.Availability
	setDuration(&a.Interval, DefaultProbeInterval)
	setDuration(&a.Timeout, DefaultProbeTimeout)
	setDuration(&a.StabilityWindow, DefaultStabilityWindow)
	w := &spec.Probes.Writes
	if w.Writers == 0 {
		w.Writers = DefaultWriters
	}
	if w.Rate == 0 {
		w.Rate = DefaultWriteRate
	}
	setDuration(&w.ReadBackInterval, DefaultReadBackInterval)

	if dr := spec.DR; dr != nil && dr.Namespace == "" {
		dr.Namespace = spec.Target.Namespace
	}

	if spec.Recovery.Path == "" {
		spec.Recovery.Path = DefaultRecoveryPath
	}
	setDuration(&spec.Recovery.Timeout, DefaultRecoveryTimeout)

	p := &spec.PhaseTimeouts
	setDuration(&p.SteadyState, DefaultSteadyStateTimeout)
	setDuration(&p.Inject, DefaultInjectTimeout)
	// The observe phase lasts as long as the fault does, so its bound
	// never ends it before the fault is over.
	setDuration(&p.Observe, max(DefaultObserveTimeout, f.StartAfter.Duration+f.Duration.Duration))
	// The recover phase must outlast the recovery it bounds, so it follows
	// the recovery timeout rather than a constant of its own.
	setDuration(&p.Recover, spec.Recovery.Timeout.Duration)
	setDuration(&p.Verify, DefaultVerifyTimeout)
}

func setDuration(d *metav1.Duration, def time.Duration) {
	if d.Duration == 0 {
		d.Duration = def
	}
}
