package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/measure"
)

// Observer is told of every probe result, for live metrics; may be nil.
type Observer interface {
	Probe(kind string, ok bool)
	Write(op measure.OpType)
}

// DefaultReadBackEvery is the read-back period when MaxLost is set and
// ReadBackEvery is not.
const DefaultReadBackEvery = 5 * time.Second

// Config tunes the probes of one scenario.
type Config struct {
	Interval        time.Duration // availability probe period (default 100 ms, at least 50 ms)
	Timeout         time.Duration // per availability probe, read and write together (default 1 s)
	Writers         int           // concurrent writers (default 2)
	Rate            int           // writes per second per writer (default 50)
	WriteTimeout    time.Duration // per write (default 2 s)
	RedundancyEvery time.Duration // redundancy sample period (default 500 ms)
	// Redundancy reports whether the app's desired replicas are Ready, as
	// the Kubernetes side of "full redundancy"; nil means always.
	Redundancy func(ctx context.Context) (bool, string)

	// MaxLost turns on the read-back (abort.maxLostWrites): every
	// ReadBackEvery the set reads every record back, and once more than
	// *MaxLost writes acknowledged before that read began are missing it
	// calls OnLost. nil means no read-back.
	MaxLost *int
	// ReadBackEvery is the read-back period (default 5 s).
	ReadBackEvery time.Duration
	// OnLost is called at most once, on its own goroutine (so it may call
	// Stop), with the missing writes in acknowledgement order. Required
	// when MaxLost is set.
	OnLost func(missing []Missing)
}

// Missing is an acknowledged write a read-back did not find.
type Missing struct {
	ID    string
	Acked time.Duration // when it was acknowledged, on the run's timeline
}

// Validate reports every field of c that Start cannot honour.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Interval", c.Interval}, {"Timeout", c.Timeout}, {"WriteTimeout", c.WriteTimeout}, {"RedundancyEvery", c.RedundancyEvery}, {"ReadBackEvery", c.ReadBackEvery}} {
		if f.d < 0 {
			errs = append(errs, fmt.Errorf("probes: %s is %s: give a positive duration, or 0 for the default", f.name, f.d))
		}
	}
	if c.Writers < 0 || c.Rate < 0 {
		errs = append(errs, fmt.Errorf("probes: Writers %d and Rate %d must not be negative (0 means the default)", c.Writers, c.Rate))
	}
	if c.MaxLost != nil {
		if *c.MaxLost < 0 {
			errs = append(errs, fmt.Errorf("probes: MaxLost is %d: give 0 (the first missing write) or more, or nil for no read-back", *c.MaxLost))
		}
		if c.OnLost == nil {
			errs = append(errs, errors.New("probes: MaxLost is set but OnLost is nil: give OnLost, or leave MaxLost nil for no read-back"))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	c.Interval = max(c.Interval, 50*time.Millisecond)
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.Writers <= 0 {
		c.Writers = 2
	}
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 2 * time.Second
	}
	if c.RedundancyEvery <= 0 {
		c.RedundancyEvery = 500 * time.Millisecond
	}
	if c.ReadBackEvery <= 0 {
		c.ReadBackEvery = DefaultReadBackEvery
	}
}

// Set is the probes of one scenario, running.
type Set struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seq    atomic.Uint64
	tl     *measure.Timeline
	obs    Observer

	// mu orders the write history with Stop: an id is invoked and
	// completed under it, so Stop sees exactly the writes in flight and
	// nothing is recorded after it.
	mu      sync.Mutex
	stopped bool
	pending map[string]bool // invoked, not completed → whether the Observer hears of it
	acked   []Missing       // every acknowledged write, in ack order
}

// Start runs every probe against d, recording on tl, until Stop. cfg should
// have passed Validate; out-of-range values fall back to the defaults, and
// a MaxLost without OnLost reads nothing back.
func Start(ctx context.Context, d apps.Driver, tl *measure.Timeline, cfg Config, obs Observer) *Set {
	cfg.defaults()
	ctx, cancel := context.WithCancel(ctx)
	s := &Set{cancel: cancel, tl: tl, obs: obs, pending: map[string]bool{}}
	s.wg.Add(2 + cfg.Writers)
	go func() { defer s.wg.Done(); s.availability(ctx, d, cfg) }()
	go func() { defer s.wg.Done(); redundancy(ctx, d, tl, cfg, obs) }()
	for w := range cfg.Writers {
		go func() { defer s.wg.Done(); s.writer(ctx, d, cfg, w) }()
	}
	if cfg.MaxLost != nil && *cfg.MaxLost >= 0 && cfg.OnLost != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.readBack(ctx, d, cfg) }()
	}
	return s
}

// Stop ends the probes. Every write still in flight is recorded as info
// (outcome unknown) now, and nothing is recorded after Stop returns, even
// when the driver answers later or never honours its context.
func (s *Set) Stop() {
	s.cancel()
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		ids := make([]string, 0, len(s.pending))
		observed := 0
		for id, o := range s.pending {
			ids = append(ids, id)
			if o {
				observed++
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			s.tl.RecordWrite(id, measure.OpInfo)
		}
		s.pending = nil
		s.mu.Unlock()
		if s.obs != nil {
			for range observed {
				s.obs.Write(measure.OpInfo)
			}
		}
	} else {
		s.mu.Unlock()
	}
	s.wg.Wait()
}

// errStopped is what a write returns once the set has stopped: it was
// never sent.
var errStopped = errors.New("probes stopped")

