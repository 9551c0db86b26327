package scenarios_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reboundhq/rebound/scenarios"
)

func TestCatalog(t *testing.T) {
	t.Parallel()
	all, err := scenarios.Catalog()
	if err != nil {
		t.Fatalf("the embedded catalog does not load:\n%v", err)
	}
	var names []string
	for _, s := range all {
		names = append(names, s.Name)
		if errs := s.Validate(); len(errs) > 0 {
			t.Errorf("%s: Validate after loading: %v", s.Name, errs)
		}
		if want := "scenarios/catalog/" + s.Name + "/scenario.yaml"; s.Source.File != want {
			t.Errorf("scenario %s comes from %s; each scenario lives in catalog/<its name>/scenario.yaml", s.Name, s.Source.File)
		}
		if s.Description == "" {
			t.Errorf("%s has no description; listings show it", s.Name)
		}
		// Every scenario targets a demo app of the lab with that app's
		// driver: etcd, or postgres for the postgres game day.
		app := string(scenarios.DriverEtcd)
		if s.GameDay() == "postgres" {
			app = string(scenarios.DriverPostgres)
		}
		if s.Target.Namespace != "rebound-demo" || string(s.Target.Driver) != app ||
			s.Target.LabelSelector.MatchLabels["app.kubernetes.io/name"] != app {
			t.Errorf("%s does not target the lab's %s demo app: %+v", s.Name, app, s.Target)
		}
	}
	for _, want := range []string{"node-loss", "zone-outage", "disk-loss", "human-error", "pod-kill", "pause",
		"postgres-node-loss", "postgres-zone-outage", "postgres-partition", "postgres-replica-disk-loss", "postgres-human-error"} {
		if !slices.Contains(names, want) {
			t.Errorf("catalog lacks %s; it has %v", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("Catalog is not sorted by name: %v", names)
	}
}

// TestCatalogFolders catches a folder that the embed pattern would skip
// without a word, such as one whose file is misnamed.
func TestCatalogFolders(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("catalog")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join("catalog", e.Name(), "scenario.yaml")); err != nil {
			t.Errorf("catalog/%s has no scenario.yaml, so it is not embedded", e.Name())
		}
		if _, err := scenarios.CatalogScenario(e.Name()); err != nil {
			t.Errorf("folder catalog/%s: %v", e.Name(), err)
		}
	}
}

func TestCatalogScenarioNotFound(t *testing.T) {
	t.Parallel()
	_, err := scenarios.CatalogScenario("node-los")
	if !errors.Is(err, scenarios.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if want := `did you mean "node-loss"?`; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
}

func TestDefaultGameDay(t *testing.T) {
	t.Parallel()
	day, err := scenarios.DefaultGameDay()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name       string
		disruption scenarios.Disruption
		kind       scenarios.FaultKind
		recovery   scenarios.RecoveryPath
	}
	wants := []want{
		{"node-loss", scenarios.DisruptionNode, scenarios.FaultNodeStop, scenarios.RecoverySelfHeal},
		{"zone-outage", scenarios.DisruptionZone, scenarios.FaultZoneStop, scenarios.RecoverySelfHeal},
		{"disk-loss", scenarios.DisruptionDisk, scenarios.FaultDiskWipe, scenarios.RecoverySelfHeal},
		{"human-error", scenarios.DisruptionHumanError, scenarios.FaultAppDelete, scenarios.RecoveryRestore},
		{"region-loss", scenarios.DisruptionRegion, scenarios.FaultRegionLoss, scenarios.RecoveryRestore},
	}
	var got []want
	for _, s := range day {
		got = append(got, want{s.Name, s.Disruption, s.Fault.Kind, s.Recovery.Path})
	}
	if diff := cmp.Diff(wants, got, cmp.AllowUnexported(want{})); diff != "" {
		t.Errorf("default game day, in running order (-want +got):\n%s", diff)
	}
	for _, s := range day {
		switch s.Name {
		case "node-loss":
			if !s.Fault.Leader {
				t.Errorf("node-loss should stop the leader's node: %+v", s.Fault)
			}
		case "human-error":
			if !s.Backup.Before || s.Fault.AppDelete == nil || s.Fault.AppDelete.Prefix == "" {
				t.Errorf("human-error should delete a key prefix and restore a backup taken before: %+v %+v", s.Fault, s.Backup)
			}
		case "region-loss":
			// Every disruption type of the default ladder is measured, the
			// region row by a restore into another lab of a schedule's
			// backup, the schedule run by rebound during the game day.
			if s.DR == nil || s.DR.Lab == "" || s.DR.Namespace != s.Target.Namespace || s.Backup.Schedule == "" || s.Backup.Every <= 0 || s.Backup.Before {
				t.Errorf("region-loss should restore a schedule's backup (every > 0) into a DR lab: dr %+v backup %+v", s.DR, s.Backup)
			}
		}
	}
}

