package scenarios_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/reboundhq/rebound/scenarios"
	"github.com/reboundhq/rebound/scenarios/v1alpha1"
)

// newScenario is a valid scenario for the cases to break one thing at a time.
func newScenario(mutate ...func(*v1alpha1.Scenario)) *v1alpha1.Scenario {
	s := &v1alpha1.Scenario{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rebound.dev/v1alpha1", Kind: "Scenario"},
		ObjectMeta: metav1.ObjectMeta{Name: "test"},
		Spec: v1alpha1.ScenarioSpec{
			Disruption: v1alpha1.DisruptionNode,
			Target: v1alpha1.Target{
				Namespace:     "shop",
				LabelSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "etcd"}},
				Driver:        v1alpha1.DriverEtcd,
			},
			Fault: v1alpha1.Fault{Kind: v1alpha1.FaultNodeStop, Leader: true},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func dur(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

// summary reduces errors to "path: type", which is what the cases assert:
// the wording is the golden files' business.
func summary(errs field.ErrorList) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Field+": "+string(e.Type))
	}
	slices.Sort(out)
	return out
}

func TestValidateScenario(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*v1alpha1.Scenario)
		want   []string
	}{
		{"valid", func(*v1alpha1.Scenario) {}, nil},
		{
			"pause needs a duration",
			func(s *v1alpha1.Scenario) { s.Spec.Fault.Kind = v1alpha1.FaultPause },
			[]string{"spec.fault.duration: FieldValueRequired"},
		},
		{
			"pause with a duration",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Kind = v1alpha1.FaultPause
				s.Spec.Fault.Duration = dur(20 * time.Second)
			},
			nil,
		},
		{
			"node-stop needs a node",
			func(s *v1alpha1.Scenario) { s.Spec.Fault.Leader = false },
			[]string{"spec.fault: FieldValueRequired"},
		},
		{
			"node-stop by node selector",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Leader = false
				s.Spec.Fault.NodeSelector = map[string]string{"topology.kubernetes.io/zone": "a"}
			},
			nil,
		},
		{
			"node-stop with two selections",
			func(s *v1alpha1.Scenario) { s.Spec.Fault.Node = "worker-1" },
			[]string{"spec.fault.leader: FieldValueForbidden"},
		},
		{
			"interval below 50ms",
			func(s *v1alpha1.Scenario) { s.Spec.Probes.Availability.Interval = dur(49 * time.Millisecond) },
			[]string{"spec.probes.availability.interval: FieldValueInvalid"},
		},
		{
			"interval of exactly 50ms",
			func(s *v1alpha1.Scenario) { s.Spec.Probes.Availability.Interval = dur(50 * time.Millisecond) },
			nil,
		},
		{
			"kube-system",
			func(s *v1alpha1.Scenario) { s.Spec.Target.Namespace = "kube-system" },
			[]string{"spec.target.namespace: FieldValueForbidden"},
		},
		{
			"restore without a backup",
			func(s *v1alpha1.Scenario) { s.Spec.Recovery.Path = v1alpha1.RecoveryRestore },
			[]string{"spec.backup: FieldValueRequired"},
		},
		{
			"restore from a backup taken before",
			func(s *v1alpha1.Scenario) {
				s.Spec.Recovery.Path = v1alpha1.RecoveryRestore
				s.Spec.Backup = &v1alpha1.Backup{Before: true}
			},
			nil,
		},
		{
			"restore from a schedule",
			func(s *v1alpha1.Scenario) {
				s.Spec.Recovery.Path = v1alpha1.RecoveryRestore
				s.Spec.Backup = &v1alpha1.Backup{Schedule: "hourly"}
			},
			nil,
		},
		{
			"negative durations",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Duration = dur(-time.Second)
				s.Spec.Probes.Availability.Timeout = dur(-time.Second)
				s.Spec.Abort.NotBackAfter = dur(-time.Second)
				s.Spec.PhaseTimeouts.Observe = dur(-time.Second)
			},
			[]string{
				"spec.abort.notBackAfter: FieldValueInvalid",
				"spec.fault.duration: FieldValueInvalid",
				"spec.phaseTimeouts.observe: FieldValueInvalid",
				"spec.probes.availability.timeout: FieldValueInvalid",
			},
		},
		{
			"stability window longer than the recovery timeout",
			func(s *v1alpha1.Scenario) { s.Spec.Probes.Availability.StabilityWindow = dur(10 * time.Minute) },
			[]string{"spec.recovery.timeout: FieldValueInvalid"},
		},
		{
			"recover phase shorter than the recovery",
			func(s *v1alpha1.Scenario) {
				s.Spec.Recovery.Timeout = dur(10 * time.Minute)
				s.Spec.PhaseTimeouts.Recover = dur(5 * time.Minute)
			},
			[]string{"spec.phaseTimeouts.recover: FieldValueInvalid"},
		},
		{
			"recover phase follows the recovery timeout by default",
			func(s *v1alpha1.Scenario) { s.Spec.Recovery.Timeout = dur(10 * time.Minute) },
			nil,
		},
		{
			"fault kind of another disruption type",
			func(s *v1alpha1.Scenario) { s.Spec.Disruption = v1alpha1.DisruptionZone },
			[]string{"spec.fault.kind: FieldValueInvalid"},
		},
		{
			"unknown fault kind says only that",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Kind = "node-stpo"
				s.Spec.Fault.Zone = "a"
			},
			[]string{"spec.fault.kind: FieldValueNotSupported"},
		},
		{
			"a mechanism that cannot inject the kind",
			func(s *v1alpha1.Scenario) { s.Spec.Fault.Via = v1alpha1.ViaNative },
			[]string{"spec.fault.via: FieldValueNotSupported"},
		},
		{
			"manual faults need instructions and nothing else",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault = v1alpha1.Fault{Kind: v1alpha1.FaultManual, Via: v1alpha1.ViaLab, Leader: true}
			},
			[]string{"spec.fault.instructions: FieldValueRequired", "spec.fault.leader: FieldValueForbidden", "spec.fault.via: FieldValueForbidden"},
		},
		{
			"app-delete follows the driver",
			func(s *v1alpha1.Scenario) {
				s.Spec.Disruption = v1alpha1.DisruptionHumanError
				s.Spec.Target.Driver = v1alpha1.DriverElasticsearch
				s.Spec.Fault = v1alpha1.Fault{Kind: v1alpha1.FaultAppDelete, AppDelete: &v1alpha1.AppDelete{Index: "*", Prefix: "/"}}
			},
			[]string{"spec.fault.appDelete.index: FieldValueInvalid", "spec.fault.appDelete.prefix: FieldValueForbidden"},
		},
		{
			"pod-failure lasts, through Chaos Mesh",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault = v1alpha1.Fault{Kind: v1alpha1.FaultPodKill, Leader: true,
					PodChaos: &v1alpha1.PodChaos{Action: chaosv1alpha1.PodFailureAction, GracePeriod: 5}}
			},
			[]string{"spec.fault.duration: FieldValueRequired", "spec.fault.podChaos.gracePeriod: FieldValueForbidden", "spec.fault.via: FieldValueInvalid"},
		},
		{
			"io-chaos needs its action's setting",
			func(s *v1alpha1.Scenario) {
				s.Spec.Disruption = v1alpha1.DisruptionDisk
				s.Spec.Fault = v1alpha1.Fault{Kind: v1alpha1.FaultIOChaos, Leader: true, Duration: dur(time.Minute),
					IOChaos: &v1alpha1.IOChaos{Action: chaosv1alpha1.IoFaults}}
			},
			[]string{"spec.fault.ioChaos.errno: FieldValueRequired"},
		},
		{
			"endpoints: urls mode needs URLs, other modes take none",
			func(s *v1alpha1.Scenario) {
				s.Spec.Target.Endpoints = v1alpha1.Endpoints{Mode: v1alpha1.EndpointModeURLs}
			},
			[]string{"spec.target.endpoints.urls: FieldValueRequired"},
		},
		{
			"endpoints: bad URLs",
			func(s *v1alpha1.Scenario) {
				s.Spec.Target.Endpoints = v1alpha1.Endpoints{Mode: v1alpha1.EndpointModeURLs, URLs: []string{"etcd:2379", "https://"}}
			},
			[]string{"spec.target.endpoints.urls[0]: FieldValueInvalid", "spec.target.endpoints.urls[1]: FieldValueInvalid"},
		},
		{
			"an empty selector would select the whole namespace",
			func(s *v1alpha1.Scenario) { s.Spec.Target.LabelSelector = metav1.LabelSelector{} },
			[]string{"spec.target.labelSelector: FieldValueRequired"},
		},
		{
			"metadata",
			func(s *v1alpha1.Scenario) {
				s.Name = ""
				s.Namespace = "shop"
				s.Labels = map[string]string{scenarios.GameDayLabel: "not a label value"}
			},
			[]string{"metadata.labels: FieldValueInvalid", "metadata.name: FieldValueRequired", "metadata.namespace: FieldValueForbidden"},
		},
		{
			"a slow-onset fault",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Kind = v1alpha1.FaultPause
				s.Spec.Fault.StartAfter = dur(12 * time.Second)
				s.Spec.Fault.Duration = dur(18 * time.Second)
			},
			nil,
		},
		{
			"startAfter is never negative",
			func(s *v1alpha1.Scenario) { s.Spec.Fault.StartAfter = dur(-time.Second) },
			[]string{"spec.fault.startAfter: FieldValueInvalid"},
		},
		{
			"a manual fault has no startAfter",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault = v1alpha1.Fault{Kind: v1alpha1.FaultManual, Instructions: "stop node-3", StartAfter: dur(time.Second)}
			},
			[]string{"spec.fault.startAfter: FieldValueForbidden"},
		},
		{
			"observe shorter than the fault",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Kind = v1alpha1.FaultPause
				s.Spec.Fault.StartAfter = dur(12 * time.Second)
				s.Spec.Fault.Duration = dur(18 * time.Second)
				s.Spec.PhaseTimeouts.Observe = dur(29 * time.Second)
			},
			[]string{"spec.phaseTimeouts.observe: FieldValueInvalid"},
		},
		{
			"observe exactly as long as the fault",
			func(s *v1alpha1.Scenario) {
				s.Spec.Fault.Kind = v1alpha1.FaultPause
				s.Spec.Fault.StartAfter = dur(12 * time.Second)
				s.Spec.Fault.Duration = dur(18 * time.Second)
				s.Spec.PhaseTimeouts.Observe = dur(30 * time.Second)
			},
			nil,
		},
		{
			"expected lost writes",
			func(s *v1alpha1.Scenario) { s.Spec.Expect.LostWrites = new(3) },
			nil,
		},
		{
			"expected lost writes are never negative",
			func(s *v1alpha1.Scenario) { s.Spec.Expect.LostWrites = new(-1) },
			[]string{"spec.expect.lostWrites: FieldValueInvalid"},
		},
		{
			"read-back interval of at least 1s",
			func(s *v1alpha1.Scenario) { s.Spec.Probes.Writes.ReadBackInterval = dur(999 * time.Millisecond) },
			[]string{"spec.probes.writes.readBackInterval: FieldValueInvalid"},
		},
		{
			"read-back interval of exactly 1s",
			func(s *v1alpha1.Scenario) { s.Spec.Probes.Writes.ReadBackInterval = dur(time.Second) },
			nil,
		},
		{
			"probe load is bounded",
			func(s *v1alpha1.Scenario) {
				s.Spec.Probes.Writes = v1alpha1.WriteProbe{Writers: scenarios.MaxWriters + 1, Rate: scenarios.MaxWriteRate + 1}
			},
			[]string{"spec.probes.writes.rate: FieldValueInvalid", "spec.probes.writes.writers: FieldValueInvalid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newScenario(tt.mutate)
			v1alpha1.SetDefaultsScenario(s)
			errs := scenarios.ValidateScenario(s)
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, summary(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", diff, errs)
			}
		})
	}
}

