package measure_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
)

// TestWorkedTimeline is the worked timeline of docs/measurement.md: if this
// test changes, the page must change with it.
func TestWorkedTimeline(t *testing.T) {
	t.Parallel()
	const t0 = 5 * s
	var rec measure.Recording
	rec.Events = []measure.Event{
		{At: 2400 * ms, Kind: measure.BackupTaken, Detail: "b-1", Cut: 2 * s},
		{At: t0, Kind: measure.FaultApplied, Detail: "delete all keys"},
		{At: 6 * s, Kind: measure.RecoveryStarted, Detail: "restore b-1"},
		{At: 8 * s, Kind: measure.RecoveryFinished, Detail: "restore b-1"},
		{At: 33200 * ms, Kind: measure.ObservationEnded},
	}
	for i := 0; i <= 281; i++ { // probes every 100ms from 5.000s to 33.100s
		at := t0 + time.Duration(i)*100*ms
		p := measure.ProbeSample{Start: at, End: at + probeLatency, OK: true}
		switch {
		case at >= 5100*ms && at <= 8000*ms, at >= 21*s && at <= 22900*ms:
			p.OK = false
		case at == 8100*ms:
			p.End = 8350 * ms // hung, then answered
		}
		rec.Probes = append(rec.Probes, p)
	}
	for at := t0; at <= 30*s; at += s { // a redundancy sample every second
		rec.Redundancy = append(rec.Redundancy, measure.RedundancySample{At: at, Full: at >= 25*s})
	}
	rec.Writes = history{}.ok("w1", 1500*ms, 1502*ms).ok("w2", 1800*ms, 1802*ms).
		ok("w3", 3*s, 3002*ms).ok("w4", 4500*ms, 4502*ms).
		info("w5", 5300*ms, 6300*ms).fail("w6", 5400*ms, 5410*ms).
		ok("w8", 20*s, 20002*ms).pending("w7", 33*s)
	rec.Read, rec.ReadDone = []string{"w1", "w5", "w8"}, true

	opts := measure.Options{
		StabilityWindow: 10 * s, RestoredBackup: "b-1",
		Targets:           measure.Targets{RTO: new(30 * s), RPOTime: new(5 * time.Minute)},
		LostWritesAllowed: new(0), PromiseWhy: "raft",
	}
	r, err := measure.Analyse(rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	type numbers struct {
		Outages                           []measure.Outage
		RTO, Res, Impact, Downtime        time.Duration
		Probes, Failed                    int
		ToFull, ToFullRes                 time.Duration
		Invoked, Acked, Fail, Indet, Read int
		Lost                              []measure.LostWrite
		Recovered, Bug, Expected          []string
		BackupAge, RPO                    time.Duration
		RPOWrites                         int
		Pass, IsBug                       bool
		Breaches                          int
	}
	got := numbers{
		r.Outages, r.RTO.Duration(), r.RTOResolution.Duration(), r.TimeToImpact.Duration(), r.Downtime.Duration(),
		r.Probes, r.FailedProbes, r.TimeToFullRedundancy.Duration(), r.FullRedundancyResolution.Duration(),
		r.WritesInvoked, r.WritesAcked, r.WritesFailed, r.WritesIndeterminate, r.IDsRead,
		r.LostWrites, r.Recovered, r.LostBeforeBackup, r.ExpectedLoss,
		r.BackupAge.Duration(), r.RPO.Duration(), *r.RPOWrites,
		r.Verdict.Pass, r.Verdict.Bug, len(r.Verdict.Breaches),
	}
	want := numbers{
		Outages: []measure.Outage{{Start: 100 * ms, End: 3350 * ms}, {Start: 16 * s, End: 18005 * ms}},
		RTO:     18005 * ms, Res: 100 * ms, Impact: 100 * ms, Downtime: 5255 * ms,
		Probes: 282, Failed: 50,
		ToFull: 20 * s, ToFullRes: s,
		Invoked: 8, Acked: 5, Fail: 1, Indet: 2, Read: 3,
		Lost:      []measure.LostWrite{{ID: "w2", Acked: measure.Millis(-3198 * ms)}, {ID: "w3", Acked: measure.Millis(-1998 * ms)}, {ID: "w4", Acked: measure.Millis(-498 * ms)}},
		Recovered: []string{"w5"}, Bug: []string{"w2"}, Expected: []string{"w3", "w4"},
		BackupAge: 3 * s, RPO: 1998 * ms, RPOWrites: 2,
		Pass: false, IsBug: true, Breaches: 1, // the bug only: targets met, promise kept
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("worked timeline (-docs +got):\n%s", diff)
	}

	// The same run restored from a copy with no known cut.
	rec.Events[0] = measure.Event{At: 2400 * ms, Kind: measure.BackupTaken, Detail: "b-1", CutUnknown: "volume copied file by file"}
	r, err = measure.Analyse(rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict.Bug || r.Verdict.Pass || *r.RPOWrites != 3 || r.RPO.Duration() != 3198*ms || r.BackupAge != nil || len(r.Verdict.Breaches) != 1 {
		t.Errorf("unknown cut: bug %v pass %v RPO %d writes %s, age %v, breaches %q; want a promise breach only, RPO 3 writes 3.198s",
			r.Verdict.Bug, r.Verdict.Pass, *r.RPOWrites, r.RPO, r.BackupAge, r.Verdict.Breaches)
	}
}
