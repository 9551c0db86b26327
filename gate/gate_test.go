package gate

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/runner"
	"github.com/reboundhq/rebound/scenarios"
)

const s = time.Second

func millis(d time.Duration) *measure.Millis { m := measure.Millis(d); return &m }

// measured is a fixed result of a self-healing scenario, judged by
// measure.Judge against an RTO target of 60s and no lost write, as the
// runner would judge it.
func measured(name string, rto time.Duration, restored bool, lost ...string) reports.Scenario {
	t := measure.Targets{RTO: new(60 * s), RPOWrites: new(0)}
	r := measure.Result{
		ServiceRestored: restored, RTOResolution: measure.Millis(100 * time.Millisecond),
		StabilityWindow: measure.Millis(3 * s), Observed: measure.Millis(90 * s),
		Downtime:    measure.Millis(rto),
		DataChecked: true, DataSafe: len(lost) == 0, WritesAcked: 500,
		Lost: lost, LostCount: len(lost), RPOWrites: new(len(lost)),
		LostWritesAllowed: new(0), PromiseWhy: "raft",
	}
	if rto > 0 {
		r.Outages = []measure.Outage{{Start: 0, End: rto, Open: !restored}}
	}
	if restored {
		r.RTO = millis(rto)
		r.RPO = millis(0)
		r.RedundancyRestored, r.TimeToFullRedundancy = true, millis(rto+5*s)
	}
	r.Verdict = measure.Judge(r, t)
	return reports.Scenario{Name: name, Disruption: "node", Fault: "pod-kill", Recovery: "self-heal", Targets: t, Result: r}
}

// TestExpectations checks each expectation on fixed results: one it
// meets, and ones it does not, with what was measured in the reason.
func TestExpectations(t *testing.T) {
	t.Parallel()
	unchecked := measured("u", 2*s, true)
	unchecked.Result.DataChecked = false
	cases := []struct {
		name    string
		e       Expectation
		sc      reports.Scenario
		wantErr string // "" when met
	}{
		{"RTO met", RTOBelow(30 * s), measured("a", 4200*time.Millisecond, true), ""},
		{"RTO over", RTOBelow(time.Second), measured("a", 4200*time.Millisecond, true), "RTO 4.2s ±100ms, want below 1s"},
		{"RTO equal is not below", RTOBelow(4200 * time.Millisecond), measured("a", 4200*time.Millisecond, true), "RTO 4.2s ±100ms, want below 4.2s"},
		{"not restored", RTOBelow(30 * s), measured("a", 90*s, false), "the service was not restored within observation (observed 1m30s after the fault), want RTO below 30s"},
		{"no outage at all", RTOBelow(time.Nanosecond), measured("a", 0, true), ""},
		{"downtime met", DowntimeBelow(5 * s), measured("a", 4*s, true), ""},
		{"downtime over", DowntimeBelow(5 * s), measured("a", 6*s, true), "downtime 6s in 1 outage, want below 5s"},
		{"no lost writes", NoLostWrites(), measured("a", 2*s, true), ""},
		{"lost writes", NoLostWrites(), measured("a", 2*s, true, "w1", "w2"), "2 of 500 acknowledged writes lost (w1, w2), want none"},
		{"data not checked", NoLostWrites(), unchecked, "the data was not checked"},
		{"passes", Passes(), measured("a", 2*s, true), ""},
		{"breach", Passes(), measured("a", 90*s, true), "verdict BREACH"},
		{"broken promise", Passes(), measured("a", 2*s, true, "w1"), "verdict BREACH"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.e.Check(&reports.Run{}, &c.sc)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("%s: %v, want it met", c.e, err)
			case c.wantErr != "" && err == nil:
				t.Errorf("%s met, want %q", c.e, c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Errorf("%s: %q, want it to contain %q", c.e, err, c.wantErr)
			}
		})
	}
}

func scenario(name string) *scenarios.Scenario {
	sc := &scenarios.Scenario{}
	sc.Name = name
	return sc
}

