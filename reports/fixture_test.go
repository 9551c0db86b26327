package reports_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

const (
	ms = time.Millisecond
	s  = time.Second
)

var (
	runStart = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	runEnd   = runStart.Add(24*time.Minute + 31*s)
)

func millis(d time.Duration) *measure.Millis { m := measure.Millis(d); return &m }

// lostWrites gives ids ack instants 1s apart from first (from T0).
func lostWrites(ids []string, first time.Duration) []measure.LostWrite {
	out := make([]measure.LostWrite, len(ids))
	for i, id := range ids {
		out[i] = measure.LostWrite{ID: id, Acked: measure.Millis(first + time.Duration(i)*s)}
	}
	return out
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i+1)
	}
	return out
}

// probeTrack is the probe track of a scenario whose availability probe ran
// every 100ms from..to on the scenario's timeline, each probe answering in
// 5ms, and failed when it started inside one of down (start, end pairs).
func probeTrack(from, to time.Duration, down ...[2]time.Duration) []reports.ProbeSpan {
	var samples []measure.ProbeSample
	for at := from; at < to; at += 100 * ms {
		ok := true
		for _, d := range down {
			if at >= d[0] && at < d[1] {
				ok = false
			}
		}
		samples = append(samples, measure.ProbeSample{Start: at, End: at + 5*ms, OK: ok})
	}
	return reports.ProbeSpans(samples)
}

// judged sets r's verdict as the runner would, through measure.Judge, so
// the fixture's verdicts are measure's, not ours.
func judged(r measure.Result, t measure.Targets) measure.Result {
	r.Verdict = measure.Judge(r, t)
	return r
}

// passScenario: a node stopped, the app healed itself within every target;
// a second, shorter outage 12s after the fault (a member rejoining) sets RTO.
func passScenario() reports.Scenario {
	t := measure.Targets{RTO: new(60 * s), RPOWrites: new(0)}
	return reports.Scenario{
		Name: "etcd-node-stop", Disruption: "node", Fault: "node-stop", Recovery: "self-heal",
		Target: "etcd in rebound-demo", StartedAt: runStart.Add(5 * s), Duration: measure.Millis(3*time.Minute + 12*s),
		Targets: t,
		Result: judged(measure.Result{
			ServiceRestored: true, RTO: millis(16200 * ms), RTOResolution: measure.Millis(100 * ms),
			StabilityWindow: measure.Millis(10 * s), Observed: measure.Millis(2 * time.Minute),
			Outages:      []measure.Outage{{Start: 150 * ms, End: 4200 * ms}, {Start: 12 * s, End: 16200 * ms}},
			TimeToImpact: millis(150 * ms), Downtime: measure.Millis(8250 * ms),
			Probes: 1200, FailedProbes: 41, ErrorRate: 41.0 / 1200,
			RedundancyRestored: true, TimeToFullRedundancy: millis(38500 * ms), FullRedundancyResolution: measure.Millis(500 * ms),
			RedundancyDegraded: "2/3 members healthy",
			DataChecked:        true, DataSafe: true,
			WritesInvoked: 1210, WritesAcked: 1200, WritesFailed: 6, WritesIndeterminate: 4, IDsRead: 1202,
			Lost: []string{}, Unexpected: []string{}, Recovered: []string{"w01201", "w01207"}, RecoveredCount: 2,
			RPOWrites: new(0), RPO: millis(0),
			ExpectedLoss: []string{}, LostBeforeBackup: []string{},
		}, t),
		Events: []measure.Event{
			{At: 30 * s, Kind: measure.FaultApplied, Detail: "stop node lab-1a-1"},
			{At: 30*s + 150*ms, Kind: measure.FirstFailure},
			{At: 90 * s, Kind: measure.FaultRecovered, Detail: "start node lab-1a-1"},
			{At: 150 * s, Kind: measure.ObservationEnded, Detail: "one stability window after the fault was over"},
		},
		Probes: probeTrack(5*s, 150*s, [2]time.Duration{30*s + 150*ms, 34*s + 195*ms}, [2]time.Duration{42 * s, 46*s + 195*ms}),
	}
}

