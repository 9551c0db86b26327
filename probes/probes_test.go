package probes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/measure"
)

// appDouble stands in for an app: it stores records in memory and can be
// made to refuse writes, time out, or report degraded health.
type appDouble struct {
	mu       sync.Mutex
	records  map[string]bool
	down     atomic.Bool // refuse everything
	hang     atomic.Bool // time out: outcome unknown, but applied
	degraded atomic.Bool
}

func newAppDouble() *appDouble { return &appDouble{records: map[string]bool{}} }

func (a *appDouble) Write(ctx context.Context, id string) error {
	if a.down.Load() {
		return errors.New("connection refused")
	}
	a.mu.Lock()
	a.records[id] = true
	a.mu.Unlock()
	if a.hang.Load() {
		<-ctx.Done()
		return fmt.Errorf("%w: %w", apps.ErrIndeterminate, ctx.Err())
	}
	return nil
}
func (a *appDouble) Read(context.Context) error {
	if a.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}
func (a *appDouble) ReadAll(context.Context) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for id := range a.records {
		ids = append(ids, id)
	}
	return ids, nil
}
func (a *appDouble) Health(context.Context) (apps.Health, error) {
	full := !a.degraded.Load() && !a.down.Load()
	return apps.Health{Full: full, Serving: !a.down.Load(), Members: 3, Healthy: 3, Detail: "double"}, nil
}
func (a *appDouble) Leader(context.Context) (string, error)          { return "", apps.ErrNotSupported }
func (a *appDouble) DeleteData(context.Context, string) (int, error) { return 0, apps.ErrNotSupported }
func (a *appDouble) Close() error                                    { return nil }

func TestProbesRecordAnOutageAndEveryWrite(t *testing.T) {
	t.Parallel()
	app := newAppDouble()
	tl := measure.NewTimeline(nil)
	set := Start(context.Background(), app, tl, Config{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond, Writers: 2, Rate: 100, WriteTimeout: 200 * time.Millisecond, RedundancyEvery: 50 * time.Millisecond}, nil)
	time.Sleep(300 * time.Millisecond)
	tl.Record(measure.FaultApplied, "down")
	app.down.Store(true)
	time.Sleep(500 * time.Millisecond)
	app.down.Store(false)
	app.hang.Store(true)
	time.Sleep(300 * time.Millisecond)
	app.hang.Store(false)
	time.Sleep(700 * time.Millisecond)
	set.Stop()
	if err := FinalRead(context.Background(), app, tl); err != nil {
		t.Fatal(err)
	}
	rec := tl.Snapshot()
	counts := map[measure.OpType]int{}
	for _, w := range rec.Writes {
		counts[w.Type]++
	}
	if counts[measure.OpFail] == 0 || counts[measure.OpInfo] == 0 || counts[measure.OpOK] == 0 {
		t.Errorf("write history %v: want acknowledged, failed (refused) and indeterminate (timed out) writes", counts)
	}
	if counts[measure.OpInvoke] != counts[measure.OpOK]+counts[measure.OpFail]+counts[measure.OpInfo] {
		t.Errorf("every invoke must complete once: %v", counts)
	}
	res, err := measure.Analyse(rec, measure.Options{StabilityWindow: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ServiceRestored || res.RTO == nil || res.RTO.Duration() < 500*time.Millisecond {
		t.Errorf("a 0.5 s outage then 0.3 s of timeouts measured as %+v", res.RTO)
	}
	if res.LostCount != 0 || res.UnexpectedCount != 0 || res.RecoveredCount == 0 {
		t.Errorf("lost %d, unexpected %d, recovered %d: timed-out writes the app applied are recovered, not lost", res.LostCount, res.UnexpectedCount, res.RecoveredCount)
	}
	if len(rec.Redundancy) == 0 {
		t.Error("no redundancy samples")
	}
}

func TestIntervalIsAtLeast50ms(t *testing.T) {
	t.Parallel()
	c := Config{Interval: 10 * time.Millisecond}
	c.defaults()
	if c.Interval != 50*time.Millisecond {
		t.Errorf("interval %s, want 50ms", c.Interval)
	}
}
