package run

import (
	"strings"
	"testing"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
)

func TestClusterFromScenarios(t *testing.T) {
	t.Parallel()
	sc := func(kc, ctx string) *scenarios.Scenario {
		return &scenarios.Scenario{Name: "s-" + ctx, Target: scenarios.Target{Kubeconfig: kc, Context: ctx}}
	}
	f := &flags{}
	if err := clusterFromScenarios(f, []*scenarios.Scenario{sc("", ""), sc("/k", "aks"), sc("/k", "aks")}); err != nil {
		t.Fatal(err)
	}
	if f.kubeconfig != "/k" || f.kubeContext != "aks" {
		t.Errorf("cluster from the scenarios = %q %q, want /k aks", f.kubeconfig, f.kubeContext)
	}
	f = &flags{}
	err := clusterFromScenarios(f, []*scenarios.Scenario{sc("/k", "aks"), sc("/k", "eks")})
	if err == nil || !strings.Contains(err.Error(), "one run acts on one cluster") {
		t.Errorf("two clusters in one run: %v", err)
	}
	f = &flags{kubeconfig: "/flag"}
	if err := clusterFromScenarios(f, []*scenarios.Scenario{sc("/k", "")}); err == nil {
		t.Error("a scenario naming another kubeconfig than --kubeconfig was accepted")
	}
	f = &flags{}
	if err := clusterFromScenarios(f, []*scenarios.Scenario{sc("", "")}); err != nil || f.kubeconfig != "" {
		t.Errorf("no cluster named: the lab (kubeconfig %q, err %v)", f.kubeconfig, err)
	}
}

// TestOutcome holds `rebound run` to the exit code contract: 1 only when
// every scenario ran and one breached; a scenario in ERROR (it could not
// run, e.g. its fault never took effect) is NotRun and outranks a breach.
func TestOutcome(t *testing.T) {
	t.Parallel()
	pass := reports.Scenario{Name: "pass", Result: measure.Result{Verdict: measure.Verdict{Pass: true}}}
	breach := reports.Scenario{Name: "breach", Result: measure.Result{Verdict: measure.Verdict{Breaches: []string{"RTO 90s > 60s"}}}}
	bug := reports.Scenario{Name: "bug", Result: measure.Result{Verdict: measure.Verdict{Bug: true}}}
	broken := reports.Scenario{Name: "broken", Error: "fault never took effect: PodChaos not injected"}
	for _, tc := range []struct {
		name string
		list []reports.Scenario
		want exitcode.Code
		says []string
	}{
		{"every target met", []reports.Scenario{pass, pass}, exitcode.OK, nil},
		{"a breach", []reports.Scenario{pass, breach}, exitcode.Breached, []string{"breach (BREACH)"}},
		{"a bug", []reports.Scenario{bug}, exitcode.Breached, []string{"bug (BUG)"}},
		{"a scenario that could not run", []reports.Scenario{pass, broken}, exitcode.NotRun, []string{"broken (fault never took effect"}},
		{"not run outranks breached", []reports.Scenario{breach, broken}, exitcode.NotRun, []string{"could not run: broken", "targets not met: breach (BREACH)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := outcome(tc.list)
			if got := exitcode.Of(err); got != tc.want {
				t.Errorf("exit code = %d (%v), want %d", got, err, tc.want)
			}
			for _, s := range tc.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error %v does not say %q", err, s)
				}
			}
		})
	}
}