func TestValidateLadder(t *testing.T) {
	t.Parallel()
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	n := func(i int) *int { return &i }
	obj := func(dis v1alpha1.Disruption, rto time.Duration, rpo v1alpha1.RPO) v1alpha1.Objective {
		return v1alpha1.Objective{Disruption: dis, RTO: d(rto), RPO: &rpo}
	}
	ladder := func(rungs ...v1alpha1.Rung) *v1alpha1.Ladder {
		return &v1alpha1.Ladder{ObjectMeta: metav1.ObjectMeta{Name: "l"}, Spec: v1alpha1.LadderSpec{Rungs: rungs}}
	}
	tests := []struct {
		name   string
		ladder *v1alpha1.Ladder
		want   []string
	}{
		{
			"valid, with a rung that covers less",
			ladder(
				v1alpha1.Rung{Name: "a", Targets: []v1alpha1.Objective{
					obj("node", time.Hour, v1alpha1.RPO{Time: d(time.Hour)}),
					obj("zone", time.Hour, v1alpha1.RPO{Time: d(time.Hour)}),
				}},
				v1alpha1.Rung{Name: "b", Targets: []v1alpha1.Objective{
					obj("node", time.Minute, v1alpha1.RPO{Writes: n(0)}),
				}},
			),
			nil,
		},
		{"no rungs", ladder(), []string{"spec.rungs: FieldValueRequired"}},
		{
			"rung names unique",
			ladder(v1alpha1.Rung{Name: "a"}, v1alpha1.Rung{Name: "a"}),
			[]string{"spec.rungs[1].name: FieldValueDuplicate"},
		},
		{
			"targets non-negative",
			ladder(v1alpha1.Rung{Name: "a", Targets: []v1alpha1.Objective{
				obj("node", -time.Second, v1alpha1.RPO{Writes: n(-1), Time: d(-time.Second)}),
			}}),
			[]string{
				"spec.rungs[0].targets[0].rpo.time: FieldValueInvalid",
				"spec.rungs[0].targets[0].rpo.writes: FieldValueInvalid",
				"spec.rungs[0].targets[0].rto: FieldValueInvalid",
			},
		},
		{
			"zero targets are allowed",
			ladder(v1alpha1.Rung{Name: "a", Targets: []v1alpha1.Objective{
				obj("node", 0, v1alpha1.RPO{Writes: n(0), Time: d(0)}),
			}}),
			nil,
		},
		{
			"a higher rung may not be looser",
			ladder(
				v1alpha1.Rung{Name: "a", Targets: []v1alpha1.Objective{obj("disk", time.Minute, v1alpha1.RPO{Writes: n(0)})}},
				v1alpha1.Rung{Name: "b", Targets: []v1alpha1.Objective{obj("disk", time.Hour, v1alpha1.RPO{Writes: n(5)})}},
			),
			[]string{"spec.rungs[1].targets[0].rpo.writes: FieldValueInvalid", "spec.rungs[1].targets[0].rto: FieldValueInvalid"},
		},
		{
			"one target per disruption type and rung",
			ladder(v1alpha1.Rung{Name: "a", Targets: []v1alpha1.Objective{
				obj("node", time.Minute, v1alpha1.RPO{Writes: n(0)}),
				obj("node", time.Minute, v1alpha1.RPO{Writes: n(0)}),
			}}),
			[]string{"spec.rungs[0].targets[1].disruption: FieldValueDuplicate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.want
			if want == nil {
				want = []string{}
			}
			errs := scenarios.ValidateLadder(tt.ladder)
			if diff := cmp.Diff(want, summary(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s\nall: %v", diff, errs)
			}
		})
	}
}

// TestValidateInternal checks the path of a scenario changed in code, such as
// by a command line flag, after it was loaded.
func TestValidateInternal(t *testing.T) {
	t.Parallel()
	s, err := scenarios.CatalogScenario("node-loss")
	if err != nil {
		t.Fatal(err)
	}
	s.Target.Namespace = "kube-system"
	errs := s.Validate()
	if len(errs) != 1 || errs[0].Field != "spec.target.namespace" || !strings.Contains(errs[0].Detail, "never injects faults into kube-system") {
		t.Errorf("Validate = %v, want the kube-system refusal", errs)
	}
	again, err := scenarios.CatalogScenario("node-loss")
	if err != nil || again.Target.Namespace != "rebound-demo" {
		t.Errorf("changing a catalog scenario changed the catalog: %v %q", err, again.Target.Namespace)
	}
}

// TestFaultRules keeps the defaults of v1alpha1 and the rules of the internal
// package in step: every kind has a rule, and its default mechanism is one
// that can inject it.
func TestFaultRules(t *testing.T) {
	t.Parallel()
	if len(v1alpha1.DefaultVia) != len(scenarios.FaultKinds) {
		t.Errorf("v1alpha1.DefaultVia has %d kinds, scenarios.FaultKinds %d", len(v1alpha1.DefaultVia), len(scenarios.FaultKinds))
	}
	for _, kind := range scenarios.FaultKinds {
		rule, ok := scenarios.Rule(kind)
		if !ok {
			t.Errorf("no rule for %s", kind)
			continue
		}
		via, ok := v1alpha1.DefaultVia[v1alpha1.FaultKind(kind)]
		switch {
		case !ok:
			t.Errorf("no default via for %s", kind)
		case kind == scenarios.FaultManual && via != "":
			t.Errorf("manual faults default to via %q, want none", via)
		case kind != scenarios.FaultManual && !slices.Contains(rule.Via, scenarios.Via(via)):
			t.Errorf("%s defaults to via %s, which its rule does not allow (%v)", kind, via, rule.Via)
		}
		if len(rule.Disruptions) == 0 {
			t.Errorf("%s stands for no disruption type", kind)
		}
	}
}

func TestObjectiveMet(t *testing.T) {
	t.Parallel()
	zero, hour := 0, time.Hour
	tests := []struct {
		name       string
		o          scenarios.Objective
		rto, rpo   time.Duration
		lostWrites int
		want       bool
	}{
		{"within", scenarios.Objective{RTO: time.Minute, RPO: scenarios.RPO{Writes: &zero}}, 30 * time.Second, 0, 0, true},
		{"at the target", scenarios.Objective{RTO: time.Minute, RPO: scenarios.RPO{Writes: &zero}}, time.Minute, 0, 0, true},
		{"RTO over", scenarios.Objective{RTO: time.Minute, RPO: scenarios.RPO{Writes: &zero}}, time.Minute + time.Millisecond, 0, 0, false},
		{"one write lost", scenarios.Objective{RTO: time.Minute, RPO: scenarios.RPO{Writes: &zero}}, 0, time.Millisecond, 1, false},
		{"time bound only, many writes", scenarios.Objective{RTO: time.Hour, RPO: scenarios.RPO{Time: &hour}}, 0, 59 * time.Minute, 1000, true},
		{"time bound over", scenarios.Objective{RTO: time.Hour, RPO: scenarios.RPO{Time: &hour}}, 0, 61 * time.Minute, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.o.Met(tt.rto, tt.lostWrites, tt.rpo); got != tt.want {
				t.Errorf("Met = %t, want %t", got, tt.want)
			}
		})
	}
}
