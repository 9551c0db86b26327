package reports_test

import (
	"testing"
	"time"

	"github.com/reboundhq/rebound/reports"
)

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{400 * time.Microsecond, "<1ms"},
		{850 * ms, "850ms"},
		{999*ms + 600*time.Microsecond, "1.0s"}, // rounds up into seconds, not "1000ms"
		{12340 * ms, "12.3s"},
		{59960 * ms, "1m00s"}, // never "60.0s"
		{4*time.Minute + 5*s, "4m05s"},
		{59*time.Minute + 59600*ms, "1h00m00s"},
		{time.Hour + 2*time.Minute + 5*s, "1h02m05s"},
		{-1500 * ms, "-1.5s"},
	}
	for _, tt := range tests {
		if got := reports.HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
