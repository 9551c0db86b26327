package measure_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
)

func TestServiceRestored(t *testing.T) {
	t.Parallel()
	// T0 falls between probes, as it does in real runs.
	const t0 = 1030 * ms
	tests := []struct {
		name     string
		samples  []measure.ProbeSample
		window   time.Duration
		restored bool
		// rto and downtime must be within tol of these; failed is exact.
		rto, downtime time.Duration
		tol           time.Duration
		failed        int
	}{
		{
			name:     "2s outage sampled at 100ms gives RTO within one interval of 2s",
			samples:  probes(100*ms, 0, 15*s, outage(span(t0, t0+2*s))),
			window:   10 * s,
			restored: true, rto: 2 * s, downtime: 2 * s, tol: 100 * ms, failed: 20,
		},
		{
			name:     "2s outage sampled at 50ms gives RTO within 50ms of 2s",
			samples:  probes(50*ms, 0, 15*s, outage(span(t0, t0+2*s))),
			window:   10 * s,
			restored: true, rto: 2 * s, downtime: 2 * s, tol: 50 * ms, failed: 40,
		},
		{
			name:     "no probe failed after T0: RTO is exactly 0",
			samples:  probes(100*ms, 0, 15*s, never),
			window:   10 * s,
			restored: true, rto: 0, downtime: 0, tol: 0, failed: 0,
		},
		{
			name:     "failures before T0 do not count",
			samples:  probes(100*ms, 0, 15*s, outage(span(200*ms, 900*ms))),
			window:   10 * s,
			restored: true, rto: 0, downtime: 0, tol: 0, failed: 0,
		},
		{
			name: "a failure inside the window restarts it",
			// One failed probe 7s after T0 (at 8.1s) restarts the window: the
			// service is restored from the next probe, not from 3.1s.
			samples: probes(100*ms, 0, 20*s, outage(span(t0, t0+2*s), span(t0+7*s, t0+7100*ms))),
			window:  10 * s,
			// The outage goes on through the broken run: downtime is
			// its whole length, not just the failed probes.
			restored: true, rto: 7100 * ms, downtime: 7100 * ms, tol: 100 * ms, failed: 21,
		},
		{
			name: "a failure just before the window completes restarts it",
			// Run starts at 3.1s; the probe at 4.0s fails; window is 1s.
			samples:  probes(100*ms, 0, 8*s, outage(span(t0, t0+2*s), span(4*s, 4*s+ms))),
			window:   1 * s,
			restored: true, rto: 4100*ms + probeLatency - t0, downtime: 3000*ms + probeLatency, tol: 0, failed: 21,
		},
		{
			name: "a failure after the window completed starts a second outage that moves RTO",
			// Run starts at 3.1s; the probe at 4.1s succeeds exactly 1s
			// later, so the window is met; 4.2s then fails, and 4.3s
			// starts the run that ends the second outage.
			samples:  probes(100*ms, 0, 8*s, outage(span(t0, t0+2*s), span(4200*ms, 4200*ms+ms))),
			window:   1 * s,
			restored: true, rto: 4300*ms + probeLatency - t0, downtime: 2000*ms + probeLatency + 100*ms + probeLatency, tol: 0, failed: 21,
		},
		{
			name:    "a run lasting to the end of observation but shorter than the window is not restored",
			samples: probes(100*ms, 0, t0+2*s+9500*ms, outage(span(t0, t0+2*s))),
			window:  10 * s,
			// The outage is still open: it counts to the end of observation.
			restored: false, downtime: 12500*ms + probeLatency - 1100*ms, tol: 0, failed: 20,
		},
		{
			name:     "never recovers",
			samples:  probes(100*ms, 0, 30*s, outage(span(t0, time.Hour))),
			window:   10 * s,
			restored: false, downtime: 29900*ms + probeLatency - 1100*ms, tol: 0, failed: 289,
		},
		{
			name:     "no probe after T0 is not restored, not RTO 0",
			samples:  probes(100*ms, 0, t0, never),
			window:   10 * s,
			restored: false,
		},
		{
			name: "a probe in flight at T0 that fails counts",
			samples: append(probes(100*ms, t0+50*ms, 15*s, never),
				measure.ProbeSample{Start: t0 - 50*ms, End: t0 + 950*ms, OK: false}),
			window:   10 * s,
			restored: true, rto: 50*ms + probeLatency, downtime: 50*ms + probeLatency, tol: 0, failed: 1,
		},
		{
			// With concurrent probes a success that started before T0 can
			// sort after a failure; it must not start the run, or RTO
			// would go negative.
			name: "a success in flight at T0 cannot restore the service",
			samples: append(probes(100*ms, t0+50*ms, 15*s, never),
				measure.ProbeSample{Start: t0 - 80*ms, End: t0 + 900*ms, OK: false},
				measure.ProbeSample{Start: t0 - 50*ms, End: t0 + 20*ms, OK: true}),
			window:   10 * s,
			restored: true, rto: 50*ms + probeLatency, downtime: 50*ms + probeLatency, tol: 0, failed: 1,
		},
		{
			name:     "zero window: the first success after the last failure restores",
			samples:  probes(100*ms, 0, 5*s, outage(span(t0, t0+2*s))),
			window:   0,
			restored: true, rto: 3100*ms + probeLatency - t0, downtime: 2*s + probeLatency, tol: 0, failed: 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := measure.ServiceRestored(tt.samples, t0, tt.window)
			if got.Restored != tt.restored {
				t.Fatalf("Restored = %v, want %v (%+v)", got.Restored, tt.restored, got)
			}
			if tt.restored {
				if abs(got.RTO-tt.rto) > tt.tol {
					t.Errorf("RTO = %s, want %s ± %s", got.RTO, tt.rto, tt.tol)
				}
				if got.TSvc-t0 != got.RTO {
					t.Errorf("TSvc − T0 = %s, RTO = %s: must be equal", got.TSvc-t0, got.RTO)
				}
			}
			if abs(got.Downtime-tt.downtime) > tt.tol {
				t.Errorf("Downtime = %s, want %s ± %s", got.Downtime, tt.downtime, tt.tol)
			}
			if got.FailedProbes != tt.failed {
				t.Errorf("FailedProbes = %d, want %d", got.FailedProbes, tt.failed)
			}
			if got.Failed != (tt.failed > 0) {
				t.Errorf("Failed = %v with %d failed probes", got.Failed, tt.failed)
			}
		})
	}
}

