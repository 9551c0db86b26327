package gate

import (
	"fmt"
	"strings"
	"time"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

// Expectation is one thing a scenario's result must show. Check is a pure
// function of a finished run, so an expectation can also judge a
// report.json read back from disk.
type Expectation struct {
	name  string
	check func(run *reports.Run, s *reports.Scenario) error
}

// String names the expectation ("RTO below 30s").
func (e Expectation) String() string { return e.name }

// Check returns nil when scenario s of run meets the expectation, or an
// error saying what was measured instead.
func (e Expectation) Check(run *reports.Run, s *reports.Scenario) error {
	return e.check(run, s)
}

// RTOBelow expects the service back within d of the fault: RTO measured
// (the service restored within observation) and shorter than d.
func RTOBelow(d time.Duration) Expectation {
	return Expectation{
		name: fmt.Sprintf("RTO below %s", d),
		check: func(_ *reports.Run, s *reports.Scenario) error {
			r := &s.Result
			if !r.ServiceRestored || r.RTO == nil {
				return fmt.Errorf("the service was not restored within observation (observed %s after the fault), want RTO below %s", ms(r.Observed), d)
			}
			if r.RTO.Duration() >= d {
				return fmt.Errorf("RTO %s ±%s, want below %s", ms(*r.RTO), ms(r.RTOResolution), d)
			}
			return nil
		},
	}
}

// DowntimeBelow expects the outages after the fault to add up to less
// than d.
func DowntimeBelow(d time.Duration) Expectation {
	return Expectation{
		name: fmt.Sprintf("downtime below %s", d),
		check: func(_ *reports.Run, s *reports.Scenario) error {
			r := &s.Result
			if r.Downtime.Duration() >= d {
				return fmt.Errorf("downtime %s in %d %s, want below %s", ms(r.Downtime), len(r.Outages), plural(len(r.Outages), "outage", "outages"), d)
			}
			return nil
		},
	}
}

// NoLostWrites expects every acknowledged write to be read back after
// recovery: the final read was made and nothing acknowledged is missing
// (a restore's expected loss, writes acknowledged after the backup's cut,
// counts too).
func NoLostWrites() Expectation {
	return Expectation{
		name: "no lost writes",
		check: func(_ *reports.Run, s *reports.Scenario) error {
			r := &s.Result
			if !r.DataChecked {
				return fmt.Errorf("the data was not checked (no final read of every record), so lost writes are unknown")
			}
			if r.LostCount > 0 {
				return fmt.Errorf("%d of %d acknowledged writes lost (%s), want none", r.LostCount, r.WritesAcked, firstIDs(r.Lost, 5))
			}
			return nil
		},
	}
}

// Passes expects rebound's own verdict to be PASS: every target of the
// rung the scenario is judged against met (the ladder's strictest unless
// Spec.Rung names one), no write lost beyond the app's promise, no bug.
func Passes() Expectation {
	return Expectation{
		name: "rebound's verdict PASS",
		check: func(_ *reports.Run, s *reports.Scenario) error {
			if st := s.Status(); st != reports.StatusPass {
				return fmt.Errorf("verdict %s", st)
			}
			return nil
		},
	}
}

// summary is what rebound found for s, in one line: its verdict and its
// reasons, then the numbers an expectation is judged on.
func summary(s *reports.Scenario) string {
	if s.Error != "" {
		return fmt.Sprintf("ERROR: %s", s.Error)
	}
	r := &s.Result
	var b strings.Builder
	b.WriteString(string(s.Status()))
	if len(r.Verdict.Breaches) > 0 {
		b.WriteString(" (" + strings.Join(r.Verdict.Breaches, "; ") + ")")
	}
	if r.RTO != nil {
		fmt.Fprintf(&b, "; RTO %s ±%s", ms(*r.RTO), ms(r.RTOResolution))
	} else {
		b.WriteString("; service not restored")
	}
	fmt.Fprintf(&b, ", downtime %s", ms(r.Downtime))
	if r.DataChecked {
		fmt.Fprintf(&b, ", %d of %d acknowledged writes lost", r.LostCount, r.WritesAcked)
	} else {
		b.WriteString(", data not checked")
	}
	for _, n := range s.Notes {
		b.WriteString("; note: " + n)
	}
	return b.String()
}

// ms is a measured duration to the millisecond, as people read it.
func ms(m measure.Millis) time.Duration { return m.Duration().Round(time.Millisecond) }

func firstIDs(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