// notRestoredScenario: a zone froze and the service never came back within
// observation; the final read could not be done.
func notRestoredScenario() reports.Scenario {
	t := measure.Targets{RTO: new(2 * time.Minute), RPOWrites: new(0)}
	return reports.Scenario{
		Name: "etcd-zone-freeze", Disruption: "zone", Fault: "zone-freeze", Recovery: "self-heal",
		Target: "etcd in rebound-demo", StartedAt: runStart.Add(3*time.Minute + 20*s), Duration: measure.Millis(6*time.Minute + 40*s),
		Targets: t,
		Result: judged(measure.Result{
			RTOResolution: measure.Millis(100 * ms), StabilityWindow: measure.Millis(10 * s),
			Observed: measure.Millis(5 * time.Minute), Outages: []measure.Outage{{Start: 0, Open: true}},
			TimeToImpact: millis(0), Downtime: measure.Millis(5 * time.Minute),
			Probes: 3000, FailedProbes: 3000, ErrorRate: 1,
			RedundancyDegraded: "1/3 members healthy",
			Lost:               []string{}, Unexpected: []string{}, Recovered: []string{},
			ExpectedLoss: []string{}, LostBeforeBackup: []string{},
		}, t),
		Notes: []string{"final read failed: context deadline exceeded"},
		Events: []measure.Event{
			{At: 30 * s, Kind: measure.FaultApplied, Detail: "freeze zone lab-1b"},
			{At: 330 * s, Kind: measure.FaultRecovered, Detail: "start zone lab-1b"},
			{At: 330 * s, Kind: measure.ObservationEnded, Detail: "recover timeout (5m0s): not restored"},
		},
		Probes: probeTrack(5*s, 330*s, [2]time.Duration{30 * s, 330 * s}),
	}
}

// restoreScenario: keys deleted, restored from a backup: twelve writes acked
// after the backup's cut are the expected loss, and one acked before it is
// missing — a bug. Neither counts against etcd's promise of no lost write.
func restoreScenario() reports.Scenario {
	t := measure.Targets{RTO: new(5 * time.Minute), RPOTime: new(15 * time.Minute)}
	expected := ids("w1", 12)
	lost := append([]string{"w00100"}, expected...)
	return reports.Scenario{
		Name: "etcd-delete-keys", Disruption: "human-error", Fault: "delete-keys", Recovery: "restore",
		Target: "etcd in rebound-demo", StartedAt: runStart.Add(10 * time.Minute), Duration: measure.Millis(9*time.Minute + 5*s),
		Targets: t,
		Result: judged(measure.Result{
			ServiceRestored: true, RTO: millis(3*time.Minute + 5400*ms), RTOResolution: measure.Millis(100 * ms),
			StabilityWindow: measure.Millis(10 * s), Observed: measure.Millis(6 * time.Minute),
			Outages:      []measure.Outage{{Start: 0, End: 3*time.Minute + 5400*ms}},
			TimeToImpact: millis(0), Downtime: measure.Millis(3*time.Minute + 5400*ms),
			Probes: 3600, FailedProbes: 1854, ErrorRate: 1854.0 / 3600,
			RedundancyRestored: true, TimeToFullRedundancy: millis(3*time.Minute + 20*s), FullRedundancyResolution: measure.Millis(5 * s),
			RedundancyDegraded: "0/3 members healthy",
			DataChecked:        true,
			WritesInvoked:      2100, WritesAcked: 2000, WritesFailed: 100, IDsRead: 1987,
			Lost: lost, LostCount: len(lost), LostWrites: lostWrites(lost, -4*time.Minute-10*s),
			Unexpected: []string{}, Recovered: []string{},
			RPOWrites: new(12), RPO: millis(4*time.Minute + 9800*ms),
			RestoredBackup: "b-20260314-0855", BackupAge: millis(4*time.Minute + 10*s),
			ExpectedLoss: expected, ExpectedLossCount: len(expected),
			LostBeforeBackup: []string{"w00100"}, LostBeforeBackupCount: 1, BugCheck: measure.BugCheckMade,
			LostWritesAllowed: new(0), PromiseWhy: "raft: a write is acknowledged once a majority has it",
		}, t),
		Events: []measure.Event{
			{At: 20 * s, Kind: measure.BackupTaken, Detail: "b-20260314-0855", Cut: 15 * s},
			{At: 265 * s, Kind: measure.FaultApplied, Detail: "delete all keys under /demo"},
			{At: 270 * s, Kind: measure.RecoveryStarted, Detail: "restore b-20260314-0855"},
			{At: 450 * s, Kind: measure.RecoveryFinished, Detail: "restore b-20260314-0855"},
		},
		Probes: probeTrack(5*s, 625*s, [2]time.Duration{265 * s, 450*s + 395*ms}),
	}
}

