package runner

import (
	"errors"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/scenarios"
)

func scenarioIn(ns string) *scenarios.Scenario {
	return &scenarios.Scenario{Name: "s-" + ns, Source: scenarios.Source{File: "f.yaml", Line: 3}, Target: scenarios.Target{Namespace: ns}}
}

func TestCheckSafety(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		ns   string
		want string
	}{
		{"allowed namespace on the lab", Options{OnLab: true, AllowNamespaces: []string{"demo"}}, "demo", ""},
		{"kube-system is refused even when allowed", Options{OnLab: true, AllowNamespaces: []string{"kube-system"}}, "kube-system", "never injects faults there"},
		{"namespace outside the allowlist", Options{OnLab: true, AllowNamespaces: []string{"demo"}}, "prod", "add --allow-namespace prod"},
		{"another cluster needs --yes", Options{AllowNamespaces: []string{"demo"}, Context: "aks-prod"}, "demo", "pass --yes"},
		{"another cluster with --yes", Options{AllowNamespaces: []string{"demo"}, Yes: true}, "demo", ""},
		{"a dry run needs no --yes", Options{AllowNamespaces: []string{"demo"}, DryRun: true}, "demo", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSafety(tc.opts, []*scenarios.Scenario{scenarioIn(tc.ns)})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrRefused containing %q", err, tc.want)
			}
		})
	}
}

func TestLadderTargetsPickTheRung(t *testing.T) {
	t.Parallel()
	ladder, err := scenarios.DefaultLadder()
	if err != nil {
		t.Fatal(err)
	}
	rungs, strictest, err := ladderTargets(ladder, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rungs) != len(ladder.Rungs) {
		t.Fatalf("%d rungs, want %d", len(rungs), len(ladder.Rungs))
	}
	_, first, err := ladderTargets(ladder, ladder.Rungs[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if *first[scenarios.DisruptionNode].RTO <= *strictest[scenarios.DisruptionNode].RTO {
		t.Errorf("the first rung's node RTO %s should be looser than the strictest's %s", *first[scenarios.DisruptionNode].RTO, *strictest[scenarios.DisruptionNode].RTO)
	}
	if *first[scenarios.DisruptionNode].RTO != ladder.Rungs[0].Targets[scenarios.DisruptionNode].RTO {
		t.Errorf("targets not taken from the named rung")
	}
	if _, _, err := ladderTargets(ladder, "gold"); err == nil || !strings.Contains(err.Error(), "backup-restore") {
		t.Errorf("an unknown rung should list the ladder's rungs: %v", err)
	}
}
