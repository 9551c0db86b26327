package measure_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
)

// restoreRun records, tick by tick on a fake clock, a human-error game day
// recovered by a restore:
//
//	writes every 10ms, acked 2ms later while the app is up, failed while down
//	3.0s  backup cut (the backup finishes at 3.5s)
//	5.0s  T0: the data is deleted; the app is down until 8.0s
//	6.0s  restore starts; 8.0s it finishes and the app serves again
//	9.5s  redundancy full again
//	20s   final read: what the backup held and what came after, minus w00100,
//	      a write acked at 1.002s that the backup should have held.
func restoreRun(read bool) measure.Recording {
	clock := newFakeClock()
	tl := measure.NewTimeline(clock)
	up := func(at time.Duration) bool { return at < 5*s || at >= 8*s }
	var pending []string
	acked := map[string]time.Duration{}
	var cut time.Duration
	for now := time.Duration(0); now < 20*s; now += ms {
		if now%(10*ms) == 2*ms {
			for _, id := range pending {
				if up(now - 2*ms) {
					tl.RecordWrite(id, measure.OpOK)
					acked[id] = now
				} else {
					tl.RecordWrite(id, measure.OpFail)
				}
			}
			pending = pending[:0]
		}
		if now%(10*ms) == 0 {
			id := fmt.Sprintf("w%05d", now/(10*ms))
			tl.RecordWrite(id, measure.OpInvoke)
			pending = append(pending, id)
		}
		if now%(100*ms) == 0 {
			at := tl.Now()
			tl.RecordProbe(measure.ProbeSample{Start: at, End: at + probeLatency, OK: up(now)})
		}
		if now%(500*ms) == 0 {
			full := now < 5*s || now >= 9500*ms
			tl.RecordRedundancy(full, map[bool]string{true: "3/3 members healthy", false: "1/3 members healthy"}[full])
		}
		switch now {
		case 3 * s:
			cut = tl.Now()
		case 3500 * ms:
			tl.RecordBackup("b-1", cut)
		case 5 * s:
			tl.Record(measure.FaultApplied, "delete all keys")
		case 6 * s:
			tl.Record(measure.RecoveryStarted, "restore b-1")
		case 8 * s:
			tl.Record(measure.RecoveryFinished, "restore b-1")
		}
		clock.Advance(ms)
	}
	if read {
		var ids []string
		for id, at := range acked {
			if (at < 3*s && id != "w00100") || at >= 8*s {
				ids = append(ids, id)
			}
		}
		tl.RecordRead(ids...)
	}
	return tl.Snapshot()
}

func TestAnalyseRestoreRun(t *testing.T) {
	t.Parallel()
	rec := restoreRun(true)
	targets := measure.Targets{RTO: new(5 * s), RPOWrites: new(1000), RPOTime: new(time.Minute)}
	r, err := measure.Analyse(rec, measure.Options{RestoredBackup: "b-1", Targets: targets})
	if err != nil {
		t.Fatalf("Analyse: %v", err)
	}

	if r.RTO == nil || r.TimeToFullRedundancy == nil || r.RPOWrites == nil || r.RPO == nil || r.BackupAge == nil {
		t.Fatalf("Analyse left a measurement out: %+v", r)
	}
	var expectedLoss []string // acked 3.002s .. 4.992s
	for i := 300; i < 500; i++ {
		expectedLoss = append(expectedLoss, fmt.Sprintf("w%05d", i))
	}
	type numbers struct {
		Restored                       bool
		RTO, Resolution, Downtime      time.Duration
		Redundant                      bool
		ToFull                         time.Duration
		DataChecked, DataSafe          bool
		Acked, Failed, Lost, RPOWrites int
		RPO, BackupAge                 time.Duration
		ExpectedLoss, LostBeforeBackup []string
		Pass, Bug                      bool
	}
	got := numbers{
		Restored: r.ServiceRestored, RTO: r.RTO.Duration(), Resolution: r.RTOResolution.Duration(), Downtime: r.Downtime.Duration(),
		Redundant: r.RedundancyRestored, ToFull: r.TimeToFullRedundancy.Duration(),
		DataChecked: r.DataChecked, DataSafe: r.DataSafe,
		Acked: r.WritesAcked, Failed: r.WritesFailed, Lost: r.LostCount, RPOWrites: *r.RPOWrites,
		RPO: r.RPO.Duration(), BackupAge: r.BackupAge.Duration(),
		ExpectedLoss: r.ExpectedLoss, LostBeforeBackup: r.LostBeforeBackup,
		Pass: r.Verdict.Pass, Bug: r.Verdict.Bug,
	}
	want := numbers{
		Restored: true, RTO: 3*s + probeLatency, Resolution: 100 * ms, Downtime: 3*s + probeLatency,
		Redundant: true, ToFull: 4500 * ms,
		DataChecked: true, DataSafe: false,
		Acked: 2000 - 300, Failed: 300, Lost: 201, RPOWrites: 200,
		// P is the ack of the first write after the cut; the bug write
		// acked at 1.002s does not drag it back.
		RPO: 5*s - 3002*ms, BackupAge: 2 * s,
		ExpectedLoss: expectedLoss, LostBeforeBackup: []string{"w00100"},
		// Every target is met, but losing a write the backup held is a bug.
		Pass: false, Bug: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Analyse (-want +got):\n%s", diff)
	}
	if n := len(r.Verdict.Breaches); n != 1 {
		t.Errorf("breaches = %q, want just the bug", r.Verdict.Breaches)
	}
}