// within calls fn with a deadline of timeout and returns by that deadline
// (or ctx's end) whether or not fn honours its context: a probe that is
// not answered in time has failed, and a driver that ignores its context
// must not stretch a probe or hold up Stop. A call abandoned this way
// finishes in the background; its answer is dropped.
func within[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		v, err := fn(cctx)
		done <- answer{v, err}
	}()
	select {
	case a := <-done:
		return a.v, a.err
	case <-cctx.Done():
		select {
		case a := <-done: // answered at the same instant: keep the answer
			return a.v, a.err
		default:
		}
		var zero T
		return zero, cctx.Err()
	}
}

// write issues one write with a unique id and records its history: invoke,
// then ok, fail or info. Its deadline is timeout or ctx's, whichever is
// earlier, so an availability probe's write shares the probe's deadline.
func (s *Set) write(ctx context.Context, d apps.Driver, id string, timeout time.Duration, obs Observer) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errStopped
	}
	s.tl.RecordWrite(id, measure.OpInvoke)
	s.pending[id] = obs != nil
	s.mu.Unlock()

	_, err := within(ctx, timeout, func(ctx context.Context) (struct{}, error) { return struct{}{}, d.Write(ctx, id) })
	op := measure.OpOK
	switch {
	case err == nil:
	case errors.Is(err, apps.ErrIndeterminate), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		op = measure.OpInfo
	default:
		op = measure.OpFail
	}

	s.mu.Lock()
	if _, ok := s.pending[id]; !ok {
		s.mu.Unlock()
		return errStopped // Stop recorded it as info already
	}
	delete(s.pending, id)
	w := s.tl.RecordWrite(id, op)
	if op == measure.OpOK {
		s.acked = append(s.acked, Missing{ID: id, Acked: w.At})
	}
	s.mu.Unlock()
	if obs != nil {
		obs.Write(op)
	}
	return err
}

// availability sends a probe every interval, each a read then a write; a
// probe is ok when both succeed within the timeout, which bounds the two
// together, and a probe whose end is more than the timeout after its start
// has failed whatever the driver said. Probes are sent on the clock, not
// after the previous one returns, so an outage in which probes hang is
// still sampled every interval. Its writes join the write history, so the
// final read accounts for them.
func (s *Set) availability(ctx context.Context, d apps.Driver, cfg Config) {
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			start := s.tl.Now()
			pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			_, err := within(pctx, cfg.Timeout, func(ctx context.Context) (struct{}, error) { return struct{}{}, d.Read(ctx) })
			if err == nil {
				id := fmt.Sprintf("a-%08d", s.seq.Add(1))
				err = s.write(pctx, d, id, cfg.Timeout, nil)
			}
			end := s.tl.Now()
			if ctx.Err() != nil {
				return // stopping: this probe proves nothing
			}
			ok := err == nil && end-start <= cfg.Timeout
			s.tl.RecordProbe(measure.ProbeSample{Start: start, End: end, OK: ok})
			if s.obs != nil {
				s.obs.Probe("availability", ok)
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// writer issues writes at cfg.Rate with ids unique within the run.
func (s *Set) writer(ctx context.Context, d apps.Driver, cfg Config, n int) {
	tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = s.write(ctx, d, fmt.Sprintf("w%d-%08d", n, i), cfg.WriteTimeout, s.obs)
	}
}

// readBack reads every record back each cfg.ReadBackEvery and calls
// cfg.OnLost once when more than *cfg.MaxLost of the writes acknowledged
// before the read began are missing. A read that fails (the app is down)
// proves nothing and is skipped. Nothing is recorded on the timeline: the
// final read alone decides lost writes in the report.
func (s *Set) readBack(ctx context.Context, d apps.Driver, cfg Config) {
	tick := time.NewTicker(cfg.ReadBackEvery)
	defer tick.Stop()
	// A read of a large set may take a while; the next one waits for it.
	timeout := max(cfg.ReadBackEvery, 10*time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		acked := s.acked[:len(s.acked):len(s.acked)] // acknowledged before the read began
		s.mu.Unlock()
		ids, err := within(ctx, timeout, d.ReadAll)
		if err != nil {
			continue
		}
		present := make(map[string]struct{}, len(ids))
		for _, id := range ids {
			present[id] = struct{}{}
		}
		var missing []Missing
		for _, w := range acked {
			if _, ok := present[w.ID]; !ok {
				missing = append(missing, w)
			}
		}
		if len(missing) > *cfg.MaxLost {
			if ctx.Err() == nil {
				go cfg.OnLost(missing)
			}
			return
		}
	}
}

// redundancy samples whether the app is at full redundancy: desired
// replicas Ready and the app's own health full.
func redundancy(ctx context.Context, d apps.Driver, tl *measure.Timeline, cfg Config, obs Observer) {
	tick := time.NewTicker(cfg.RedundancyEvery)
	defer tick.Stop()
	for {
		h, err := within(ctx, cfg.RedundancyEvery+time.Second, d.Health)
		full, detail := err == nil && h.Full, h.Detail
		if err != nil {
			detail = err.Error()
		}
		if cfg.Redundancy != nil {
			// Its own deadline: a hung member must not starve the API check.
			type answer struct {
				ready bool
				why   string
			}
			a, err := within(ctx, cfg.RedundancyEvery+time.Second, func(ctx context.Context) (answer, error) {
				ready, why := cfg.Redundancy(ctx)
				return answer{ready, why}, nil
			})
			if err != nil {
				a.why = "replicas: no answer: " + err.Error()
			}
			full = full && a.ready
			detail += "; " + a.why
		}
		if ctx.Err() != nil {
			return
		}
		tl.RecordRedundancy(full, detail)
		if obs != nil {
			obs.Probe("redundancy", full)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// FinalRead reads every record back after recovery and records the read.
func FinalRead(ctx context.Context, d apps.Driver, tl *measure.Timeline) error {
	ids, err := d.ReadAll(ctx)
	if err != nil {
		return err
	}
	tl.RecordRead(ids...)
	return nil
}
