package scenarios

import (
	corev1 "k8s.io/api/core/v1"
	"maps"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/scenarios/v1alpha1"
)

// The conversions copy field by field, on purpose: a field added to one side
// and forgotten on the other shows up in the round-trip test rather than
// being carried silently by reflection. Maps and slices are copied, so the
// result shares no memory with its input.

// ScenarioFromV1Alpha1 converts a defaulted v1alpha1 Scenario. It does not
// validate; Load and Parse do.
func ScenarioFromV1Alpha1(in *v1alpha1.Scenario) *Scenario {
	s := &in.Spec
	out := &Scenario{
		Name:        in.Name,
		Labels:      maps.Clone(in.Labels),
		Annotations: maps.Clone(in.Annotations),
		Description: s.Description,
		Disruption:  Disruption(s.Disruption),
		Target: Target{
			Kubeconfig:    s.Target.Kubeconfig,
			Context:       s.Target.Context,
			Namespace:     s.Target.Namespace,
			LabelSelector: *s.Target.LabelSelector.DeepCopy(),
			Driver:        Driver(s.Target.Driver),
			Endpoints: Endpoints{
				Mode:   EndpointMode(s.Target.Endpoints.Mode),
				URLs:   slices.Clone(s.Target.Endpoints.URLs),
				Scheme: s.Target.Endpoints.Scheme,
				Secret: secretName(s.Target.Endpoints.SecretRef),
				TLS:    endpointTLS(s.Target.Endpoints.TLS),
			},
		},
		Fault: Fault{
			Kind:         FaultKind(s.Fault.Kind),
			Via:          Via(s.Fault.Via),
			Node:         s.Fault.Node,
			NodeSelector: maps.Clone(s.Fault.NodeSelector),
			Zone:         s.Fault.Zone,
			Pod:          s.Fault.Pod,
			PVC:          s.Fault.PVC,
			Leader:       s.Fault.Leader,
			Duration:     s.Fault.Duration.Duration,
			StartAfter:   s.Fault.StartAfter.Duration,
			Taint:        s.Fault.Taint.DeepCopy(),
			Instructions: s.Fault.Instructions,
		},
		Probes: Probes{
			Availability: AvailabilityProbe{
				Interval:        s.Probes.Availability.Interval.Duration,
				Timeout:         s.Probes.Availability.Timeout.Duration,
				StabilityWindow: s.Probes.Availability.StabilityWindow.Duration,
			},
			Writes: WriteProbe{
				Writers:          s.Probes.Writes.Writers,
				Rate:             s.Probes.Writes.Rate,
				ReadBackInterval: s.Probes.Writes.ReadBackInterval.Duration,
			},
		},
		Recovery: Recovery{
			Path:    RecoveryPath(s.Recovery.Path),
			Timeout: s.Recovery.Timeout.Duration,
		},
		Expect: Expect{LostWrites: clonePtr(s.Expect.LostWrites)},
		Abort: Abort{
			MaxLostWrites: clonePtr(s.Abort.MaxLostWrites),
			NotBackAfter:  s.Abort.NotBackAfter.Duration,
		},
		PhaseTimeouts: PhaseTimeouts{
			SteadyState: s.PhaseTimeouts.SteadyState.Duration,
			Inject:      s.PhaseTimeouts.Inject.Duration,
			Observe:     s.PhaseTimeouts.Observe.Duration,
			Recover:     s.PhaseTimeouts.Recover.Duration,
			Verify:      s.PhaseTimeouts.Verify.Duration,
		},
	}
	if d := s.Fault.AppDelete; d != nil {
		out.Fault.AppDelete = &AppDelete{Prefix: d.Prefix, Index: d.Index}
	}
	if c := s.Fault.IOChaos; c != nil {
		out.Fault.IOChaos = &IOChaos{
			Action:     c.Action,
			Delay:      c.Delay.Duration,
			Errno:      c.Errno,
			Attr:       c.Attr.DeepCopy(),
			Mistake:    c.Mistake.DeepCopy(),
			Path:       c.Path,
			Methods:    slices.Clone(c.Methods),
			Percent:    c.Percent,
			VolumePath: c.VolumePath,
		}
	}
	if c := s.Fault.PodChaos; c != nil {
		out.Fault.PodChaos = &PodChaos{
			Action:         c.Action,
			ContainerNames: slices.Clone(c.ContainerNames),
			GracePeriod:    c.GracePeriod,
		}
	}
	if d := s.DR; d != nil {
		out.DR = &DR{Lab: d.Lab, Kubeconfig: d.Kubeconfig, Context: d.Context, Namespace: d.Namespace}
	}
	if b := s.Backup; b != nil {
		out.Backup = Backup{Before: b.Before, Schedule: b.Schedule, Every: b.Every.Duration}
		if es := b.Elasticsearch; es != nil {
			out.Backup.ESRepository, out.Backup.ESIndices = es.Repository, slices.Clone(es.Indices)
			out.Backup.ESRepositoryType, out.Backup.ESRepositorySettings = es.Type, maps.Clone(es.Settings)
		}
	}
	return out
}

