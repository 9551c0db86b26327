package measure_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
)

func TestAchievedRung(t *testing.T) {
	t.Parallel()
	rtoRung := func(name string, rto time.Duration) measure.Rung {
		return measure.Rung{Name: name, Targets: map[measure.DisruptionType]measure.Targets{
			"node": {RTO: new(rto), RPOWrites: new(0)},
			"zone": {RTO: new(rto * 2)},
		}}
	}
	ladder := []measure.Rung{rtoRung("bronze", time.Minute), rtoRung("silver", 10*s), rtoRung("gold", s)}
	node := func(name string, r measure.Result) measure.ScenarioResult {
		return measure.ScenarioResult{Name: name, Disruption: "node", Result: r}
	}

	tests := []struct {
		name       string
		rungs      []measure.Rung
		scenarios  []measure.ScenarioResult
		disruption measure.DisruptionType
		want       measure.Achievement
		blocked    []string // substrings of Blocked, in order
	}{
		{
			name:       "the highest rung every scenario met",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{node("kill-leader", aResult().rto(5*s).build()), node("drain", aResult().rto(8*s).build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 2, Rung: "silver", Level: 2},
			blocked:    []string{`rung "gold": scenario "kill-leader": rto: 5s > target 1s`, `rung "gold": scenario "drain": rto: 8s > target 1s`},
		},
		{
			name:       "one slow scenario holds the type down",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{node("fast", aResult().rto(500*ms).build()), node("slow", aResult().rto(30*s).build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 2, Rung: "bronze", Level: 1},
			blocked:    []string{`rung "silver": scenario "slow"`},
		},
		{
			name:       "every rung met",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{node("fast", aResult().rto(500*ms).build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 1, Rung: "gold", Level: 3},
		},
		{
			name:       "none when even the lowest rung fails",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{node("lossy", aResult().lost(4, 2*s).build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 1},
			blocked:    []string{`rung "bronze": scenario "lossy": rpoWrites`},
		},
		{
			name:       "a failed recovery achieves nothing, whatever the numbers",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{{Name: "no-backup", Disruption: "node", Result: aResult().build(), Failed: "restore failed: no backup"}},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 1},
			blocked:    []string{`rung "bronze": scenario "no-backup": restore failed: no backup`},
		},
		{
			name:       "not restored achieves nothing",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{node("stuck", aResult().notRestored(time.Minute).build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 1},
			blocked:    []string{measure.NotRestored},
		},
		{
			name:  "a bug achieves nothing even against lax targets",
			rungs: []measure.Rung{{Name: "lax", Targets: map[measure.DisruptionType]measure.Targets{"human-error": {}}}},
			scenarios: []measure.ScenarioResult{
				{Name: "drop-table", Disruption: "human-error", Result: aResult().lostBeforeBackup(1).build()},
			},
			disruption: "human-error",
			want:       measure.Achievement{Disruption: "human-error", Covered: true, Scenarios: 1},
			blocked:    []string{"bug:"},
		},
		{
			name:       "no scenario of the type is not covered, not failed",
			rungs:      ladder,
			scenarios:  []measure.ScenarioResult{node("fast", aResult().build())},
			disruption: "zone",
			want:       measure.Achievement{Disruption: "zone"},
		},
		{
			name: "climbing stops at the first rung missed, even if a higher one is met",
			rungs: []measure.Rung{
				{Name: "one", Targets: map[measure.DisruptionType]measure.Targets{"node": {RPOWrites: new(10)}}},
				{Name: "two", Targets: map[measure.DisruptionType]measure.Targets{"node": {RPOWrites: new(0)}}},
				{Name: "three", Targets: map[measure.DisruptionType]measure.Targets{"node": {RPOWrites: new(100)}}},
			},
			scenarios:  []measure.ScenarioResult{node("lossy", aResult().lost(5, s).build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 1, Rung: "one", Level: 1},
			blocked:    []string{`rung "two"`},
		},
		{
			name: "a rung with no targets for the type stops the climb",
			rungs: []measure.Rung{
				rtoRung("bronze", time.Minute),
				{Name: "regional", Targets: map[measure.DisruptionType]measure.Targets{"region": {RTO: new(time.Hour)}}},
				rtoRung("gold", s),
			},
			scenarios:  []measure.ScenarioResult{node("fast", aResult().build())},
			disruption: "node",
			want:       measure.Achievement{Disruption: "node", Covered: true, Scenarios: 1, Rung: "bronze", Level: 1},
			blocked:    []string{`rung "regional" sets no targets for node`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := measure.AchievedRung(tt.rungs, tt.scenarios, tt.disruption)
			blocked := got.Blocked
			got.Blocked = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AchievedRung (-want +got):\n%s", diff)
			}
			if len(blocked) != len(tt.blocked) {
				t.Fatalf("Blocked = %q, want %d like %q", blocked, len(tt.blocked), tt.blocked)
			}
			for i, want := range tt.blocked {
				if !strings.Contains(blocked[i], want) {
					t.Errorf("Blocked[%d] = %q, want it to contain %q", i, blocked[i], want)
				}
			}
		})
	}
}

func TestAchievedRungsCoversEveryType(t *testing.T) {
	t.Parallel()
	rungs := []measure.Rung{{Name: "bronze", Targets: map[measure.DisruptionType]measure.Targets{
		"node": {RTO: new(time.Minute)}, "zone": {RTO: new(time.Minute)},
	}}}
	scenarios := []measure.ScenarioResult{
		{Name: "kill", Disruption: "node", Result: aResult().rto(s).build()},
		{Name: "rm", Disruption: "disk", Result: aResult().build()},
	}
	got := measure.AchievedRungs(rungs, scenarios)
	type row struct {
		Disruption measure.DisruptionType
		Covered    bool
		Rung       string
	}
	var rows []row
	for _, a := range got {
		rows = append(rows, row{a.Disruption, a.Covered, a.Rung})
	}
	want := []row{
		{"disk", true, ""}, // ran, but the ladder sets nothing for disk
		{"node", true, "bronze"},
		{"zone", false, ""},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("AchievedRungs (-want +got):\n%s", diff)
	}
}
