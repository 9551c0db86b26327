package measure_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// lostWrites makes n lost writes w001.., acked 100ms apart from first (from
// T0), as Analyse would record them.
func (b *resultBuilder) lostWrites(n int, first time.Duration) *resultBuilder {
	b.lost(n, 0)
	b.r.Lost, b.r.LostWrites = nil, nil
	for i := range n {
		id := fmt.Sprintf("w%03d", i+1)
		b.r.Lost = append(b.r.Lost, id)
		b.r.LostWrites = append(b.r.LostWrites, measure.LostWrite{ID: id, Acked: measure.Millis(first + time.Duration(i)*100*ms)})
	}
	return b
}

func (b *resultBuilder) promise(allowed int, why string) *resultBuilder {
	b.r.LostWritesAllowed, b.r.PromiseWhy = &allowed, why
	return b
}

// TestJudgePromise covers issue 8 item 6: a lost write beyond the app's
// data-safety promise is a breach even with no RPO target, naming the writes.
func TestJudgePromise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		result measure.Result
		// want is "" for no promise breach, else substrings of it.
		want []string
		// not must not appear in the breach.
		not []string
	}{
		{
			name:   "one write lost beyond a promise of none breaches with no targets, naming it and its ack",
			result: aResult().lostWrites(1, -1234*ms).promise(0, "synchronous replication").build(),
			want: []string{
				measure.BrokenPromise, "1 acknowledged write lost", "at most 0 lost acknowledged writes (synchronous replication)",
				"w001 acked at T0-1.234s",
			},
		},
		{
			name:   "within the promise: no breach",
			result: aResult().lostWrites(3, 0).promise(3, "asynchronous replication").build(),
		},
		{
			name:   "no promise (nil): any number may be lost",
			result: aResult().lostWrites(3, 0).build(),
		},
		{
			name:   "at most ten writes are named, then how many more",
			result: aResult().lostWrites(25, 200*ms).promise(0, "").build(),
			want:   []string{"25 acknowledged writes lost", "w001 acked at T0+200ms", "w010 acked at T0+1.1s", "and 15 more"},
			not:    []string{"w011", "()"},
		},
		{
			name: "a restore's expected loss and a bug write do not count against the promise",
			result: func() measure.Result {
				r := aResult().lostWrites(3, -s).promise(1, "").build()
				r.RestoredBackup, r.BugCheck = "b-1", measure.BugCheckMade
				r.ExpectedLoss, r.ExpectedLossCount = []string{"w002"}, 1
				r.LostBeforeBackup, r.LostBeforeBackupCount = []string{"w003"}, 1
				return r
			}(),
		},
		{
			name: "the same loss with the backup's cut unknown counts every write and says why",
			result: func() measure.Result {
				r := aResult().lostWrites(3, -s).promise(1, "").build()
				r.RestoredBackup, r.BugCheck = "b-1", "not made: backup b-1 has no known cut (volume copy)"
				return r
			}(),
			want: []string{"3 acknowledged writes lost", "backup cut is unknown", "w003 acked at T0-800ms"},
		},
		{
			name:   "a promise with no final read is not a silent pass",
			result: aResult().unchecked().promise(0, "").build(),
			want:   []string{measure.UncheckedPromise},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := measure.Judge(tt.result, measure.Targets{})
			var breach string
			for _, b := range v.Breaches {
				if measure.IsPromiseBreach(b) {
					breach = b
				}
			}
			if len(tt.want) == 0 {
				if breach != "" {
					t.Errorf("breaches %q, want no promise breach", v.Breaches)
				}
				return
			}
			if v.Pass || v.Bug {
				t.Errorf("Pass, Bug = %v, %v; want a breach that is not a bug", v.Pass, v.Bug)
			}
			for _, w := range tt.want {
				if !strings.Contains(breach, w) {
					t.Errorf("promise breach %q does not contain %q", breach, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(breach, w) {
					t.Errorf("promise breach %q contains %q", breach, w)
				}
			}
		})
	}
}

// The promise travels from Options into the result, so the ladder's rungs
// (which judge the result again) see it too.
func TestAnalyseCarriesThePromise(t *testing.T) {
	t.Parallel()
	r, err := measure.Analyse(restoreRun(true), measure.Options{
		RestoredBackup: "b-1", LostWritesAllowed: new(0), PromiseWhy: "synchronous replication",
	})
	if err != nil {
		t.Fatal(err)
	}
	// restoreRun loses 200 writes after the cut (expected) and one before
	// it (a bug): neither counts against the promise.
	for _, b := range r.Verdict.Breaches {
		if measure.IsPromiseBreach(b) {
			t.Errorf("promise breached by a restore's expected loss and a bug write: %q", b)
		}
	}
	rung := measure.Judge(r, measure.Targets{})
	if *r.LostWritesAllowed != 0 || r.PromiseWhy != "synchronous replication" || len(rung.Breaches) != 1 {
		t.Errorf("LostWritesAllowed %v, PromiseWhy %q, re-judged breaches %q", r.LostWritesAllowed, r.PromiseWhy, rung.Breaches)
	}

	// Without the restore every one of the 201 lost writes counts.
	r, err = measure.Analyse(restoreRun(true), measure.Options{LostWritesAllowed: new(0)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range r.Verdict.Breaches {
		found = found || strings.Contains(b, "201 acknowledged writes lost") && strings.Contains(b, "w00100 acked at T0-3.998s") && strings.Contains(b, "and 191 more")
	}
	if !found {
		t.Errorf("breaches %q: want the promise breach naming w00100 and 191 more", r.Verdict.Breaches)
	}

	if _, err := measure.Analyse(restoreRun(true), measure.Options{LostWritesAllowed: new(-1)}); err == nil || !strings.Contains(err.Error(), "lost writes allowed") {
		t.Errorf("a negative LostWritesAllowed: error %v, want one naming it", err)
	}
}
