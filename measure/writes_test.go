package measure_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reboundhq/rebound/measure"
)

func TestCheckWrites(t *testing.T) {
	t.Parallel()
	const t0 = 5 * s
	tests := []struct {
		name    string
		history history
		read    []string
		backup  *measure.Backup
		want    measure.Writes
	}{
		{
			name:    "every acked write read back is data-safe with RPO 0",
			history: history{}.ok("a", 1*s, 1001*ms).ok("b", 2*s, 2001*ms),
			read:    []string{"a", "b"},
			want:    measure.Writes{Invoked: 2, Acked: 2, Read: 2, DataSafe: true},
		},
		{
			name:    "a write acked 1ms before T0 then lost gives RPO 1ms",
			history: history{}.ok("a", 1*s, 1001*ms).ok("b", t0-3*ms, t0-1*ms),
			read:    []string{"a"},
			want: measure.Writes{
				Invoked: 2, Acked: 2, Read: 1, Lost: []string{"b"}, LostAcked: []time.Duration{t0 - ms},
				RPOWrites: 1, RecoveryPoint: t0 - ms, HasRecoveryPoint: true, RPO: 1 * ms,
			},
		},
		{
			name: "RPO runs from the earliest lost ack, not the latest",
			history: history{}.ok("a", 1*s, 1001*ms).ok("b", 2*s, 2001*ms).
				ok("c", 3*s, 3001*ms).ok("d", 4*s, 4001*ms),
			read: []string{"a", "c"},
			want: measure.Writes{
				Invoked: 4, Acked: 4, Read: 2, Lost: []string{"b", "d"}, LostAcked: []time.Duration{2001 * ms, 4001 * ms},
				RPOWrites: 2, RecoveryPoint: 2001 * ms, HasRecoveryPoint: true, RPO: t0 - 2001*ms,
			},
		},
		{
			name:    "a write acked after T0 then lost counts in writes but not in time",
			history: history{}.ok("a", 1*s, 1001*ms).ok("late", t0+s, t0+s+ms),
			read:    []string{"a"},
			want: measure.Writes{
				Invoked: 2, Acked: 2, Read: 1, Lost: []string{"late"}, LostAcked: []time.Duration{t0 + s + ms},
				RPOWrites: 1, RecoveryPoint: t0 + s + ms, HasRecoveryPoint: true, RPO: 0,
			},
		},
		{
			name:    "an id read back that was never written is unexpected",
			history: history{}.ok("a", 1*s, 1001*ms),
			read:    []string{"a", "ghost"},
			want: measure.Writes{
				Invoked: 1, Acked: 1, Read: 2, Unexpected: []string{"ghost"},
			},
		},
		{
			name: "failed, timed-out and unfinished writes found later are recovered, and not lost when missing",
			history: history{}.fail("f", 1*s, 1100*ms).info("i", 2*s, 3*s).pending("p", 4*s).
				fail("f2", 1*s, 1100*ms).info("i2", 2*s, 3*s),
			read: []string{"p", "i", "f"},
			want: measure.Writes{
				Invoked: 5, Failed: 2, Indeterminate: 3, Read: 3,
				Recovered: []string{"f", "i", "p"}, DataSafe: true,
			},
		},
		{
			name:    "a read that lists an id twice counts it once",
			history: history{}.ok("a", 1*s, 1001*ms),
			read:    []string{"a", "a"},
			want:    measure.Writes{Invoked: 1, Acked: 1, Read: 1, DataSafe: true},
		},
		{
			name: "restore: loss before the backup's cut is a bug, after it the expected loss",
			history: history{}.ok("kept", 1*s, 1001*ms).ok("bug", 2*s, 2001*ms).
				ok("at-cut", 2999*ms, 3*s).ok("after", 4*s, 4001*ms),
			read:   []string{"kept"},
			backup: &measure.Backup{ID: "b1", Cut: 3 * s},
			want: measure.Writes{
				Invoked: 4, Acked: 4, Read: 1,
				Lost:             []string{"bug", "at-cut", "after"},
				LostAcked:        []time.Duration{2001 * ms, 3 * s, 4001 * ms},
				LostBeforeBackup: []string{"bug"},
				ExpectedLoss:     []string{"at-cut", "after"},
				BugCheck:         measure.BugCheckMade,
				// The bug write is not RPO: P is the first expected loss.
				RPOWrites: 2, RecoveryPoint: 3 * s, HasRecoveryPoint: true, RPO: t0 - 3*s,
			},
		},
		{
			name:    "restore with nothing lost",
			history: history{}.ok("a", 1*s, 1001*ms).ok("b", 4*s, 4001*ms),
			read:    []string{"a", "b"},
			backup:  &measure.Backup{ID: "b1", Cut: 3 * s},
			want:    measure.Writes{Invoked: 2, Acked: 2, Read: 2, DataSafe: true, BugCheck: measure.BugCheckMade},
		},
		{
			// A crash-consistent volume copy: the same loss as above,
			// but with no cut nothing can be called a bug or expected.
			name: "restore from a backup with an unknown cut: no split, the check is not made",
			history: history{}.ok("kept", 1*s, 1001*ms).ok("bug", 2*s, 2001*ms).
				ok("at-cut", 2999*ms, 3*s).ok("after", 4*s, 4001*ms),
			read:   []string{"kept"},
			backup: &measure.Backup{ID: "b1", Cut: 3 * s, CutUnknown: "volume copied file by file while etcd ran"},
			want: measure.Writes{
				Invoked: 4, Acked: 4, Read: 1,
				Lost:      []string{"bug", "at-cut", "after"},
				LostAcked: []time.Duration{2001 * ms, 3 * s, 4001 * ms},
				BugCheck:  "not made: backup b1 has no known cut (volume copied file by file while etcd ran), so a lost write cannot be told apart as expected loss or bug",
				RPOWrites: 3, RecoveryPoint: 2001 * ms, HasRecoveryPoint: true, RPO: t0 - 2001*ms,
			},
		},
		{
			name:    "no writes and an empty read",
			history: nil,
			read:    nil,
			want:    measure.Writes{DataSafe: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := measure.CheckWrites(tt.history, tt.read, t0, tt.backup)
			if err != nil {
				t.Fatalf("CheckWrites: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("CheckWrites (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckWritesIgnoresHistoryOrder(t *testing.T) {
	t.Parallel()
	var h history
	var read []string
	for i := range 1000 {
		id := fmt.Sprintf("w%04d", i)
		at := time.Duration(i) * 10 * ms
		switch i % 4 {
		case 0:
			h = h.fail(id, at, at+3*ms)
		case 1:
			h = h.info(id, at, at+time.Second)
		default:
			h = h.ok(id, at, at+2*ms)
		}
		if i%3 != 0 {
			read = append(read, id)
		}
	}
	want, err := measure.CheckWrites(h, read, 6*s, nil)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := append(history(nil), h...)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	got, err := measure.CheckWrites(shuffled, read, 6*s, nil)
	if err != nil {
		t.Fatalf("shuffled history: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shuffled history changed the result (-sorted +shuffled):\n%s", diff)
	}
	if want.RPOWrites == 0 || len(want.Recovered) == 0 {
		t.Errorf("fixture should lose and recover writes: %+v", want)
	}
}

func TestCheckWritesRefusesBrokenHistory(t *testing.T) {
	t.Parallel()
	w := func(id string, typ measure.OpType, at time.Duration) measure.WriteEvent {
		return measure.WriteEvent{ID: id, Type: typ, At: at}
	}
	tests := []struct {
		name    string
		history []measure.WriteEvent
	}{
		{"id invoked twice", history{}.ok("a", s, 2*s).pending("a", 3*s)},
		{"completed but never invoked", []measure.WriteEvent{w("a", measure.OpOK, s)}},
		{"completed twice", append(history{}.ok("a", s, 2*s), w("a", measure.OpFail, 3*s))},
		{"completed before invoked", []measure.WriteEvent{w("a", measure.OpInvoke, 2*s), w("a", measure.OpOK, s)}},
		{"unknown type", append(history{}.pending("a", s), w("a", "maybe", 2*s))},
		{"no id", []measure.WriteEvent{w("", measure.OpInvoke, s)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := measure.CheckWrites(tt.history, nil, s, nil)
			if !errors.Is(err, measure.ErrInvalidHistory) {
				t.Errorf("CheckWrites error = %v, want ErrInvalidHistory", err)
			}
		})
	}
}
