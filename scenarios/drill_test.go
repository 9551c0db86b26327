package scenarios_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/scenarios"
)

// TestDrillRoundTrip converts every drill of the golden input to v1alpha1
// and back: a field forgotten on one side of the conversion shows here.
func TestDrillRoundTrip(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/drill.input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := scenarios.Parse("drill.input.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Drills) != 2 || len(objs.Scenarios) != 0 || len(objs.Ladders) != 0 {
		t.Fatalf("parsed %d drills, %d scenarios, %d ladders; want 2 drills only", len(objs.Drills), len(objs.Scenarios), len(objs.Ladders))
	}
	for _, d := range objs.Drills {
		back := scenarios.DrillFromV1Alpha1(scenarios.DrillToV1Alpha1(d))
		back.Source = d.Source
		if diff := cmp.Diff(d, back); diff != "" {
			t.Errorf("%s: round trip differs (-want +got):\n%s", d.Name, diff)
		}
	}
	take := objs.Drills[0]
	if !take.Takes() || take.RTO == nil || *take.RTO != 2*time.Minute || take.Target == nil || take.Target.Driver != "etcd" {
		t.Errorf("etcd-restore = %+v, want a drill that takes a backup of the etcd app with an RTO target of 2m", take)
	}
	if latest := objs.Drills[1]; latest.Takes() || latest.Backup != "latest" || latest.Target != nil || latest.RTO != nil {
		t.Errorf("latest-backup = %+v, want the defaults: backup latest, no target, no RTO", latest)
	}
}

// TestDrillValidate checks Validate of a drill built in code.
func TestDrillValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		d    scenarios.Drill
		want []string // field paths with a problem
	}{
		{"latest", scenarios.Drill{Name: "d", Backup: "latest", Timeout: time.Minute, Probes: 1}, nil},
		{"an id prefix", scenarios.Drill{Name: "d", Backup: "1a2b3c4d", Timeout: time.Minute, Probes: 1}, nil},
		{"take without a target", scenarios.Drill{Name: "d", Backup: "take", Timeout: time.Minute, Probes: 1}, []string{"spec.target"}},
		{"no timeout", scenarios.Drill{Name: "d", Backup: "latest", Probes: 1}, []string{"spec.timeout"}},
		{"copy into the app's namespace", scenarios.Drill{Name: "d", Backup: "take", Timeout: time.Minute, Probes: 1, ScratchNamespace: "app",
			Target: &scenarios.Target{Namespace: "app", Driver: "etcd", Endpoints: scenarios.Endpoints{Mode: "auto"}}}, []string{"spec.target.labelSelector", "spec.scratchNamespace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, e := range tc.d.Validate() {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems at (-want +got):\n%s\n%v", diff, strings.Join(got, ", "))
			}
		})
	}
}
