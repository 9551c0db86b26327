package v1alpha1_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/scenarios/v1alpha1"
)

// TestEveryFieldDocumented holds the API to its promise: people write these
// objects by hand, and the field comments are their reference.
func TestEveryFieldDocumented(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range []string{"types.go", "drill.go"} {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for _, f := range files {
		inspectFields(t, fset, f)
	}
}

func inspectFields(t *testing.T, fset *token.FileSet, f *ast.File) {
	t.Helper()
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, field := range st.Fields.List {
			if field.Doc == nil || len(field.Doc.List) == 0 {
				name := "embedded field"
				if len(field.Names) > 0 {
					name = field.Names[0].Name
				}
				t.Errorf("%s: %s.%s has no doc comment", fset.Position(field.Pos()), ts.Name.Name, name)
			}
		}
		return true
	})
}

func TestSetDefaultsScenario(t *testing.T) {
	t.Parallel()
	d := func(x time.Duration) metav1.Duration { return metav1.Duration{Duration: x} }
	tests := []struct {
		name string
		in   v1alpha1.ScenarioSpec
		want func(*v1alpha1.ScenarioSpec)
	}{
		{
			name: "everything unset",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: v1alpha1.FaultNodeStop}},
			want: func(s *v1alpha1.ScenarioSpec) {},
		},
		{
			name: "set values are kept, even invalid ones",
			in: v1alpha1.ScenarioSpec{
				Fault:    v1alpha1.Fault{Kind: v1alpha1.FaultNodeStop, Via: v1alpha1.ViaNative},
				Probes:   v1alpha1.Probes{Availability: v1alpha1.AvailabilityProbe{Interval: d(-time.Second)}, Writes: v1alpha1.WriteProbe{Writers: -1}},
				Recovery: v1alpha1.Recovery{Path: "sideways"},
			},
			want: func(s *v1alpha1.ScenarioSpec) {
				s.Fault.Via = v1alpha1.ViaNative
				s.Probes.Availability.Interval = d(-time.Second)
				s.Probes.Writes.Writers = -1
				s.Recovery.Path = "sideways"
			},
		},
		{
			name: "the recover phase follows the recovery timeout",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: v1alpha1.FaultNodeStop}, Recovery: v1alpha1.Recovery{Timeout: d(20 * time.Minute)}},
			want: func(s *v1alpha1.ScenarioSpec) {
				s.Recovery.Timeout = d(20 * time.Minute)
				s.PhaseTimeouts.Recover = d(20 * time.Minute)
			},
		},
		{
			name: "the observe phase lasts as long as the fault",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: v1alpha1.FaultPause, Duration: d(90 * time.Second)}},
			want: func(s *v1alpha1.ScenarioSpec) { s.PhaseTimeouts.Observe = d(90 * time.Second) },
		},
		{
			name: "a slow-onset fault's delay counts into the observe phase",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: v1alpha1.FaultPause, StartAfter: d(12 * time.Second), Duration: d(25 * time.Second)}},
			want: func(s *v1alpha1.ScenarioSpec) { s.PhaseTimeouts.Observe = d(37 * time.Second) },
		},
		{
			name: "a short fault keeps the least observe bound",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: v1alpha1.FaultPause, StartAfter: d(5 * time.Second), Duration: d(10 * time.Second)}},
			want: func(s *v1alpha1.ScenarioSpec) {},
		},
		{
			name: "an explicit observe bound is kept",
			in: v1alpha1.ScenarioSpec{
				Fault:         v1alpha1.Fault{Kind: v1alpha1.FaultPause, Duration: d(90 * time.Second)},
				PhaseTimeouts: v1alpha1.PhaseTimeouts{Observe: d(10 * time.Second)},
			},
			want: func(s *v1alpha1.ScenarioSpec) { s.PhaseTimeouts.Observe = d(10 * time.Second) },
		},
		{
			name: "kind-specific defaults",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: v1alpha1.FaultPodKill}},
			want: func(s *v1alpha1.ScenarioSpec) {
				s.Fault.Via = v1alpha1.ViaNative
				s.Fault.PodChaos = &v1alpha1.PodChaos{Action: v1alpha1.DefaultPodChaosAction}
			},
		},
		{
			name: "an unknown kind gets no mechanism",
			in:   v1alpha1.ScenarioSpec{Fault: v1alpha1.Fault{Kind: "node-stpo"}},
			want: func(s *v1alpha1.ScenarioSpec) { s.Fault.Via = "" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Every case starts from the documented defaults and changes
			// only what it is about.
			want := v1alpha1.ScenarioSpec{
				Fault:  tt.in.Fault,
				Target: v1alpha1.Target{Endpoints: v1alpha1.Endpoints{Mode: v1alpha1.EndpointModeAuto}},
				Probes: v1alpha1.Probes{
					Availability: v1alpha1.AvailabilityProbe{Interval: d(100 * time.Millisecond), Timeout: d(time.Second), StabilityWindow: d(10 * time.Second)},
					Writes:       v1alpha1.WriteProbe{Writers: 2, Rate: 50, ReadBackInterval: d(5 * time.Second)},
				},
				Recovery: v1alpha1.Recovery{Path: v1alpha1.RecoverySelfHeal, Timeout: d(5 * time.Minute)},
				PhaseTimeouts: v1alpha1.PhaseTimeouts{
					SteadyState: d(2 * time.Minute), Inject: d(time.Minute), Observe: d(30 * time.Second),
					Recover: d(5 * time.Minute), Verify: d(2 * time.Minute),
				},
			}
			want.Fault.Via = v1alpha1.DefaultVia[tt.in.Fault.Kind]
			tt.want(&want)

			got := &v1alpha1.Scenario{Spec: tt.in}
			v1alpha1.SetDefaultsScenario(got)
			if diff := cmp.Diff(want, got.Spec); diff != "" {
				t.Errorf("defaults (-want +got):\n%s", diff)
			}
		})
	}
}