// ScenarioToV1Alpha1 converts s back to its v1alpha1 form, as written by
// `rebound scenarios show` and the golden tests.
func ScenarioToV1Alpha1(s *Scenario) *v1alpha1.Scenario {
	out := &v1alpha1.Scenario{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.ScenarioKind},
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.Name,
			Labels:      maps.Clone(s.Labels),
			Annotations: maps.Clone(s.Annotations),
		},
		Spec: v1alpha1.ScenarioSpec{
			Description: s.Description,
			Disruption:  v1alpha1.Disruption(s.Disruption),
			Target: v1alpha1.Target{
				Kubeconfig:    s.Target.Kubeconfig,
				Context:       s.Target.Context,
				Namespace:     s.Target.Namespace,
				LabelSelector: *s.Target.LabelSelector.DeepCopy(),
				Driver:        v1alpha1.Driver(s.Target.Driver),
				Endpoints: v1alpha1.Endpoints{
					Mode:      v1alpha1.EndpointMode(s.Target.Endpoints.Mode),
					URLs:      slices.Clone(s.Target.Endpoints.URLs),
					Scheme:    s.Target.Endpoints.Scheme,
					SecretRef: secretRef(s.Target.Endpoints.Secret),
					TLS:       tlsOf(s.Target.Endpoints.TLS),
				},
			},
			Fault: v1alpha1.Fault{
				Kind:         v1alpha1.FaultKind(s.Fault.Kind),
				Via:          v1alpha1.Via(s.Fault.Via),
				Node:         s.Fault.Node,
				NodeSelector: maps.Clone(s.Fault.NodeSelector),
				Zone:         s.Fault.Zone,
				Pod:          s.Fault.Pod,
				PVC:          s.Fault.PVC,
				Leader:       s.Fault.Leader,
				Duration:     duration(s.Fault.Duration),
				StartAfter:   duration(s.Fault.StartAfter),
				Taint:        s.Fault.Taint.DeepCopy(),
				Instructions: s.Fault.Instructions,
			},
			Probes: v1alpha1.Probes{
				Availability: v1alpha1.AvailabilityProbe{
					Interval:        duration(s.Probes.Availability.Interval),
					Timeout:         duration(s.Probes.Availability.Timeout),
					StabilityWindow: duration(s.Probes.Availability.StabilityWindow),
				},
				Writes: v1alpha1.WriteProbe{
					Writers:          s.Probes.Writes.Writers,
					Rate:             s.Probes.Writes.Rate,
					ReadBackInterval: duration(s.Probes.Writes.ReadBackInterval),
				},
			},
			Recovery: v1alpha1.Recovery{
				Path:    v1alpha1.RecoveryPath(s.Recovery.Path),
				Timeout: duration(s.Recovery.Timeout),
			},
			Expect: v1alpha1.Expect{LostWrites: clonePtr(s.Expect.LostWrites)},
			Abort: v1alpha1.Abort{
				MaxLostWrites: clonePtr(s.Abort.MaxLostWrites),
				NotBackAfter:  duration(s.Abort.NotBackAfter),
			},
			PhaseTimeouts: v1alpha1.PhaseTimeouts{
				SteadyState: duration(s.PhaseTimeouts.SteadyState),
				Inject:      duration(s.PhaseTimeouts.Inject),
				Observe:     duration(s.PhaseTimeouts.Observe),
				Recover:     duration(s.PhaseTimeouts.Recover),
				Verify:      duration(s.PhaseTimeouts.Verify),
			},
		},
	}
	f := &out.Spec.Fault
	if d := s.Fault.AppDelete; d != nil {
		f.AppDelete = &v1alpha1.AppDelete{Prefix: d.Prefix, Index: d.Index}
	}
	if c := s.Fault.IOChaos; c != nil {
		f.IOChaos = &v1alpha1.IOChaos{
			Action:     c.Action,
			Delay:      duration(c.Delay),
			Errno:      c.Errno,
			Attr:       c.Attr.DeepCopy(),
			Mistake:    c.Mistake.DeepCopy(),
			Path:       c.Path,
			Methods:    slices.Clone(c.Methods),
			Percent:    c.Percent,
			VolumePath: c.VolumePath,
		}
	}
	if c := s.Fault.PodChaos; c != nil {
		f.PodChaos = &v1alpha1.PodChaos{
			Action:         c.Action,
			ContainerNames: slices.Clone(c.ContainerNames),
			GracePeriod:    c.GracePeriod,
		}
	}
	if d := s.DR; d != nil {
		out.Spec.DR = &v1alpha1.DR{Lab: d.Lab, Kubeconfig: d.Kubeconfig, Context: d.Context, Namespace: d.Namespace}
	}
	if s.Backup.Before || s.Backup.Schedule != "" || s.Backup.ESRepository != "" || s.Backup.Every != 0 {
		out.Spec.Backup = &v1alpha1.Backup{Before: s.Backup.Before, Schedule: s.Backup.Schedule, Every: duration(s.Backup.Every)}
		if s.Backup.ESRepository != "" || len(s.Backup.ESIndices) > 0 {
			out.Spec.Backup.Elasticsearch = &v1alpha1.ElasticsearchBackup{Repository: s.Backup.ESRepository, Indices: slices.Clone(s.Backup.ESIndices),
				Type: s.Backup.ESRepositoryType, Settings: maps.Clone(s.Backup.ESRepositorySettings)}
		}
	}
	return out
}