func TestCatalogGameDayNotFound(t *testing.T) {
	t.Parallel()
	smoke, err := scenarios.CatalogGameDay(scenarios.SmokeGameDayName)
	if err != nil || len(smoke) == 0 {
		t.Fatalf("smoke game day: %v, %d scenarios", err, len(smoke))
	}
	if _, err := scenarios.CatalogGameDay("defualt"); !errors.Is(err, scenarios.ErrNotFound) || !strings.Contains(err.Error(), `did you mean "default"?`) {
		t.Errorf("err = %v, want ErrNotFound with a suggestion", err)
	}
}

func TestDefaultLadder(t *testing.T) {
	t.Parallel()
	l, err := scenarios.DefaultLadder()
	if err != nil {
		t.Fatalf("the embedded ladder does not load:\n%v", err)
	}
	var names []string
	for _, r := range l.Rungs {
		names = append(names, r.Name)
		if r.Description == "" {
			t.Errorf("rung %s has no description", r.Name)
		}
		for _, d := range scenarios.Disruptions {
			if _, ok := r.Targets[d]; !ok {
				t.Errorf("rung %s sets no target for %s", r.Name, d)
			}
		}
	}
	if want := []string{"backup-restore", "frequent-snapshots", "zone-redundant", "multi-region"}; !slices.Equal(names, want) {
		t.Errorf("rungs = %v, want %v", names, want)
	}
	if errs := l.Validate(); len(errs) > 0 {
		t.Errorf("Validate: %v", errs)
	}

	// Spot checks of documented values, so an edit that changes verdicts is
	// a deliberate one.
	br := l.Rungs[0].Targets[scenarios.DisruptionNode]
	if br.RTO != 4*time.Hour || br.RPO.Time == nil || *br.RPO.Time != 24*time.Hour || br.RPO.Writes != nil {
		t.Errorf("backup-restore node target = %+v, want RTO 4h, RPO 24h", br)
	}
	zr := l.Rungs[2].Targets[scenarios.DisruptionZone]
	if zr.RTO != time.Minute || zr.RPO.Writes == nil || *zr.RPO.Writes != 0 {
		t.Errorf("zone-redundant zone target = %+v, want RTO 60s, RPO 0 writes", zr)
	}
}

// TestRoundTrip writes every built-in object back to YAML and reads it again:
// what `rebound scenarios show` prints must load as the same object.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	all, err := scenarios.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	ladder, err := scenarios.DefaultLadder()
	if err != nil {
		t.Fatal(err)
	}
	ignoreSource := cmpopts.IgnoreFields(scenarios.Scenario{}, "Source")
	for _, s := range all {
		data, err := scenarios.Marshal(scenarios.ScenarioToV1Alpha1(s))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := scenarios.Parse(s.Name+".yaml", data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, data)
		}
		if diff := cmp.Diff(s, objs.Scenarios[0], ignoreSource); diff != "" {
			t.Errorf("%s changed on a round trip (-before +after):\n%s", s.Name, diff)
		}
	}
	data, err := scenarios.Marshal(scenarios.LadderToV1Alpha1(ladder))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := scenarios.Parse("ladder.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ladder, objs.Ladders[0], cmpopts.IgnoreFields(scenarios.Ladder{}, "Source")); diff != "" {
		t.Errorf("ladder changed on a round trip (-before +after):\n%s", diff)
	}
}