// TestJudge: a failing expectation carries rebound's own reason; a
// scenario in ERROR, one that never ran, an abort and a fault left applied
// each fail the gate whatever the expectations say.
func TestJudge(t *testing.T) {
	t.Parallel()
	breach := measured("slow", 90*s, true)
	errored := reports.Scenario{Name: "broken", Error: "inject pod-kill: no pod matches app.kubernetes.io/name=etcd"}
	run := &reports.Run{
		Scenarios: []reports.Scenario{measured("fast", 2*s, true), breach, errored},
		Aborted:   true, AbortReason: "abort: the app was not back 1m0s after the fault (abort.notBackAfter)",
		CleanupIncomplete: []string{"r1/slow: stop node lab-1a-1 (failed)"},
	}
	asked := []*scenarios.Scenario{scenario("fast"), scenario("slow"), scenario("broken"), scenario("never")}
	got := judge(run, asked, []Expectation{RTOBelow(30 * s), NoLostWrites()})
	var msgs []string
	for _, f := range got {
		msgs = append(msgs, f.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"the run was aborted and rolled back: abort: the app was not back 1m0s after the fault",
		"cleanup incomplete, run `rebound cleanup`: r1/slow: stop node lab-1a-1 (failed)",
		"scenario slow: expected RTO below 30s: RTO 1m30s ±100ms, want below 30s\n    rebound: BREACH (rto: ",
		"scenario broken: could not run: inject pod-kill: no pod matches",
		"scenario never: did not run",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("failures lack %q:\n%s", want, all)
		}
	}
	if len(got) != 5 {
		t.Errorf("want 5 failures, got %d:\n%s", len(got), all)
	}
	if strings.Contains(all, "scenario fast") {
		t.Errorf("a scenario that met every expectation failed:\n%s", all)
	}

	// No expectation: rebound's own verdict is the gate.
	if got := judge(&reports.Run{Scenarios: []reports.Scenario{breach}}, asked[1:2], nil); len(got) != 1 || got[0].Expectation != Passes().String() {
		t.Errorf("with no expectation, want Passes to fail on a breach; got %v", got)
	}
	if got := judge(&reports.Run{Scenarios: []reports.Scenario{measured("fast", 2*s, true)}}, asked[:1], nil); len(got) != 0 {
		t.Errorf("a passing scenario failed the default gate: %v", got)
	}
}

// runStandIn stands in for the runner on a cluster: it records the options
// the gate ran with and returns fixed scenario results by name.
type runStandIn struct {
	results map[string]reports.Scenario
	opts    runner.Options
	names   []string
	err     error
}

