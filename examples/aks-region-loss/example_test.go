package example

import (
	"os"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/scenarios"
)

// The scenario loads, is a region disruption recovered by a restore into a
// cluster other than the target's, and the README runs it with the flags
// that cluster needs.
func TestRegionLossScenario(t *testing.T) {
	objs, err := scenarios.Load("region-loss.yaml")
	if err != nil {
		t.Fatalf("region-loss.yaml:\n%v", err)
	}
	if len(objs.Scenarios) != 1 {
		t.Fatalf("region-loss.yaml holds %d scenarios, want 1", len(objs.Scenarios))
	}
	s := objs.Scenarios[0]
	if s.Disruption != scenarios.DisruptionRegion || s.Recovery.Path != scenarios.RecoveryRestore || s.DR == nil || s.Backup.Schedule == "" {
		t.Fatalf("want a region disruption restored into spec.dr from a schedule, got %s/%s dr %+v backup %+v", s.Disruption, s.Recovery.Path, s.DR, s.Backup)
	}
	if s.DR.Context == "" || s.DR.Context == s.Target.Context {
		t.Errorf("the DR context %q must name another cluster than the target's %q", s.DR.Context, s.Target.Context)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--allow-namespace " + s.Target.Namespace, "--yes", "--backup-repo azblob://", "--backup-mover-env-secret",
		"--context " + s.Target.Context, s.DR.Context, "--tag-policy " + s.Backup.Schedule,
	} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md does not show %q", want)
		}
	}
}