func TestServiceRestoredReportsWhatWasObserved(t *testing.T) {
	t.Parallel()
	const t0 = 1030 * ms
	tests := []struct {
		name    string
		samples []measure.ProbeSample
		want    measure.Availability
	}{
		{
			name:    "not restored says how long it watched",
			samples: probes(100*ms, 0, t0+2*s+9500*ms, outage(span(t0, t0+2*s))),
			want: measure.Availability{
				Restored:     false,
				Resolution:   100 * ms,
				Observed:     12500*ms + probeLatency - t0,
				Outages:      []measure.Outage{{Start: 1100*ms - t0, Open: true}},
				Failed:       true,
				TimeToImpact: 1100*ms - t0,
				LastFailure:  3000*ms + probeLatency - t0,
				Downtime:     12500*ms + probeLatency - 1100*ms,
				Probes:       115,
				FailedProbes: 20,
				ErrorRate:    20.0 / 115,
			},
		},
		{
			name:    "restored after a 2s outage",
			samples: probes(100*ms, 0, 14*s, outage(span(t0, t0+2*s))),
			want: measure.Availability{
				Restored:     true,
				TSvc:         3100*ms + probeLatency,
				RTO:          3100*ms + probeLatency - t0,
				Resolution:   100 * ms,
				Observed:     13900*ms + probeLatency - t0,
				Outages:      []measure.Outage{{Start: 1100*ms - t0, End: 3100*ms + probeLatency - t0}},
				Failed:       true,
				TimeToImpact: 1100*ms - t0,
				LastFailure:  3000*ms + probeLatency - t0,
				Downtime:     2*s + probeLatency,
				Probes:       129,
				FailedProbes: 20,
				ErrorRate:    20.0 / 129,
			},
		},
		{
			name: "no samples",
			want: measure.Availability{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := measure.ServiceRestored(tt.samples, t0, 10*s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ServiceRestored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceRestoredIgnoresSampleOrder(t *testing.T) {
	t.Parallel()
	const t0 = 1030 * ms
	samples := probes(100*ms, 0, 20*s, outage(span(t0, t0+2*s), span(t0+7*s, t0+7100*ms)))
	want := measure.ServiceRestored(samples, t0, 10*s)

	shuffled := append([]measure.ProbeSample(nil), samples...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	if diff := cmp.Diff(want, measure.ServiceRestored(shuffled, t0, 10*s)); diff != "" {
		t.Errorf("shuffled samples changed the result (-sorted +shuffled):\n%s", diff)
	}
}

func ExampleServiceRestored() {
	// A fault at 1s takes the app down for 2s; probes run every 100ms and
	// take 5ms: service is known to be back when the first one answers.
	var samples []measure.ProbeSample
	for at := time.Duration(0); at < 15*time.Second; at += 100 * time.Millisecond {
		down := at >= time.Second && at < 3*time.Second
		samples = append(samples, measure.ProbeSample{Start: at, End: at + 5*time.Millisecond, OK: !down})
	}
	a := measure.ServiceRestored(samples, time.Second, 10*time.Second)
	fmt.Printf("restored=%v RTO=%s ±%s downtime=%s\n", a.Restored, a.RTO, a.Resolution, a.Downtime)
	// Output: restored=true RTO=2.005s ±100ms downtime=2.005s
}

// TestServiceRestoredOutages covers issue 8 item 1: failures after an earlier
// stable run start a new outage, and RTO is the end of the last one.
func TestServiceRestoredOutages(t *testing.T) {
	t.Parallel()
	const t0 = 1030 * ms
	end := func(at time.Duration) time.Duration { return at + probeLatency - t0 } // completion of the probe started at at, from T0
	tests := []struct {
		name    string
		samples []measure.ProbeSample
		want    measure.Availability
	}{
		{
			// Today's bug: reported RTO 0 with failed: true.
			name:    "slow onset: an outage 12s after T0 lasting 18s gives RTO 30s",
			samples: probes(100*ms, 0, t0+45*s, outage(span(t0+12*s, t0+30*s))),
			want: measure.Availability{
				Restored: true, TSvc: 31100*ms + probeLatency, RTO: end(31100 * ms),
				Resolution: 100 * ms, Observed: end(46000 * ms),
				Outages:      []measure.Outage{{Start: 13100*ms - t0, End: end(31100 * ms)}},
				Failed:       true,
				TimeToImpact: 13100*ms - t0,
				LastFailure:  end(31000 * ms),
				Downtime:     18*s + probeLatency,
				Probes:       450, FailedProbes: 180, ErrorRate: 180.0 / 450,
			},
		},
		{
			name:    "two outages: RTO is the end of the last, downtime their sum",
			samples: probes(100*ms, 0, t0+40*s, outage(span(t0, t0+2*s), span(t0+15*s, t0+16*s))),
			want: measure.Availability{
				Restored: true, TSvc: 17100*ms + probeLatency, RTO: end(17100 * ms),
				Resolution: 100 * ms, Observed: end(41000 * ms),
				Outages: []measure.Outage{
					{Start: 1100*ms - t0, End: end(3100 * ms)},
					{Start: 16100*ms - t0, End: end(17100 * ms)},
				},
				Failed:       true,
				TimeToImpact: 1100*ms - t0,
				LastFailure:  end(17000 * ms),
				Downtime:     2*s + probeLatency + s + probeLatency,
				Probes:       400, FailedProbes: 30, ErrorRate: 30.0 / 400,
			},
		},
		{
			name:    "a second outage still open when observation ends: not restored",
			samples: probes(100*ms, 0, t0+20*s, outage(span(t0, t0+2*s), span(t0+15*s, time.Hour))),
			want: measure.Availability{
				Restored:   false,
				Resolution: 100 * ms, Observed: end(21000 * ms),
				Outages: []measure.Outage{
					{Start: 1100*ms - t0, End: end(3100 * ms)},
					{Start: 16100*ms - t0, Open: true},
				},
				Failed:       true,
				TimeToImpact: 1100*ms - t0,
				LastFailure:  end(21000 * ms),
				Downtime:     2*s + probeLatency + end(21000*ms) - (16100*ms - t0),
				Probes:       200, FailedProbes: 70, ErrorRate: 70.0 / 200,
			},
		},
		{
			name:    "nothing failed, but observation shorter than the window: not restored, no outage",
			samples: probes(100*ms, t0, t0+5*s, never),
			want: measure.Availability{
				Resolution: 100 * ms, Observed: 4900*ms + probeLatency,
				Probes: 50,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := measure.ServiceRestored(tt.samples, t0, 10*s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ServiceRestored (-want +got):\n%s", diff)
			}
		})
	}
}

// A probe that fails while the previous outage's closing success is still in
// flight (concurrent probes) extends that outage rather than starting one
// that overlaps it.
func TestServiceRestoredMergesOverlappingOutages(t *testing.T) {
	t.Parallel()
	samples := []measure.ProbeSample{
		{Start: 0, End: 100 * ms, OK: false},
		{Start: 200 * ms, End: 5 * s, OK: true}, // slow success: the run's first
		{Start: 1200 * ms, End: 1300 * ms, OK: true},
		{Start: 1300 * ms, End: 1400 * ms, OK: false}, // the run lasted 1s at 1.2s, then this
		{Start: 1400 * ms, End: 1500 * ms, OK: true},
		{Start: 2500 * ms, End: 2600 * ms, OK: true},
	}
	got := measure.ServiceRestored(samples, 0, s)
	want := []measure.Outage{{Start: 0, End: 1500 * ms}}
	if diff := cmp.Diff(want, got.Outages); diff != "" {
		t.Errorf("Outages (-want +got):\n%s", diff)
	}
}
