package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// Words the human formats share, so the table and JUnit say the same thing.
const (
	notRestored = "not restored"
	notChecked  = "not checked"
	notRun      = "-"
)

// HumanDuration formats d for people: milliseconds below a second ("850ms"),
// tenths of a second below a minute ("12.3s"), then minutes and seconds
// ("4m05s") and hours ("1h02m05s"). Rounding never shows "60.0s": it moves
// to the next unit instead.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + HumanDuration(-d)
	}
	if d == 0 {
		return "0s"
	}
	if ms := d.Round(time.Millisecond); ms < time.Second {
		if ms == 0 {
			return "<1ms"
		}
		return fmt.Sprintf("%dms", ms/time.Millisecond)
	}
	if tenths := d.Round(100 * time.Millisecond); tenths < time.Minute {
		t := int64(tenths / (100 * time.Millisecond))
		return fmt.Sprintf("%d.%ds", t/10, t%10)
	}
	s := int64(d.Round(time.Second) / time.Second)
	if s < 3600 {
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}

// targetDuration formats a target, which people write round: "60s", "1.5s",
// "5m", "1h", "250ms".
func targetDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return HumanDuration(d)
	case d < 2*time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return HumanDuration(d)
}

func writes(n int) string {
	if n == 1 {
		return "1 write"
	}
	return fmt.Sprintf("%d writes", n)
}

// withResolution is "4.2s ±100ms", or just "4.2s" when the resolution is
// unknown.
func withResolution(d, res measure.Millis) string {
	if res <= 0 {
		return HumanDuration(d.Duration())
	}
	return HumanDuration(d.Duration()) + " ±" + HumanDuration(res.Duration())
}

// targetMetrics are the three goals a scenario can set, in report order.
var targetMetrics = []measure.Metric{measure.MetricRTO, measure.MetricRPOWrites, measure.MetricRPOTime}

// targetText is one goal as people read it: "RTO ≤ 60s", "RPO ≤ 0 writes",
// "RPO ≤ 5m"; ok is false when the scenario sets no such goal.
func targetText(t measure.Targets, m measure.Metric) (text string, ok bool) {
	switch {
	case m == measure.MetricRTO && t.RTO != nil:
		return "RTO ≤ " + targetDuration(*t.RTO), true
	case m == measure.MetricRPOWrites && t.RPOWrites != nil:
		return "RPO ≤ " + writes(*t.RPOWrites), true
	case m == measure.MetricRPOTime && t.RPOTime != nil:
		return "RPO ≤ " + targetDuration(*t.RPOTime), true
	}
	return "", false
}

// metricLabel names a metric for people, without a target.
func metricLabel(m measure.Metric) string {
	switch m {
	case measure.MetricRTO:
		return "RTO"
	case measure.MetricRPOWrites:
		return "RPO writes"
	case measure.MetricRPOTime:
		return "RPO time"
	}
	return string(m)
}

