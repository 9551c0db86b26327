package probes

import (
	"context"
	"errors"
	"fmt"
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

// Config tunes the probes of one scenario.
type Config struct {
	Interval        time.Duration // availability probe period (default 100 ms, at least 50 ms)
	Timeout         time.Duration // per availability probe (default 1 s)
	Writers         int           // concurrent writers (default 2)
	Rate            int           // writes per second per writer (default 50)
	WriteTimeout    time.Duration // per write (default 2 s)
	RedundancyEvery time.Duration // redundancy sample period (default 500 ms)
	// Redundancy reports whether the app's desired replicas are Ready, as
	// the Kubernetes side of "full redundancy"; nil means always.
	Redundancy func(ctx context.Context) (bool, string)
}

func (c *Config) defaults() {
	if c.Interval == 0 {
		c.Interval = 100 * time.Millisecond
	}
	c.Interval = max(c.Interval, 50*time.Millisecond)
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.Writers == 0 {
		c.Writers = 2
	}
	if c.Rate == 0 {
		c.Rate = 50
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 2 * time.Second
	}
	if c.RedundancyEvery == 0 {
		c.RedundancyEvery = 500 * time.Millisecond
	}
}

// Set is the probes of one scenario, running.
type Set struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seq    atomic.Uint64
}

// Start runs every probe against d, recording on tl, until Stop.
func Start(ctx context.Context, d apps.Driver, tl *measure.Timeline, cfg Config, obs Observer) *Set {
	cfg.defaults()
	ctx, cancel := context.WithCancel(ctx)
	s := &Set{cancel: cancel}
	s.wg.Add(2 + cfg.Writers)
	go func() { defer s.wg.Done(); s.availability(ctx, d, tl, cfg, obs) }()
	go func() { defer s.wg.Done(); redundancy(ctx, d, tl, cfg, obs) }()
	for w := range cfg.Writers {
		go func() { defer s.wg.Done(); s.writer(ctx, d, tl, cfg, obs, w) }()
	}
	return s
}

// Stop ends the probes and waits for every operation in flight to be
// recorded: a write still in flight at stop is recorded as info.
func (s *Set) Stop() {
	s.cancel()
	s.wg.Wait()
}

// write issues one write with a unique id and records its history.
func write(ctx context.Context, d apps.Driver, tl *measure.Timeline, id string, timeout time.Duration, obs Observer) error {
	tl.RecordWrite(id, measure.OpInvoke)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	err := d.Write(wctx, id)
	cancel()
	op := measure.OpOK
	switch {
	case err == nil:
	case errors.Is(err, apps.ErrIndeterminate), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		op = measure.OpInfo
	default:
		op = measure.OpFail
	}
	tl.RecordWrite(id, op)
	if obs != nil {
		obs.Write(op)
	}
	return err
}

// availability sends a probe every interval, each a read then a write; a
// probe is ok when both succeed within the timeout. Probes are sent on the
// clock, not after the previous one returns, so an outage in which probes
// hang is still sampled every interval. Its writes join the write history,
// so the final read accounts for them.
func (s *Set) availability(ctx context.Context, d apps.Driver, tl *measure.Timeline, cfg Config, obs Observer) {
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for {
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			start := tl.Now()
			pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			err := d.Read(pctx)
			if err == nil {
				id := fmt.Sprintf("a-%08d", s.seq.Add(1))
				err = write(pctx, d, tl, id, cfg.Timeout, nil)
			}
			if ctx.Err() != nil {
				return // stopping: this probe proves nothing
			}
			ok := err == nil
			tl.RecordProbe(measure.ProbeSample{Start: start, End: tl.Now(), OK: ok})
			if obs != nil {
				obs.Probe("availability", ok)
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
func (s *Set) writer(ctx context.Context, d apps.Driver, tl *measure.Timeline, cfg Config, obs Observer, n int) {
	tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = write(ctx, d, tl, fmt.Sprintf("w%d-%08d", n, i), cfg.WriteTimeout, obs)
	}
}

// redundancy samples whether the app is at full redundancy: desired
// replicas Ready and the app's own health full.
func redundancy(ctx context.Context, d apps.Driver, tl *measure.Timeline, cfg Config, obs Observer) {
	tick := time.NewTicker(cfg.RedundancyEvery)
	defer tick.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, cfg.RedundancyEvery+time.Second)
		h, err := d.Health(hctx)
		full, detail := err == nil && h.Full, h.Detail
		if err != nil {
			detail = err.Error()
		}
		cancel()
		if cfg.Redundancy != nil {
			// Its own deadline: a hung member must not starve the API check.
			rctx, cancel := context.WithTimeout(ctx, cfg.RedundancyEvery+time.Second)
			ready, why := cfg.Redundancy(rctx)
			cancel()
			full = full && ready
			detail += "; " + why
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
