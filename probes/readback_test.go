package probes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// lossyApp stands in for an app that loses acknowledged writes: lose drops
// records it had acknowledged, as a node that failed with them would; its
// ReadAll can be made to fail (an outage) or to take a while, answering
// with the records present when it began.
type lossyApp struct {
	*appDouble
	readAllDown  atomic.Bool
	readAllDelay time.Duration
	readAlls     atomic.Int32
}

func (a *lossyApp) lose(ids ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		delete(a.records, id)
	}
}

func (a *lossyApp) ReadAll(ctx context.Context) ([]string, error) {
	a.readAlls.Add(1)
	if a.readAllDown.Load() {
		return nil, errors.New("connection refused")
	}
	ids, err := a.appDouble.ReadAll(ctx)
	time.Sleep(a.readAllDelay)
	return ids, err
}

// lostCalls collects OnLost calls.
type lostCalls struct {
	mu    sync.Mutex
	calls [][]Missing
}

func (l *lostCalls) onLost(m []Missing) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, m)
}

func (l *lostCalls) get() [][]Missing {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func readBackConfig(maxLost int, l *lostCalls) Config {
	return Config{
		Interval: 50 * time.Millisecond, Timeout: time.Second, Writers: 2, Rate: 100, WriteTimeout: time.Second,
		RedundancyEvery: time.Second, MaxLost: &maxLost, ReadBackEvery: 50 * time.Millisecond, OnLost: l.onLost,
	}
}

// acked lists the acknowledged write ids of tl and their ack times.
func ackedWrites(tl *measure.Timeline) []Missing {
	var out []Missing
	for _, w := range tl.Snapshot().Writes {
		if w.Type == measure.OpOK {
			out = append(out, Missing{ID: w.ID, Acked: w.At})
		}
	}
	return out
}

func TestReadBackCallsOnLostOnceWhenMoreThanMaxLostAreMissing(t *testing.T) {
	t.Parallel()
	app := &lossyApp{appDouble: newAppDouble()}
	tl := measure.NewTimeline(nil)
	var l lostCalls
	set := Start(context.Background(), app, tl, readBackConfig(2, &l), nil)
	defer set.Stop()
	waitFor(t, func() bool { return len(ackedWrites(tl)) >= 20 })
	gone := ackedWrites(tl)[5:8]
	app.lose(gone[0].ID, gone[1].ID, gone[2].ID)

	waitFor(t, func() bool { return len(l.get()) > 0 })
	n := app.readAlls.Load()
	time.Sleep(300 * time.Millisecond) // several read-back periods
	calls := l.get()
	if len(calls) != 1 {
		t.Fatalf("OnLost called %d times, want once", len(calls))
	}
	if !slices.Equal(calls[0], gone) {
		t.Errorf("OnLost(%v), want the three lost writes with their ack times %v", calls[0], gone)
	}
	if got := app.readAlls.Load(); got > n {
		t.Errorf("%d reads back after OnLost was called; the read-back is over once it has told", got-n)
	}
	if rec := tl.Snapshot(); rec.ReadDone || len(rec.Read) > 0 {
		t.Errorf("the read-back recorded a read on the timeline (%d ids): only the final read is recorded", len(rec.Read))
	}
}

func TestReadBackToleratesMaxLost(t *testing.T) {
	t.Parallel()
	app := &lossyApp{appDouble: newAppDouble()}
	tl := measure.NewTimeline(nil)
	var l lostCalls
	set := Start(context.Background(), app, tl, readBackConfig(2, &l), nil)
	waitFor(t, func() bool { return len(ackedWrites(tl)) >= 20 })
	gone := ackedWrites(tl)[5:7]
	app.lose(gone[0].ID, gone[1].ID)
	n := app.readAlls.Load()
	waitFor(t, func() bool { return app.readAlls.Load() >= n+5 })
	set.Stop()
	if calls := l.get(); len(calls) != 0 {
		t.Errorf("OnLost(%v) with 2 writes missing and MaxLost 2", calls[0])
	}
}

// TestReadBackSkipsFailedReads: a read that fails during an outage says
// nothing about which writes are there, so it is not counted as finding
// none.
func TestReadBackSkipsFailedReads(t *testing.T) {
	t.Parallel()
	app := &lossyApp{appDouble: newAppDouble()}
	app.readAllDown.Store(true)
	tl := measure.NewTimeline(nil)
	var l lostCalls
	set := Start(context.Background(), app, tl, readBackConfig(0, &l), nil)
	waitFor(t, func() bool { return len(ackedWrites(tl)) >= 20 && app.readAlls.Load() >= 5 })
	set.Stop()
	if calls := l.get(); len(calls) != 0 {
		t.Errorf("OnLost(%d writes) after reads that all failed", len(calls[0]))
	}
}

// TestReadBackCountsOnlyWritesAckedBeforeTheReadBegan: a read that takes a
// while misses the writes acknowledged while it ran; they are not lost.
func TestReadBackCountsOnlyWritesAckedBeforeTheReadBegan(t *testing.T) {
	t.Parallel()
	app := &lossyApp{appDouble: newAppDouble(), readAllDelay: 150 * time.Millisecond}
	tl := measure.NewTimeline(nil)
	var l lostCalls
	set := Start(context.Background(), app, tl, readBackConfig(0, &l), nil)
	waitFor(t, func() bool { return app.readAlls.Load() >= 4 })
	set.Stop()
	if calls := l.get(); len(calls) != 0 {
		t.Errorf("OnLost(%v): writes acknowledged during a slow read counted as lost", calls[0])
	}
}

// TestOnLostMayStopTheProbes: the runner aborts from OnLost, and stopping
// the probes there must not deadlock.
func TestOnLostMayStopTheProbes(t *testing.T) {
	t.Parallel()
	app := &lossyApp{appDouble: newAppDouble()}
	tl := measure.NewTimeline(nil)
	maxLost := 0
	stopped := make(chan struct{})
	var set *Set
	var ready sync.WaitGroup
	ready.Add(1)
	cfg := readBackConfig(0, &lostCalls{})
	cfg.MaxLost = &maxLost
	cfg.OnLost = func([]Missing) { ready.Wait(); set.Stop(); close(stopped) }
	set = Start(context.Background(), app, tl, cfg, nil)
	ready.Done()
	waitFor(t, func() bool { return len(ackedWrites(tl)) >= 5 })
	app.lose(ackedWrites(tl)[0].ID)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop called from OnLost did not return")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	neg, zero := -1, 0
	for _, tt := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{name: "zero values take the defaults", cfg: Config{}},
		{name: "read-back with a callback", cfg: Config{MaxLost: &zero, OnLost: func([]Missing) {}}},
		{name: "negative MaxLost", cfg: Config{MaxLost: &neg, OnLost: func([]Missing) {}}, want: []string{"MaxLost is -1"}},
		{name: "MaxLost without OnLost", cfg: Config{MaxLost: &zero}, want: []string{"OnLost is nil"}},
		{name: "negative durations", cfg: Config{Timeout: -time.Second, ReadBackEvery: -time.Second}, want: []string{"Timeout is -1s", "ReadBackEvery is -1s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v, want it to say %q", err, w)
				}
			}
		})
	}
}

func TestReadBackDefaultsTo5s(t *testing.T) {
	t.Parallel()
	c := Config{}
	c.defaults()
	if c.ReadBackEvery != 5*time.Second {
		t.Errorf("ReadBackEvery %s, want 5s", c.ReadBackEvery)
	}
}
