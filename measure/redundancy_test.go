package measure_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
)

// redundancy samples every second in [from, to), degraded when down(at).
func redundancy(from, to time.Duration, down func(time.Duration) bool) []measure.RedundancySample {
	var out []measure.RedundancySample
	for at := from; at < to; at += s {
		r := measure.RedundancySample{At: at, Full: !down(at), Detail: "3/3 members healthy"}
		if !r.Full {
			r.Detail = "2/3 members healthy"
		}
		out = append(out, r)
	}
	return out
}

func TestRedundancyRestored(t *testing.T) {
	t.Parallel()
	const t0 = 10 * s
	tests := []struct {
		name    string
		samples []measure.RedundancySample
		want    measure.Redundancy
	}{
		{
			name: "member rejoins 30s after the fault",
			// Degraded samples at 10s..39s; first full at 40s.
			samples: redundancy(0, 60*s, outage(span(t0, t0+30*s))),
			want: measure.Redundancy{
				Restored: true, TFull: 40 * s, TimeToFull: 30 * s, Resolution: s,
				Degraded: "2/3 members healthy", Observed: 49 * s,
			},
		},
		{
			name:    "a flap back to degraded moves T_full to after the flap",
			samples: redundancy(0, 60*s, outage(span(t0, t0+5*s), span(t0+20*s, t0+21*s))),
			want: measure.Redundancy{
				Restored: true, TFull: 31 * s, TimeToFull: 21 * s, Resolution: s,
				Degraded: "2/3 members healthy", Observed: 49 * s,
			},
		},
		{
			name:    "still degraded at the last sample is not restored",
			samples: redundancy(0, 60*s, outage(span(t0, time.Hour))),
			want:    measure.Redundancy{Degraded: "2/3 members healthy", Observed: 49 * s},
		},
		{
			name:    "never seen degraded after T0 is 0, like an RTO with no failed probe",
			samples: redundancy(0, 60*s, outage(span(2*s, 5*s))),
			want:    measure.Redundancy{Restored: true, TFull: t0, Observed: 49 * s},
		},
		{
			name:    "no sample after T0 is not restored",
			samples: redundancy(0, t0, never),
			want:    measure.Redundancy{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := measure.RedundancyRestored(tt.samples, t0)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RedundancyRestored (-want +got):\n%s", diff)
			}
		})
	}
}
