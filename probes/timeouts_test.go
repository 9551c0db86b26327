package probes

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// slowApp stands in for an app that answers slowly: each Read and Write
// takes its delay and then succeeds. With honour set it gives up when its
// context ends, as a well-behaved driver does; without, it ignores its
// context, as a driver stuck in a call without a deadline does.
type slowApp struct {
	*appDouble
	readDelay, writeDelay time.Duration
	honour                bool
}

func (a *slowApp) wait(ctx context.Context, d time.Duration) error {
	if !a.honour {
		time.Sleep(d)
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *slowApp) Read(ctx context.Context) error {
	if err := a.wait(ctx, a.readDelay); err != nil {
		return err
	}
	return a.appDouble.Read(ctx)
}

func (a *slowApp) Write(ctx context.Context, id string) error {
	if err := a.wait(ctx, a.writeDelay); err != nil {
		return err
	}
	return a.appDouble.Write(ctx, id)
}

// TestProbeTimeoutBoundsReadAndWriteTogether: a probe whose read and write
// each take 60% of the timeout answers after 120% of it, so it failed. The
// old probe gave its write a fresh timeout and passed such probes, in up to
// twice the timeout.
func TestProbeTimeoutBoundsReadAndWriteTogether(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	for _, tt := range []struct {
		name string
		app  *slowApp
	}{
		{"a slow app whose driver honours its context", &slowApp{appDouble: newAppDouble(), readDelay: timeout * 6 / 10, writeDelay: timeout * 6 / 10, honour: true}},
		{"a slow app whose driver ignores its context", &slowApp{appDouble: newAppDouble(), readDelay: timeout * 6 / 10, writeDelay: timeout * 6 / 10}},
		{"a read that outlasts the timeout, its driver ignoring its context", &slowApp{appDouble: newAppDouble(), readDelay: timeout * 3 / 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tl := measure.NewTimeline(nil)
			set := Start(context.Background(), tt.app, tl, Config{Interval: 50 * time.Millisecond, Timeout: timeout, Writers: 1, Rate: 1, RedundancyEvery: time.Second}, nil)
			waitFor(t, func() bool { return len(tl.Snapshot().Probes) >= 5 })
			set.Stop()
			for _, p := range tl.Snapshot().Probes {
				if p.OK {
					t.Errorf("probe from %s to %s (%s) passed; its timeout is %s", p.Start, p.End, p.End-p.Start, timeout)
				}
			}
		})
	}
}

func TestAProbeWithinItsTimeoutPasses(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	app := &slowApp{appDouble: newAppDouble(), readDelay: 20 * time.Millisecond, writeDelay: 20 * time.Millisecond}
	tl := measure.NewTimeline(nil)
	set := Start(context.Background(), app, tl, Config{Interval: 50 * time.Millisecond, Timeout: timeout, Writers: 1, Rate: 1, RedundancyEvery: time.Second}, nil)
	waitFor(t, func() bool { return len(tl.Snapshot().Probes) >= 5 })
	set.Stop()
	for _, p := range tl.Snapshot().Probes {
		if !p.OK {
			t.Errorf("probe from %s to %s failed; the app answers in 40ms of a %s timeout", p.Start, p.End, timeout)
		}
	}
}

// blockedWrites stands in for an app whose writes hang until released,
// ignoring their context, and are then acknowledged.
type blockedWrites struct {
	*appDouble
	release chan struct{}
	blocked atomic.Int32
}

func (a *blockedWrites) Write(ctx context.Context, id string) error {
	a.blocked.Add(1)
	<-a.release
	return a.appDouble.Write(ctx, id)
}

// TestStopRecordsWritesInFlightAsIndeterminate: writes the app has not
// answered when the probes stop are recorded as info at Stop, and nothing
// is recorded after Stop returns. The old probe waited for them (forever,
// with a driver that ignores its context) and recorded their late answer.
func TestStopRecordsWritesInFlightAsIndeterminate(t *testing.T) {
	t.Parallel()
	app := &blockedWrites{appDouble: newAppDouble(), release: make(chan struct{})}
	tl := measure.NewTimeline(nil)
	set := Start(context.Background(), app, tl, Config{Interval: 50 * time.Millisecond, Timeout: 10 * time.Second, Writers: 2, Rate: 100, WriteTimeout: 10 * time.Second, RedundancyEvery: time.Second}, nil)
	waitFor(t, func() bool { return app.blocked.Load() >= 3 })

	stopped := make(chan struct{})
	go func() { set.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		t.Error("Stop waited for writes the app never answered")
		close(app.release)
		<-stopped
	}
	atStop := tl.Snapshot()
	select {
	case <-app.release:
	default:
		close(app.release) // the app answers now: too late to count
	}
	time.Sleep(100 * time.Millisecond)

	if got := tl.Snapshot(); len(got.Writes) != len(atStop.Writes) {
		t.Errorf("%d write events recorded after Stop returned: %v", len(got.Writes)-len(atStop.Writes), got.Writes[len(atStop.Writes):])
	}
	done := map[string]measure.OpType{}
	invoked := 0
	for _, w := range atStop.Writes {
		if w.Type == measure.OpInvoke {
			invoked++
			continue
		}
		if prev, dup := done[w.ID]; dup {
			t.Errorf("write %s completed twice: %s then %s", w.ID, prev, w.Type)
		}
		done[w.ID] = w.Type
	}
	if invoked < 3 || len(done) != invoked {
		t.Errorf("%d writes invoked, %d completed: every write in flight must be completed at Stop", invoked, len(done))
	}
	for id, op := range done {
		if op != measure.OpInfo {
			t.Errorf("write %s, unanswered at Stop, recorded as %s, want info", id, op)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