// errorScenario could not inject its fault.
func errorScenario() reports.Scenario {
	return reports.Scenario{
		Name: "etcd-disk-fill", Disruption: "disk", Fault: "disk-fill", Recovery: "self-heal",
		Target: "etcd in rebound-demo", StartedAt: runStart.Add(19*time.Minute + 10*s), Duration: measure.Millis(12 * s),
		Targets: measure.Targets{RTO: new(60 * s), RPOWrites: new(0)},
		Error:   "inject disk-fill: Chaos Mesh IOChaos CRD not installed",
	}
}

var ladder = []measure.Rung{
	{Name: "bronze", Targets: map[measure.DisruptionType]measure.Targets{
		"node":        {RTO: new(5 * time.Minute), RPOWrites: new(10)},
		"zone":        {RTO: new(10 * time.Minute)},
		"disk":        {RTO: new(10 * time.Minute)},
		"human-error": {RTO: new(30 * time.Minute), RPOTime: new(time.Hour)},
		"region":      {RTO: new(4 * time.Hour)},
	}},
	{Name: "silver", Targets: map[measure.DisruptionType]measure.Targets{
		"node":        {RTO: new(60 * s), RPOWrites: new(0)},
		"zone":        {RTO: new(2 * time.Minute), RPOWrites: new(0)},
		"disk":        {RTO: new(2 * time.Minute), RPOWrites: new(0)},
		"human-error": {RTO: new(10 * time.Minute), RPOTime: new(15 * time.Minute)},
	}},
}

// fixtureRun is the fixed run every golden file is rendered from: a pass, a
// breach that was not restored, a restore with expected loss and a bug loss,
// and a scenario that could not run. It is finalized.
func fixtureRun(t testing.TB) *reports.Run {
	t.Helper()
	run := &reports.Run{
		ID: "20260314-090000-gameday", StartedAt: runStart,
		Cluster: "lab", Ladder: "default",
		Scenarios: []reports.Scenario{passScenario(), notRestoredScenario(), restoreScenario(), errorScenario()},
	}
	var results []measure.ScenarioResult
	for _, sc := range run.Scenarios {
		if sc.Error == "" { // what could not run shows nothing, so it climbs no rung
			results = append(results, measure.ScenarioResult{Name: sc.Name, Disruption: measure.DisruptionType(sc.Disruption), Result: sc.Result})
		}
	}
	run.Achieved = measure.AchievedRungs(ladder, results)
	if err := run.Finalize(runEnd); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	return run
}

// judgeOf judges a scenario's result against its own targets.
func judgeOf(sc reports.Scenario) measure.Verdict { return measure.Judge(sc.Result, sc.Targets) }

// unknownCutScenario is restoreScenario restored from a crash-consistent
// volume copy whose cut instant is unknown: the same 13 lost writes cannot
// be split into expected loss and bug. It is not in fixtureRun.
func unknownCutScenario() reports.Scenario {
	sc := restoreScenario()
	sc.Name = "etcd-delete-keys-volume-copy"
	r := &sc.Result
	r.ExpectedLoss, r.ExpectedLossCount = []string{}, 0
	r.LostBeforeBackup, r.LostBeforeBackupCount = []string{}, 0
	r.BackupAge, r.RPOWrites = nil, new(13)
	r.BugCheck = "not made: backup b-20260314-0855 has no known cut (volume copied file by file while etcd ran), so a lost write cannot be told apart as expected loss or bug"
	r.LostWritesAllowed = nil
	r.Verdict = judgeOf(sc)
	sc.Events[0] = measure.Event{At: 20 * s, Kind: measure.BackupTaken, Detail: "b-20260314-0855", CutUnknown: "volume copied file by file while etcd ran"}
	return sc
}

// finalRun finalizes a run of these scenarios.
func finalRun(t testing.TB, scs ...reports.Scenario) *reports.Run {
	t.Helper()
	run := &reports.Run{ID: "r", StartedAt: runStart, Scenarios: scs}
	if err := run.Finalize(runEnd); err != nil {
		t.Fatal(err)
	}
	return run
}
