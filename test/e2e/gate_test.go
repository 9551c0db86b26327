package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/gate"
)

// TestGate runs package gate on the suite's lab, as a user's test would:
// a 4 s pause of every etcd member (an outage is certain) through
// gate's Feature with expectations it meets, then the same scenario with
// an expectation it cannot meet, judged through Run, whose failure must
// carry rebound's measured reason.
func TestGate(t *testing.T) {
	file := writeScenarioFile(t, scenarioYAML("gate-pause", "node", "kind: pause\nduration: 4s", ""))

	// What a user writes: the feature passes, so this test does.
	testenv.Test(t, gate.Scenario(file).OnLab(suiteLab).StateDir(t.TempDir()).
		Expect(gate.RTOBelow(30*time.Second), gate.NoLostWrites(), gate.DowntimeBelow(30*time.Second)).
		Feature())

	f := features.New("gate fails with rebound's reason").
		Assess("RTO below 1s after a 4 s pause of every member", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			res, err := gate.Scenario(file).OnLab(suiteLab).StateDir(t.TempDir()).Output(testWriter{t}).
				Expect(gate.RTOBelow(time.Second), gate.NoLostWrites()).
				Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sc := res.Run.Scenarios[0]
			if sc.Error != "" || sc.Result.RTO == nil {
				t.Fatalf("the scenario did not run to a measured RTO: error %q, breaches %v", sc.Error, sc.Result.Verdict.Breaches)
			}
			if len(res.Failures) != 1 {
				t.Fatalf("want exactly one failure (RTO below 1s), got %d: %v", len(res.Failures), res.Failures)
			}
			got := res.Failures[0]
			msg := got.Error()
			t.Logf("the gate failed, as it must:\n%s", msg)
			rto := sc.Result.RTO.String()
			for _, want := range []string{
				"scenario gate-pause: expected RTO below 1s: RTO " + rto,
				"rebound: " + string(sc.Status()),
				"; RTO " + rto,
				"acknowledged writes lost",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("failure lacks %q:\n%s", want, msg)
				}
			}
			if sc.Result.RTO.Duration() < 3500*time.Millisecond {
				t.Errorf("a 4 s pause of every member measured RTO %s: shorter than the outage", rto)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
