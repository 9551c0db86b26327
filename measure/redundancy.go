package measure

import (
	"cmp"
	"slices"
	"time"
)

// Redundancy is what the redundancy samples say about a fault at T0.
type Redundancy struct {
	// Restored is false when the last sample after T0 was not full, or
	// there was no sample after T0 at all.
	Restored bool
	// TFull is the first full sample after the last not-full one, or T0
	// when no sample after T0 was ever not full.
	TFull time.Duration
	// TimeToFull is TFull − T0.
	TimeToFull time.Duration
	// Resolution is the gap between the last not-full sample and TFull:
	// full redundancy came back somewhere in it.
	Resolution time.Duration
	// Degraded is the Detail of the last not-full sample after T0 ("2/3
	// members healthy"), so a report can say what was missing.
	Degraded string
	// Observed is from T0 to the last sample.
	Observed time.Duration
}

// RedundancyRestored finds T_full: the first instant after T0 from which
// redundancy is full and stays full until the end of observation. Samples
// are discrete, so that is the first full sample after the last not-full
// one; a flap back to not-full pushes T_full later. Samples before T0 are
// ignored. Samples may come in any order.
func RedundancyRestored(samples []RedundancySample, t0 time.Duration) Redundancy {
	var post []RedundancySample
	for _, s := range samples {
		if s.At >= t0 {
			post = append(post, s)
		}
	}
	if len(post) == 0 {
		return Redundancy{} // nothing observed: not restored, not zero
	}
	slices.SortStableFunc(post, func(x, y RedundancySample) int { return cmp.Compare(x.At, y.At) })

	r := Redundancy{Observed: post[len(post)-1].At - t0}
	last := -1
	for i, s := range post {
		if !s.Full {
			last = i
		}
	}
	switch {
	case last < 0:
		// Never seen degraded: like an RTO with no failed probe.
		r.Restored, r.TFull = true, t0
	case last == len(post)-1:
		r.Degraded = post[last].Detail
	default:
		r.Restored = true
		r.Degraded = post[last].Detail
		r.TFull = post[last+1].At
		r.TimeToFull = r.TFull - t0
		r.Resolution = r.TFull - post[last].At
	}
	return r
}