func TestAnalyseWithoutFinalReadLeavesDataUnknown(t *testing.T) {
	t.Parallel()
	r, err := measure.Analyse(restoreRun(false), measure.Options{Targets: measure.Targets{RPOWrites: new(0)}})
	if err != nil {
		t.Fatalf("Analyse: %v", err)
	}
	if r.DataChecked || r.RPOWrites != nil || r.RPO != nil || r.LostCount != 0 {
		t.Errorf("without a final read: DataChecked=%v RPOWrites=%v RPO=%v LostCount=%d; want unknown, not every acked write lost",
			r.DataChecked, r.RPOWrites, r.RPO, r.LostCount)
	}
	if r.Verdict.Pass {
		t.Error("an RPO target must not pass when data was not checked")
	}
	if r.StabilityWindow.Duration() != measure.DefaultStabilityWindow {
		t.Errorf("StabilityWindow = %s, want the default %s", r.StabilityWindow, measure.DefaultStabilityWindow)
	}
}

func TestAnalyseMeasuresFromTheFirstFault(t *testing.T) {
	t.Parallel()
	rec := measure.Recording{
		Events: []measure.Event{
			{At: 1 * s, Kind: measure.FaultApplied, Detail: "stop node a"},
			{At: 4 * s, Kind: measure.FaultApplied, Detail: "stop node b"},
		},
		Probes: probes(100*ms, 0, 20*s, outage(span(1*s, 3*s))),
	}
	r, err := measure.Analyse(rec, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.RTO == nil || r.RTO.Duration() != 2*s+probeLatency {
		t.Errorf("RTO = %v, want 2.005s measured from the first fault", r.RTO)
	}
}

func TestAnalyseRefusesWhatItCannotMeasure(t *testing.T) {
	t.Parallel()
	withFault := measure.Recording{Events: []measure.Event{{At: s, Kind: measure.FaultApplied}}}
	badHistory := withFault
	badHistory.Writes = []measure.WriteEvent{{ID: "a", Type: measure.OpOK, At: s}}
	badHistory.ReadDone = true
	tests := []struct {
		name string
		rec  measure.Recording
		opts measure.Options
		want error // nil: any error
	}{
		{"no fault on the timeline", measure.Recording{}, measure.Options{}, measure.ErrNoFault},
		{"restored backup not on the timeline", withFault, measure.Options{RestoredBackup: "b-9"}, measure.ErrUnknownBackup},
		{"broken write history", badHistory, measure.Options{}, measure.ErrInvalidHistory},
		{"negative stability window", withFault, measure.Options{StabilityWindow: -s}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := measure.Analyse(tt.rec, tt.opts)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Analyse error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestAnalyseBackupCuts covers issue 8 items 4 and 5: a cut after T0 is an
// error, never a negative backup age; a backup with no known cut makes no
// bug verdict and says why.
func TestAnalyseBackupCuts(t *testing.T) {
	t.Parallel()
	rec := restoreRun(true)

	late := rec
	late.Events = append(slices.Clone(rec.Events), measure.Event{At: 6 * s, Kind: measure.BackupTaken, Detail: "b-late", Cut: 5001 * ms})
	_, err := measure.Analyse(late, measure.Options{RestoredBackup: "b-late"})
	if !errors.Is(err, measure.ErrCutAfterFault) || !strings.Contains(err.Error(), `"b-late"`) {
		t.Errorf("Analyse with a cut 1ms after T0: error %v, want ErrCutAfterFault naming the backup", err)
	}
	atT0 := rec
	atT0.Events = append(slices.Clone(rec.Events), measure.Event{At: 6 * s, Kind: measure.BackupTaken, Detail: "b-t0", Cut: 5 * s})
	if r, err := measure.Analyse(atT0, measure.Options{RestoredBackup: "b-t0"}); err != nil || r.BackupAge == nil || *r.BackupAge != 0 {
		t.Errorf("Analyse with a cut at T0: age %v, error %v; want 0, nil", r.BackupAge, err)
	}

	unknown := rec
	unknown.Events = append(slices.Clone(rec.Events), measure.Event{At: 3500 * ms, Kind: measure.BackupTaken, Detail: "b-copy", CutUnknown: "volume copied file by file while etcd ran"})
	r, err := measure.Analyse(unknown, measure.Options{RestoredBackup: "b-copy"})
	if err != nil {
		t.Fatalf("Analyse with an unknown cut: %v", err)
	}
	if r.Verdict.Bug || r.LostBeforeBackupCount != 0 || r.ExpectedLossCount != 0 || r.BackupAge != nil {
		t.Errorf("unknown cut: bug %v, lost before backup %d, expected loss %d, age %v; want no split and no age",
			r.Verdict.Bug, r.LostBeforeBackupCount, r.ExpectedLossCount, r.BackupAge)
	}
	if !strings.HasPrefix(r.BugCheck, "not made: ") || !strings.Contains(r.BugCheck, "volume copied file by file") {
		t.Errorf("BugCheck = %q, want a statement why the check was not made", r.BugCheck)
	}
	if r.LostCount != 201 || *r.RPOWrites != 201 {
		t.Errorf("lost %d, RPO writes %v; want all 201 lost writes counted", r.LostCount, *r.RPOWrites)
	}
	r, _ = measure.Analyse(rec, measure.Options{RestoredBackup: "b-1"})
	if r.BugCheck != measure.BugCheckMade {
		t.Errorf("BugCheck with a known cut = %q, want %q", r.BugCheck, measure.BugCheckMade)
	}
	r, _ = measure.Analyse(rec, measure.Options{})
	if r.BugCheck != "" {
		t.Errorf("BugCheck without a restore = %q, want empty", r.BugCheck)
	}
}

// The JSON field names are a contract with dashboards and CI gates.
func TestResultJSONSchema(t *testing.T) {
	t.Parallel()
	r, err := measure.Analyse(restoreRun(true), measure.Options{RestoredBackup: "b-1", Targets: measure.Targets{RTO: new(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{
		"backupAgeMillis", "bugCheck", "dataChecked", "dataSafe", "downtimeMillis", "errorRate",
		"expectedLoss", "expectedLossCount", "failedProbes",
		"fullRedundancyResolutionMillis", "idsRead", "lost", "lostBeforeBackup",
		"lostBeforeBackupCount", "lostCount", "lostWrites", "lostWritesAllowed", "observedMillis",
		"outages", "probes", "promiseWhy", "recovered",
		"recoveredCount", "redundancyDegraded", "redundancyRestored", "restoredBackup",
		"rpoMillis", "rpoWrites", "rtoMillis", "rtoResolutionMillis", "serviceRestored",
		"stabilityWindowMillis", "timeToFullRedundancyMillis", "timeToImpactMillis", "unexpected", "unexpectedCount",
		"verdict", "writesAcked", "writesFailed", "writesIndeterminate", "writesInvoked",
	}
	if diff := cmp.Diff(wantKeys, slices.Sorted(maps.Keys(doc))); diff != "" {
		t.Errorf("JSON keys (-want +got):\n%s", diff)
	}
	for key, want := range map[string]any{
		"rtoMillis": 3005.0, "rpoMillis": 1998.0, "backupAgeMillis": 2000.0,
		"timeToFullRedundancyMillis": 4500.0, "rtoResolutionMillis": 100.0, "rpoWrites": 200.0,
		"timeToImpactMillis": 0.0, "bugCheck": "made",
	} {
		if doc[key] != want {
			t.Errorf("%s = %v, want %v", key, doc[key], want)
		}
	}
	if diff := cmp.Diff([]any{map[string]any{"startMillis": 0.0, "endMillis": 3005.0}}, doc["outages"]); diff != "" {
		t.Errorf("outages (-want +got):\n%s", diff)
	}
	if lw := doc["lostWrites"].([]any); len(lw) != 201 || !cmp.Equal(lw[0], map[string]any{"id": "w00100", "ackedMillis": -3998.0}) {
		t.Errorf("lostWrites: %d entries, first %v; want 201, the first w00100 acked 3998ms before T0", len(lw), lw[0])
	}
	verdict := doc["verdict"].(map[string]any)
	if diff := cmp.Diff([]string{"breaches", "bug", "pass", "targets"}, slices.Sorted(maps.Keys(verdict))); diff != "" {
		t.Errorf("verdict keys (-want +got):\n%s", diff)
	}
	target := verdict["targets"].([]any)[0].(map[string]any)
	if diff := cmp.Diff([]string{"measured", "met", "metric", "reason", "target", "unit"}, slices.Sorted(maps.Keys(target))); diff != "" {
		t.Errorf("target keys (-want +got):\n%s", diff)
	}

	// What was not measured is null, not 0.
	stuck := measure.Recording{
		Events: []measure.Event{{At: s, Kind: measure.FaultApplied}},
		Probes: probes(100*ms, 0, 5*s, outage(span(s, time.Hour))),
	}
	r, err = measure.Analyse(stuck, measure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(r)
	doc = nil
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{map[string]any{"startMillis": 0.0, "endMillis": nil}}, doc["outages"]); diff != "" {
		t.Errorf("an open outage (-want +got):\n%s", diff)
	}
	for _, key := range []string{"rtoMillis", "timeToFullRedundancyMillis", "rpoMillis", "rpoWrites", "backupAgeMillis", "lostWritesAllowed"} {
		if v, ok := doc[key]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", key, v, ok)
		}
	}
	if lost, ok := doc["lost"].([]any); !ok || len(lost) != 0 {
		t.Errorf("lost = %v, want []", doc["lost"])
	}
}

func TestMillisJSONRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		json string
	}{
		{0, "0"},
		{1500 * time.Microsecond, "1.5"},
		{3 * s, "3000"},
		{-2 * ms, "-2"},
		{2*time.Hour + time.Nanosecond, "7200000.000001"},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(measure.Millis(tt.d))
			if err != nil || string(b) != tt.json {
				t.Fatalf("Marshal(%s) = %s, %v; want %s", tt.d, b, err, tt.json)
			}
			var m measure.Millis
			if err := json.Unmarshal(b, &m); err != nil || m.Duration() != tt.d {
				t.Errorf("Unmarshal(%s) = %s, %v; want %s", b, m, err, tt.d)
			}
		})
	}
	var m measure.Millis
	if err := json.Unmarshal([]byte(`"3s"`), &m); err == nil {
		t.Error(`Unmarshal("3s") succeeded; a Millis is a number`)
	}
}

// BenchmarkAnalyse measures Analyse over 1e5 write operations, 1% of them
// lost, with a restore, a minute of 100ms probes and 1s redundancy samples.
func BenchmarkAnalyse(b *testing.B) {
	const n = 100_000
	rec := measure.Recording{
		Events: []measure.Event{
			{At: 30 * s, Kind: measure.BackupTaken, Detail: "b-1", Cut: 29 * s},
			{At: 50 * s, Kind: measure.FaultApplied},
		},
		Probes:     probes(100*ms, 0, 60*s, outage(span(50*s, 53*s))),
		Redundancy: redundancy(0, 60*s, outage(span(50*s, 55*s))),
		Writes:     make([]measure.WriteEvent, 0, 2*n),
		ReadDone:   true,
	}
	for i := range n {
		id := fmt.Sprintf("w%06d", i)
		at := time.Duration(i) * 500 * time.Microsecond
		rec.Writes = append(rec.Writes,
			measure.WriteEvent{ID: id, Type: measure.OpInvoke, At: at},
			measure.WriteEvent{ID: id, Type: measure.OpOK, At: at + 2*ms})
		if i%100 != 0 {
			rec.Read = append(rec.Read, id)
		}
	}
	opts := measure.Options{RestoredBackup: "b-1", Targets: measure.Targets{RPOWrites: new(0)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := measure.Analyse(rec, opts); err != nil {
			b.Fatal(err)
		}
	}
}
