package measure_test

import (
	"sync"
	"time"

	"github.com/reboundhq/rebound/measure"
)

const (
	ms = time.Millisecond
	s  = time.Second
)

// fakeClock is a Clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// probeLatency is how long a simulated probe takes.
const probeLatency = 5 * ms

// probes simulates an availability probe started every interval in
// [from, to), failing when down(start).
func probes(interval, from, to time.Duration, down func(time.Duration) bool) []measure.ProbeSample {
	var out []measure.ProbeSample
	for at := from; at < to; at += interval {
		out = append(out, measure.ProbeSample{Start: at, End: at + probeLatency, OK: !down(at)})
	}
	return out
}

// outage is down in [from, to); several are down when any is.
func outage(spans ...[2]time.Duration) func(time.Duration) bool {
	return func(at time.Duration) bool {
		for _, sp := range spans {
			if at >= sp[0] && at < sp[1] {
				return true
			}
		}
		return false
	}
}

func span(from, to time.Duration) [2]time.Duration { return [2]time.Duration{from, to} }

func never(time.Duration) bool { return false }

// history builds a write probe history fluently.
type history []measure.WriteEvent

func (h history) ok(id string, invoke, ack time.Duration) history {
	return append(h, measure.WriteEvent{ID: id, Type: measure.OpInvoke, At: invoke}, measure.WriteEvent{ID: id, Type: measure.OpOK, At: ack})
}

func (h history) fail(id string, invoke, done time.Duration) history {
	return append(h, measure.WriteEvent{ID: id, Type: measure.OpInvoke, At: invoke}, measure.WriteEvent{ID: id, Type: measure.OpFail, At: done})
}

func (h history) info(id string, invoke, done time.Duration) history {
	return append(h, measure.WriteEvent{ID: id, Type: measure.OpInvoke, At: invoke}, measure.WriteEvent{ID: id, Type: measure.OpInfo, At: done})
}

// pending is a write invoked and never completed.
func (h history) pending(id string, invoke time.Duration) history {
	return append(h, measure.WriteEvent{ID: id, Type: measure.OpInvoke, At: invoke})
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
