package run

import (
	"strings"
	"testing"

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
