package measure

import (
	"cmp"
	"slices"
	"time"
)

// DefaultStabilityWindow is how long probes must keep succeeding before the
// service counts as restored, when Options leaves it unset.
const DefaultStabilityWindow = 10 * time.Second

// Availability is what the availability probe says about a fault at T0.
// Instants are offsets on the timeline; durations are measured from T0.
type Availability struct {
	// Restored is false when no run of successful probes lasted the
	// stability window before observation ended; TSvc and RTO are then
	// meaningless and Observed says how long was watched.
	Restored bool
	// TSvc is when the first probe of the first run of successful probes
	// after T0 that lasted the stability window completed (the run is
	// ordered by probe starts), or T0 itself when no probe failed first.
	// DESIGN.md says "the start of the run"; the completion is used since a
	// probe sent into an outage may hang and succeed after it ends.
	TSvc time.Duration
	// RTO is TSvc − T0, or 0 when no probe failed before TSvc.
	RTO time.Duration
	// Resolution is the probe interval (the median gap between probe
	// starts): TSvc is only known to within one interval.
	Resolution time.Duration
	// Observed is from T0 to the end of the last probe counted.
	Observed time.Duration
	// Failed reports whether any probe failed after T0; FirstFailure is
	// then the start of the first such probe, from T0 (0 when it was
	// already in flight at T0).
	Failed       bool
	FirstFailure time.Duration
	// Downtime adds up, over the whole observation after T0, the time from
	// each failed probe to the next probe: the time the latest word was
	// "down".
	Downtime time.Duration
	// Probes and FailedProbes count probes after T0; ErrorRate is their
	// ratio (0 when there were none).
	Probes, FailedProbes int
	ErrorRate            float64
}

// ServiceRestored computes T_svc, RTO, downtime, error rate and first failure
// from availability samples for a fault applied at t0.
//
// A probe counts as after T0 when it started at or after T0, or when it failed
// and finished after T0 (it was in flight when the fault hit, and rebound does
// not under-report). A successful probe that started before T0 is ignored: it
// cannot start a run that proves recovery. A run lasts the window when one of
// its successful probes started window or more after the run's first probe;
// any failure before that restarts the window. Samples may come in any order.
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

	runStart := -1 // index in post of the current run's first success
	for i, s := range post {
		if !s.OK {
			if !a.Failed {
				a.Failed = true
				a.FirstFailure = max(s.Start, t0) - t0
			}
			a.FailedProbes++
			next := obsEnd
			if i+1 < len(post) {
				next = post[i+1].Start
			}
			a.Downtime += max(0, next-max(s.Start, t0))
			if !a.Restored {
				runStart = -1
			}
			continue
		}
		if a.Restored {
			continue // still counting downtime and errors after restoration
		}
		if runStart < 0 {
			runStart = i
		}
		if s.Start-post[runStart].Start >= window {
			a.Restored = true
			// The run's first success proves the service answered when it
			// completed, not when it was sent: a probe sent into an
			// outage can hang and succeed once the app is back. Taking
			// its end never reports an RTO shorter than the outage.
			a.TSvc = post[runStart].End
			if !a.Failed {
				a.TSvc = t0 // DESIGN: RTO is 0 when no probe failed
			}
			a.RTO = a.TSvc - t0
		}
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
