package measure_test

import (
	stdcmp "cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/clock"

	"github.com/reboundhq/rebound/measure"
)

func TestTimelineStampsOffsetsFromItsStart(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	start := clock.Now()
	tl := measure.NewTimeline(clock)

	clock.Advance(3 * s)
	tl.Record(measure.FaultApplied, "node lab-worker-2 stopped")
	clock.Advance(500 * ms)
	tl.RecordBackup("b-1", 1*s) // finished now; its cut was at 1s
	tl.RecordRedundancy(false, "2/3 members healthy")
	clock.Advance(ms)
	tl.RecordWrite("w1", measure.OpInvoke)
	tl.Record(measure.BackupTaken, "b-2") // no separate cut: cut is now
	tl.RecordBackupUnknownCut("b-3", "volume copied file by file while the app ran")
	tl.RecordBackupUnknownCut("b-4", "")
	tl.RecordRead()

	got := tl.Snapshot()
	want := measure.Recording{
		Started: start,
		Events: []measure.Event{
			{At: 3 * s, Kind: measure.FaultApplied, Detail: "node lab-worker-2 stopped"},
			{At: 3500 * ms, Kind: measure.BackupTaken, Detail: "b-1", Cut: 1 * s},
			{At: 3501 * ms, Kind: measure.BackupTaken, Detail: "b-2", Cut: 3501 * ms},
			{At: 3501 * ms, Kind: measure.BackupTaken, Detail: "b-3", CutUnknown: "volume copied file by file while the app ran"},
			{At: 3501 * ms, Kind: measure.BackupTaken, Detail: "b-4", CutUnknown: "the backup engine did not say why"},
		},
		Redundancy: []measure.RedundancySample{{At: 3500 * ms, Full: false, Detail: "2/3 members healthy"}},
		Writes:     []measure.WriteEvent{{ID: "w1", Type: measure.OpInvoke, At: 3501 * ms}},
		ReadDone:   true, // an empty read is a read that found nothing
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}

func TestTimelineSnapshotIsACopy(t *testing.T) {
	t.Parallel()
	tl := measure.NewTimeline(newFakeClock())
	tl.RecordRead("a")
	snap := tl.Snapshot()
	snap.Read[0] = "mutated"
	tl.RecordRead("b")
	if got := tl.Snapshot().Read; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Read = %q, want [a b]: a snapshot must not alias the timeline", got)
	}
}

func TestTimelineConcurrentRecording(t *testing.T) {
	t.Parallel()
	tl := measure.NewTimeline(nil) // the real monotonic clock
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				tl.RecordWrite(id, measure.OpInvoke)
				tl.RecordWrite(id, measure.OpOK)
				start := tl.Now()
				tl.RecordProbe(measure.ProbeSample{Start: start, End: tl.Now(), OK: true})
			}
		})
	}
	wg.Go(func() {
		for range each {
			tl.RecordRedundancy(true, "green")
		}
	})
	wg.Wait()

	rec := tl.Snapshot()
	if len(rec.Writes) != 2*writers*each || len(rec.Probes) != writers*each || len(rec.Redundancy) != each {
		t.Fatalf("recorded %d writes, %d probes, %d redundancy samples; want %d, %d, %d",
			len(rec.Writes), len(rec.Probes), len(rec.Redundancy), 2*writers*each, writers*each, each)
	}
	if !slices.IsSortedFunc(rec.Writes, func(a, b measure.WriteEvent) int { return stdcmp.Compare(a.At, b.At) }) {
		t.Error("writes are not in time order")
	}
	// A history recorded concurrently must still be a valid one.
	w, err := measure.CheckWrites(rec.Writes, nil, time.Hour, nil)
	if err != nil {
		t.Fatalf("CheckWrites on a concurrently recorded history: %v", err)
	}
	if w.Acked != writers*each {
		t.Errorf("Acked = %d, want %d", w.Acked, writers*each)
	}
}

func TestOffsetsOfProcessAndHostInstantsAgree(t *testing.T) {
	tl := measure.NewTimeline(nil)
	time.Sleep(10 * time.Millisecond)
	now, host := time.Now(), clock.Now()
	if host.IsZero() {
		t.Skip("no boot id on this machine")
	}
	hostOff, err := tl.HostOffset(host)
	if err != nil {
		t.Fatal(err)
	}
	// The two clocks are read one after the other, so on a busy machine
	// they differ by a preemption; a wrong base would be off by far more.
	if d := hostOff - tl.Offset(now); d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Errorf("host offset %s and process offset %s differ by %s", hostOff, tl.Offset(now), d)
	}
	if _, err := tl.HostOffset(clock.Instant{Boot: "other", Monotonic: host.Monotonic}); !errors.Is(err, clock.ErrOtherBoot) {
		t.Errorf("an instant of another boot was placed on the timeline: %v", err)
	}
}
