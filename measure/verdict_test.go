package measure_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reboundhq/rebound/measure"
)

// resultBuilder makes Results for verdict and ladder tests; it starts from a
// clean run: restored with RTO 0, data checked, nothing lost.
type resultBuilder struct{ r measure.Result }

func aResult() *resultBuilder {
	zero := measure.Millis(0)
	return &resultBuilder{r: measure.Result{
		ServiceRestored: true, RTO: &zero, RTOResolution: measure.Millis(100 * ms),
		RedundancyRestored: true, TimeToFullRedundancy: &zero,
		DataChecked: true, DataSafe: true, RPOWrites: new(0), RPO: &zero,
	}}
}

func (b *resultBuilder) rto(d time.Duration) *resultBuilder {
	m := measure.Millis(d)
	b.r.RTO = &m
	return b
}

func (b *resultBuilder) degraded() *resultBuilder {
	b.r.RedundancyRestored, b.r.TimeToFullRedundancy = false, nil
	return b
}

func (b *resultBuilder) notRestored(observed time.Duration) *resultBuilder {
	b.r.ServiceRestored, b.r.RTO, b.r.Observed = false, nil, measure.Millis(observed)
	return b
}

func (b *resultBuilder) lost(n int, rpo time.Duration) *resultBuilder {
	m := measure.Millis(rpo)
	b.r.LostCount, b.r.RPOWrites, b.r.RPO, b.r.DataSafe = n, &n, &m, n == 0
	return b
}

func (b *resultBuilder) lostBeforeBackup(n int) *resultBuilder {
	b.r.LostBeforeBackupCount, b.r.LostCount, b.r.DataSafe = n, b.r.LostCount+n, false
	return b
}

func (b *resultBuilder) unexpected(n int) *resultBuilder {
	b.r.UnexpectedCount, b.r.DataSafe = n, false
	return b
}

func (b *resultBuilder) unchecked() *resultBuilder {
	b.r.DataChecked, b.r.DataSafe, b.r.RPOWrites, b.r.RPO = false, false, nil, nil
	return b
}

func (b *resultBuilder) build() measure.Result { return b.r }

func TestJudge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		result   measure.Result
		targets  measure.Targets
		pass     bool
		bug      bool
		breaches []string // each must appear in one breach, in order
		results  []measure.TargetResult
	}{
		{
			name:   "a clean run with no targets passes",
			result: aResult().rto(2 * s).build(),
			pass:   true,
		},
		{
			name:     "service back but a member never rejoined breaches, whatever the RTO",
			result:   aResult().rto(time.Second).degraded().build(),
			targets:  measure.Targets{RTO: new(5 * s)},
			breaches: []string{measure.RedundancyNotRestored},
			results:  []measure.TargetResult{{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Measured: new(1000.0), Target: 5000, Met: true}},
		},
		{
			name:    "RTO within target",
			result:  aResult().rto(2 * s).build(),
			targets: measure.Targets{RTO: new(5 * s)},
			pass:    true,
			results: []measure.TargetResult{{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Measured: new(2000.0), Target: 5000, Met: true}},
		},
		{
			name:    "RTO equal to target meets it",
			result:  aResult().rto(5 * s).build(),
			targets: measure.Targets{RTO: new(5 * s)},
			pass:    true,
			results: []measure.TargetResult{{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Measured: new(5000.0), Target: 5000, Met: true}},
		},
		{
			name:     "RTO over target breaches",
			result:   aResult().rto(2 * s).build(),
			targets:  measure.Targets{RTO: new(time.Second)},
			breaches: []string{"rto: 2s > target 1s"},
			results:  []measure.TargetResult{{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Measured: new(2000.0), Target: 1000, Met: false}},
		},
		{
			name:     "not restored breaches even without targets",
			result:   aResult().notRestored(30 * s).build(),
			breaches: []string{"service not restored within observation (observed 30s after the fault)"},
		},
		{
			name:     "not restored fails the RTO target with nothing measured, and says so once",
			result:   aResult().notRestored(30 * s).build(),
			targets:  measure.Targets{RTO: new(time.Minute)},
			breaches: []string{measure.NotRestored},
			results:  []measure.TargetResult{{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Target: 60000, Met: false}},
		},
		{
			name:     "loss before the backup's cut is a bug whatever the targets",
			result:   aResult().lostBeforeBackup(1).build(),
			bug:      true,
			breaches: []string{"bug: 1 writes acknowledged before the backup's cut are missing"},
		},
		{
			name:     "unexpected ids are a bug",
			result:   aResult().unexpected(2).build(),
			bug:      true,
			breaches: []string{"bug: the final read found 2 ids that were never written"},
		},
		{
			name:     "lost writes breach an RPO of 0 writes but can meet an RPO in time",
			result:   aResult().lost(3, 500*ms).build(),
			targets:  measure.Targets{RPOWrites: new(0), RPOTime: new(time.Second)},
			breaches: []string{"rpoWrites: 3 writes lost > target 0"},
			results: []measure.TargetResult{
				{Metric: measure.MetricRPOWrites, Unit: measure.UnitWrites, Measured: new(3.0), Target: 0, Met: false},
				{Metric: measure.MetricRPOTime, Unit: measure.UnitMillis, Measured: new(500.0), Target: 1000, Met: true},
			},
		},
		{
			name:    "lost writes with no RPO target are no breach",
			result:  aResult().lost(3, 500*ms).build(),
			targets: measure.Targets{RTO: new(time.Minute)},
			pass:    true,
			results: []measure.TargetResult{{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Measured: new(0.0), Target: 60000, Met: true}},
		},
		{
			name:     "RPO targets with no final read are not met",
			result:   aResult().unchecked().build(),
			targets:  measure.Targets{RPOWrites: new(10), RPOTime: new(time.Minute)},
			breaches: []string{"rpoWrites: data not checked", "rpoTime: data not checked"},
			results: []measure.TargetResult{
				{Metric: measure.MetricRPOWrites, Unit: measure.UnitWrites, Target: 10, Met: false},
				{Metric: measure.MetricRPOTime, Unit: measure.UnitMillis, Target: 60000, Met: false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := measure.Judge(tt.result, tt.targets)
			if got.Pass != tt.pass || got.Bug != tt.bug {
				t.Errorf("Pass, Bug = %v, %v; want %v, %v (breaches %q)", got.Pass, got.Bug, tt.pass, tt.bug, got.Breaches)
			}
			if len(got.Breaches) != len(tt.breaches) {
				t.Errorf("breaches = %q, want %d like %q", got.Breaches, len(tt.breaches), tt.breaches)
			} else {
				for i, want := range tt.breaches {
					if !strings.Contains(got.Breaches[i], want) {
						t.Errorf("breach %d = %q, want it to contain %q", i, got.Breaches[i], want)
					}
				}
			}
			ignoreReason := cmpopts.IgnoreFields(measure.TargetResult{}, "Reason")
			if diff := cmp.Diff(tt.results, got.Targets, ignoreReason, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("target results (-want +got):\n%s", diff)
			}
			for _, tr := range got.Targets {
				if tr.Reason == "" {
					t.Errorf("target %s has no reason", tr.Metric)
				}
			}
		})
	}
}