// LadderFromV1Alpha1 converts a v1alpha1 Ladder. It does not validate, and
// of two targets for the same disruption type in a rung the last one wins;
// validation refuses such a ladder.
func LadderFromV1Alpha1(in *v1alpha1.Ladder) *Ladder {
	out := &Ladder{
		Name:        in.Name,
		Labels:      maps.Clone(in.Labels),
		Annotations: maps.Clone(in.Annotations),
	}
	for _, r := range in.Spec.Rungs {
		rung := Rung{Name: r.Name, Description: r.Description, Targets: map[Disruption]Objective{}}
		for _, t := range r.Targets {
			var o Objective
			if t.RTO != nil {
				o.RTO = t.RTO.Duration
			}
			if t.RPO != nil {
				o.RPO.Writes = clonePtr(t.RPO.Writes)
				if t.RPO.Time != nil {
					d := t.RPO.Time.Duration
					o.RPO.Time = &d
				}
			}
			rung.Targets[Disruption(t.Disruption)] = o
		}
		out.Rungs = append(out.Rungs, rung)
	}
	return out
}

// LadderToV1Alpha1 converts l back to its v1alpha1 form, with each rung's
// targets in the order of Disruptions.
func LadderToV1Alpha1(l *Ladder) *v1alpha1.Ladder {
	out := &v1alpha1.Ladder{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.LadderKind},
		ObjectMeta: metav1.ObjectMeta{
			Name:        l.Name,
			Labels:      maps.Clone(l.Labels),
			Annotations: maps.Clone(l.Annotations),
		},
	}
	for _, r := range l.Rungs {
		rung := v1alpha1.Rung{Name: r.Name, Description: r.Description}
		for _, d := range orderedDisruptions(r.Targets) {
			o := r.Targets[d]
			t := v1alpha1.Objective{
				Disruption: v1alpha1.Disruption(d),
				RTO:        &metav1.Duration{Duration: o.RTO},
				RPO:        &v1alpha1.RPO{Writes: clonePtr(o.RPO.Writes)},
			}
			if o.RPO.Time != nil {
				t.RPO.Time = &metav1.Duration{Duration: *o.RPO.Time}
			}
			rung.Targets = append(rung.Targets, t)
		}
		out.Spec.Rungs = append(out.Spec.Rungs, rung)
	}
	return out
}

// orderedDisruptions returns the keys of m in the order of Disruptions, then
// any unknown ones sorted, so output is stable.
func orderedDisruptions(m map[Disruption]Objective) []Disruption {
	var known, unknown []Disruption
	for _, d := range Disruptions {
		if _, ok := m[d]; ok {
			known = append(known, d)
		}
	}
	for d := range m {
		if !slices.Contains(Disruptions, d) {
			unknown = append(unknown, d)
		}
	}
	slices.Sort(unknown)
	return append(known, unknown...)
}

func duration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func secretName(ref *corev1.LocalObjectReference) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}

func secretRef(name string) *corev1.LocalObjectReference {
	if name == "" {
		return nil
	}
	return &corev1.LocalObjectReference{Name: name}
}

func endpointTLS(in *v1alpha1.TLS) EndpointTLS {
	if in == nil {
		return EndpointTLS{}
	}
	return EndpointTLS{ServerName: in.ServerName, CASecret: secretName(in.CASecretRef)}
}

func tlsOf(in EndpointTLS) *v1alpha1.TLS {
	if in == (EndpointTLS{}) {
		return nil
	}
	return &v1alpha1.TLS{ServerName: in.ServerName, CASecretRef: secretRef(in.CASecret)}
}
