package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/measure"
)

// A backup's manifest records the writes acknowledged before its cut: not
// those only invoked, failed or acknowledged after it.
func TestAckedBeforeACut(t *testing.T) {
	tl := measure.NewTimeline(nil)
	for _, w := range []struct {
		id  string
		typ measure.OpType
	}{{"a", measure.OpInvoke}, {"a", measure.OpOK}, {"b", measure.OpInvoke}, {"b", measure.OpFail}, {"c", measure.OpInvoke}, {"c", measure.OpInfo}, {"d", measure.OpInvoke}} {
		tl.RecordWrite(w.id, w.typ)
	}
	time.Sleep(time.Millisecond)
	cut := tl.HostInstant(tl.Now())
	time.Sleep(time.Millisecond)
	tl.RecordWrite("d", measure.OpOK)
	if got := ackedBefore(tl, cut); !slices.Equal(got, []string{"a"}) {
		t.Errorf("acked before the cut: %v, want [a]", got)
	}
	if got := ackedBefore(tl, clock.Instant{Boot: "another-boot", Monotonic: time.Second}); got != nil {
		t.Errorf("an instant of another boot gave %v, want nil (it cannot be placed)", got)
	}
}