// targetsText joins a scenario's goals: "RTO ≤ 60s, RPO ≤ 0 writes".
func targetsText(t measure.Targets) string {
	var parts []string
	for _, m := range targetMetrics {
		if s, ok := targetText(t, m); ok {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// measuredText is what was measured for a metric, in human units.
func measuredText(r *measure.Result, m measure.Metric) string {
	switch m {
	case measure.MetricRTO:
		if r.RTO == nil {
			return notRestored
		}
		return withResolution(*r.RTO, r.RTOResolution)
	case measure.MetricRPOWrites:
		if r.RPOWrites == nil {
			return notChecked
		}
		return writes(*r.RPOWrites) + " lost"
	case measure.MetricRPOTime:
		if r.RPO == nil {
			return notChecked
		}
		return HumanDuration(r.RPO.Duration())
	}
	return ""
}

// shortBreach is a missed target in a few words: "RTO 1m32s > 60s".
func shortBreach(tr measure.TargetResult) string {
	name := metricLabel(tr.Metric)
	if tr.Metric == measure.MetricRPOWrites || tr.Metric == measure.MetricRPOTime {
		name = "RPO"
	}
	if tr.Measured == nil {
		if tr.Metric == measure.MetricRTO {
			return notRestored
		}
		return name + " " + notChecked
	}
	if tr.Unit == measure.UnitWrites {
		return fmt.Sprintf("%s %s > %d", name, writes(int(*tr.Measured)), int(tr.Target))
	}
	return fmt.Sprintf("%s %s > %s", name, HumanDuration(fromMillis(*tr.Measured)), targetDuration(fromMillis(tr.Target)))
}

// shortReasons says in a few words why a scenario did not pass, worst first.
func shortReasons(s *Scenario) []string {
	if s.Error != "" {
		return []string{s.Error}
	}
	r := &s.Result
	var out []string
	if r.LostBeforeBackupCount > 0 {
		out = append(out, fmt.Sprintf("%d acked %s missing from the backup", r.LostBeforeBackupCount, plural(r.LostBeforeBackupCount, "write", "writes")))
	}
	if r.UnexpectedCount > 0 {
		out = append(out, fmt.Sprintf("%d unexpected %s", r.UnexpectedCount, plural(r.UnexpectedCount, "write", "writes")))
	}
	for _, b := range r.Verdict.Breaches {
		if !measure.IsPromiseBreach(b) {
			continue
		}
		if !r.DataChecked {
			out = append(out, "promise "+notChecked)
			break
		}
		n := promiseCounted(r)
		out = append(out, fmt.Sprintf("%d lost > promise of %d", n, *r.LostWritesAllowed))
		break
	}
	rtoSaid := false
	for _, tr := range r.Verdict.Targets {
		// Two RPO goals unchecked say the same words; say them once.
		if b := shortBreach(tr); !tr.Met && !slices.Contains(out, b) {
			out = append(out, b)
			rtoSaid = rtoSaid || tr.Metric == measure.MetricRTO
		}
	}
	// Not restoring is a breach whatever the targets say.
	if !rtoSaid && (!r.ServiceRestored || r.RTO == nil) {
		out = append([]string{notRestored}, out...)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// promiseCounted is how many lost writes count against the data-safety
// promise: those a restore does not explain and that are not a bug already.
func promiseCounted(r *measure.Result) int {
	return r.LostCount - r.ExpectedLossCount - r.LostBeforeBackupCount
}

// bugCheckNotMade reports whether a restore's lost writes could not be
// split into expected loss and bug (a backup with no known cut).
func bugCheckNotMade(r *measure.Result) bool {
	return r.BugCheck != "" && r.BugCheck != measure.BugCheckMade
}

// lostText is the LOST WRITES cell: "0", "3", "12 expected + 1 BUG",
// "13 (cut unknown)", "not checked"; unexpected writes are added as a bug.
func lostText(r *measure.Result) string {
	if !r.DataChecked {
		return notChecked
	}
	var s string
	switch {
	case bugCheckNotMade(r):
		s = strconv.Itoa(r.LostCount) + " (cut unknown)"
	case r.RestoredBackup == "":
		s = strconv.Itoa(r.LostCount)
	default:
		var parts []string
		if r.ExpectedLossCount > 0 {
			parts = append(parts, fmt.Sprintf("%d expected", r.ExpectedLossCount))
		}
		if r.LostBeforeBackupCount > 0 {
			parts = append(parts, fmt.Sprintf("%d BUG", r.LostBeforeBackupCount))
		}
		s = strings.Join(parts, " + ")
		if s == "" {
			s = "0"
		}
	}
	if r.UnexpectedCount > 0 {
		s += fmt.Sprintf(" + %d unexpected BUG", r.UnexpectedCount)
	}
	return s
}

// redundancyText is the FULL REDUNDANCY cell.
func redundancyText(r *measure.Result) string {
	if r.TimeToFullRedundancy == nil {
		return notRestored
	}
	return withResolution(*r.TimeToFullRedundancy, r.FullRedundancyResolution)
}

// rpoText is the RPO cell.
func rpoText(r *measure.Result) string {
	if r.RPO == nil {
		return notChecked
	}
	return HumanDuration(r.RPO.Duration())
}

// rungText is an achievement's rung: "gold (level 2)", "none", "not covered".
func rungText(a measure.Achievement) string {
	switch {
	case !a.Covered:
		return "not covered"
	case a.Level == 0:
		return "none"
	}
	return fmt.Sprintf("%s (level %d)", a.Rung, a.Level)
}

// outagesText lists every outage as "from–to" offsets from the fault, an
// open one as "from– (still down when observation ended)"; "none" when no
// probe failed.
func outagesText(r *measure.Result) string {
	if len(r.Outages) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(r.Outages))
	for _, o := range r.Outages {
		if o.Open {
			parts = append(parts, HumanDuration(o.Start)+"– (still down when observation ended)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s–%s (%s)", HumanDuration(o.Start), HumanDuration(o.End), HumanDuration(o.End-o.Start)))
	}
	return strings.Join(parts, ", ")
}