func (r *runStandIn) run(_ context.Context, _ *envconf.Config, opts runner.Options, list []*scenarios.Scenario) (*reports.Run, error) {
	r.opts = opts
	run := &reports.Run{ID: "r1", StartedAt: time.Now().UTC(), Cluster: "stand-in"}
	for _, sc := range list {
		r.names = append(r.names, sc.Name)
		run.Scenarios = append(run.Scenarios, r.results[sc.Name])
	}
	if r.err != nil {
		run.Aborted, run.AbortReason = true, r.err.Error()
	}
	return run, r.err
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := envconf.New().WithKubeconfigFile("/nonexistent/kubeconfig")

	t.Run("loads the file, allows its namespace, judges and writes reports", func(t *testing.T) {
		t.Parallel()
		stand := &runStandIn{results: map[string]reports.Scenario{"etcd-pod-kill": measured("etcd-pod-kill", 3*s, true)}}
		dir := filepath.Join(t.TempDir(), "reports")
		spec := Scenario("testdata/pod-kill.yaml").Expect(RTOBelow(30*s), NoLostWrites()).StateDir(t.TempDir()).ReportDir(dir)
		spec.runScenarios = stand.run
		res, err := spec.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Passed() {
			t.Errorf("failures: %v", res.Failures)
		}
		if !slices.Equal(stand.names, []string{"etcd-pod-kill"}) || !slices.Equal(stand.opts.AllowNamespaces, []string{"shop"}) {
			t.Errorf("ran %v in namespaces %v, want etcd-pod-kill in [shop]", stand.names, stand.opts.AllowNamespaces)
		}
		if !stand.opts.Yes || stand.opts.OnLab || stand.opts.Kubeconfig != "/nonexistent/kubeconfig" || stand.opts.Ladder == nil {
			t.Errorf("options: yes %v, on lab %v, kubeconfig %q, ladder %v", stand.opts.Yes, stand.opts.OnLab, stand.opts.Kubeconfig, stand.opts.Ladder)
		}
		if !res.Run.Finalized() {
			t.Error("the run is not finalized")
		}
		for _, f := range []string{"report.json", "junit.xml", "report.md"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("report: %v", err)
			}
		}
	})
	t.Run("a failing expectation fails with rebound's reason", func(t *testing.T) {
		t.Parallel()
		stand := &runStandIn{results: map[string]reports.Scenario{"etcd-pod-kill": measured("etcd-pod-kill", 90*s, false)}}
		spec := Scenario("testdata/pod-kill.yaml").Expect(RTOBelow(30 * s)).StateDir(t.TempDir())
		spec.runScenarios = stand.run
		res, err := spec.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Passed() || !strings.Contains(res.Failures[0].Error(), "rebound: BREACH (service not restored") {
			t.Errorf("want a failure with rebound's breach, got %v", res.Failures)
		}
	})
	t.Run("an aborted run is a failure, not an error", func(t *testing.T) {
		t.Parallel()
		stand := &runStandIn{results: map[string]reports.Scenario{"etcd-pod-kill": measured("etcd-pod-kill", 3*s, true)},
			err: errors.Join(runner.ErrAborted, errors.New("interrupt"))}
		spec := Scenario("testdata/pod-kill.yaml").StateDir(t.TempDir())
		spec.runScenarios = stand.run
		res, err := spec.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Passed() || !strings.Contains(res.Failures[0].Reason, "aborted") {
			t.Errorf("failures: %v", res.Failures)
		}
	})
	t.Run("bad input is an error naming file, line and field", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			spec *Spec
			want string
		}{
			{Scenario("testdata/typo.yaml"), "testdata/typo.yaml:13: spec.target.drivr: unknown field"},
			{Scenario("testdata/missing.yaml"), "load testdata/missing.yaml: "},
			{Scenario(), "no scenario file"},
			{Scenario("testdata/pod-kill.yaml").AllowNamespaces("other"), `targets namespace "shop", which is not in the allowlist`},
		} {
			stand := &runStandIn{}
			c.spec.runScenarios = stand.run
			_, err := c.spec.StateDir(t.TempDir()).Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if stand.names != nil {
				t.Errorf("bad input ran %v", stand.names)
			}
		}
	})
}

// TestFeature runs Feature in a real e2e-framework environment in a child
// test process (a failing feature fails its test, which this test must
// observe from outside): a met expectation passes, an unmet one fails the
// test with rebound's reason.
func TestFeature(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode     string
		wantFail bool
		want     []string
	}{
		{"pass", false, []string{"--- PASS: TestFeatureChild", "etcd-pod-kill"}},
		{"fail", true, []string{
			"--- FAIL: TestFeatureChild",
			"rebound gate: scenario etcd-pod-kill: expected RTO below 1s: RTO 4.2s ±100ms, want below 1s",
			"rebound: PASS; RTO 4.2s ±100ms, downtime 4.2s, 0 of 500 acknowledged writes lost",
		}},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFeatureChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "GATE_FEATURE_CHILD="+c.mode, "GATE_FEATURE_STATE="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != c.wantFail {
				t.Errorf("child test failed: %v, want %v:\n%s", failed, c.wantFail, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestFeatureChild is TestFeature's child; it only runs when TestFeature
// starts it.
func TestFeatureChild(t *testing.T) {
	mode := os.Getenv("GATE_FEATURE_CHILD")
	if mode == "" {
		t.Skip("run by TestFeature")
	}
	stand := &runStandIn{results: map[string]reports.Scenario{"etcd-pod-kill": measured("etcd-pod-kill", 4200*time.Millisecond, true)}}
	want := 30 * s
	if mode == "fail" {
		want = time.Second
	}
	spec := Scenario("testdata/pod-kill.yaml").Expect(RTOBelow(want), NoLostWrites()).StateDir(os.Getenv("GATE_FEATURE_STATE"))
	spec.runScenarios = stand.run
	env.NewWithConfig(envconf.New()).Test(t, spec.Feature())
}
