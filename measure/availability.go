package measure

import (
	"cmp"
	"slices"
	"time"
)

// DefaultStabilityWindow is how long probes must keep succeeding before the
// service counts as restored, when Options leaves it unset.
const DefaultStabilityWindow = 10 * time.Second

// Outage is one maximal interval in which the service was down, as offsets
// from T0: from the start of a failed probe (T0 itself for a probe already in
// flight at T0) to the completion of the first success of the next run of
// successes that lasted the stability window. docs/measurement.md defines it.
type Outage struct {
	Start time.Duration
	// End is when the outage ended; 0 when Open.
	End time.Duration
	// Open is true when no run of successes lasting the stability window
	// followed before observation ended: the outage has no end.
	Open bool
}

// Availability is what the availability probe says about a fault at T0.
// Instants are offsets on the timeline; durations are measured from T0.
type Availability struct {
	// Restored is true when no outage was still open when observation
	// ended and a run of successes lasting the stability window was seen
	// (after the last outage, or at all when nothing failed). When false,
	// TSvc and RTO are meaningless and Observed says how long was watched.
	Restored bool
	// TSvc is the end of the last outage (an offset on the timeline), or T0
	// itself when no probe failed. The end is the completion of the first
	// success of the stable run, not its start: a probe sent into an outage
	// may hang and answer after it ends.
	TSvc time.Duration
	// RTO is TSvc − T0: the end of the last outage, from T0; 0 only when
	// no probe failed at all.
	RTO time.Duration
	// Resolution is the probe interval (the median gap between probe
	// starts): every outage bound is only known to within one interval.
	Resolution time.Duration
	// Observed is from T0 to the end of the last probe counted.
	Observed time.Duration
	// Outages are every outage after T0, in time order; only the last
	// can be Open.
	Outages []Outage
	// Failed reports whether any probe failed after T0 (Outages is then
	// not empty); TimeToImpact is the start of the first outage, from T0
	// (0 when a probe in flight at T0 failed).
	Failed       bool
	TimeToImpact time.Duration
	// LastFailure is the completion of the last failed probe, from T0; 0
	// when none failed. Observation must go on at least one stability
	// window past it, or a later outage could go unseen.
	LastFailure time.Duration
	// Downtime is the sum of the outages' lengths; an open outage counts
	// up to the end of observation.
	Downtime time.Duration
	// Probes and FailedProbes count probes after T0; ErrorRate is their
	// ratio (0 when there were none).
	Probes, FailedProbes int
	ErrorRate            float64
}

// ServiceRestored computes the outages, T_svc, RTO, time to impact,
// downtime and error rate from availability samples for a fault applied at
// t0.
//
// A probe counts as after T0 when it started at or after T0, or when it failed
// and finished after T0 (it was in flight when the fault hit, and rebound does
// not under-report). A successful probe that started before T0 is ignored: it
// cannot start a run that proves recovery. A run lasts the window when one of
// its successful probes started window or more after the run's first probe;
// any failure before that restarts the window and the outage goes on. A
// failure after an outage ended starts a new one, however long after T0 it
// comes. Samples may come in any order.
func ServiceRestored(samples []ProbeSample, t0, window time.Duration) Availability {
	a := Availability{Resolution: probeInterval(samples)}

	post := make([]ProbeSample, 0, len(samples))
	for _, s := range samples {
		if s.Start >= t0 || (!s.OK && s.End > t0) {
			post = append(post, s)
		}
	}
	slices.SortStableFunc(post, func(x, y ProbeSample) int {
		return cmp.Or(cmp.Compare(x.Start, y.Start), cmp.Compare(x.End, y.End))
	})

	obsEnd := t0
	for _, s := range post {
		obsEnd = max(obsEnd, s.End)
	}
	a.Observed = obsEnd - t0
	a.Probes = len(post)

	var (
		down     bool // an outage is open
		proven   bool // a run lasting the window was seen since the last failure
		runStart = -1 // index in post of the current run's first success
	)
	for i, s := range post {
		if !s.OK {
			a.FailedProbes++
			a.LastFailure = max(a.LastFailure, s.End-t0)
			runStart, proven = -1, false
			if down {
				continue
			}
			down = true
			start := max(s.Start, t0) - t0
			// Concurrent probes can start a failure before the last
			// outage's closing success completed: that is the same
			// outage, not a new one.
			if n := len(a.Outages); n > 0 && start <= a.Outages[n-1].End {
				a.Outages[n-1] = Outage{Start: a.Outages[n-1].Start, Open: true}
				continue
			}
			a.Outages = append(a.Outages, Outage{Start: start, Open: true})
			continue
		}
		if proven {
			continue
		}
		if runStart < 0 {
			runStart = i
		}
		if s.Start-post[runStart].Start < window {
			continue
		}
		proven = true
		if down {
			down = false
			// The run's first success proves the service answered when
			// it completed, not when it was sent: taking its end never
			// reports an RTO shorter than the outage.
			last := &a.Outages[len(a.Outages)-1]
			last.End, last.Open = post[runStart].End-t0, false
		}
	}

	for _, o := range a.Outages {
		end := o.End
		if o.Open {
			end = obsEnd - t0
		}
		a.Downtime += max(0, end-o.Start)
	}
	if len(a.Outages) > 0 {
		a.Failed = true
		a.TimeToImpact = a.Outages[0].Start
	}
	a.Restored = proven && !down
	if a.Restored {
		a.TSvc = t0 // DESIGN: RTO is 0 when no probe failed
		if n := len(a.Outages); n > 0 {
			a.TSvc = t0 + a.Outages[n-1].End
		}
		a.RTO = a.TSvc - t0
	}
	if a.Probes > 0 {
		a.ErrorRate = float64(a.FailedProbes) / float64(a.Probes)
	}
	return a
}

// probeInterval is the median positive gap between consecutive probe starts:
// the configured interval in practice, measured rather than trusted, and
// robust to a few late probes.
func probeInterval(samples []ProbeSample) time.Duration {
	starts := make([]time.Duration, len(samples))
	for i, s := range samples {
		starts[i] = s.Start
	}
	slices.Sort(starts)
	var gaps []time.Duration
	for i := 1; i < len(starts); i++ {
		if g := starts[i] - starts[i-1]; g > 0 {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 {
		return 0
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}
