package measure

import (
	"fmt"
	"strings"
	"time"
)

// Targets are what one scenario must achieve. A nil field sets no target.
// A scenario meets a target when measured ≤ target.
type Targets struct {
	RTO       *time.Duration
	RPOWrites *int
	RPOTime   *time.Duration
}

// Metric names what a TargetResult measured.
type Metric string

const (
	MetricRTO       Metric = "rto"
	MetricRPOWrites Metric = "rpoWrites"
	MetricRPOTime   Metric = "rpoTime"
)

// Unit is the unit of a TargetResult's numbers.
type Unit string

const (
	UnitMillis Unit = "ms"
	UnitWrites Unit = "writes"
)

// TargetResult is one target checked against one measurement.
type TargetResult struct {
	Metric Metric `json:"metric"`
	Unit   Unit   `json:"unit"`
	// Measured is null when the measurement could not be made (service not
	// restored, no final read); the target is then not met.
	Measured *float64 `json:"measured"`
	Target   float64  `json:"target"`
	Met      bool     `json:"met"`
	Reason   string   `json:"reason"`
}

// Verdict is a scenario's outcome against its targets.
type Verdict struct {
	// Pass is true when there is no breach.
	Pass bool `json:"pass"`
	// Bug is set when the data shows a defect whatever the targets:
	// writes acknowledged before the restored backup's cut are missing,
	// or ids were read that were never written.
	Bug bool `json:"bug"`
	// Breaches lists every reason Pass is false, for people.
	Breaches []string       `json:"breaches"`
	Targets  []TargetResult `json:"targets"`
}

// NotRestored is the breach reason when no stable run of successful probes
// came before observation ended.
const NotRestored = "service not restored within observation"

// Judge checks a result's measurements against targets. Not restoring the
// service and a data bug are breaches whatever the targets say.
func Judge(r Result, t Targets) Verdict {
	v := Verdict{Breaches: []string{}, Targets: []TargetResult{}}
	breach := func(format string, args ...any) {
		v.Breaches = append(v.Breaches, fmt.Sprintf(format, args...))
	}
	if !r.ServiceRestored || r.RTO == nil {
		breach("%s (observed %s after the fault)", NotRestored, r.Observed)
	}
	// A member that never comes back (a wiped disk that cannot rejoin) is
	// not a recovery, whatever the RTO: the next failure would be fatal.
	if r.ServiceRestored && !r.RedundancyRestored {
		breach("%s (observed %s after the fault)", RedundancyNotRestored, r.Observed)
	}
	if r.LostBeforeBackupCount > 0 {
		v.Bug = true
		breach("bug: %d writes acknowledged before the backup's cut are missing after the restore", r.LostBeforeBackupCount)
	}
	if r.UnexpectedCount > 0 {
		v.Bug = true
		breach("bug: the final read found %d ids that were never written", r.UnexpectedCount)
	}
	if why := promiseBreach(r); why != "" {
		breach("%s", why)
	}

	if t.RTO != nil {
		tr := TargetResult{Metric: MetricRTO, Unit: UnitMillis, Target: millis(*t.RTO)}
		if r.RTO == nil {
			tr.Reason = fmt.Sprintf("%s (observed %s after the fault)", NotRestored, r.Observed)
			v.Targets = append(v.Targets, tr) // already a breach above; say it once
		} else {
			tr.Measured = new(millis(r.RTO.Duration()))
			tr.Met = r.RTO.Duration() <= *t.RTO
			tr.Reason = compare(r.RTO.Duration().String(), tr.Met, t.RTO.String()) +
				fmt.Sprintf(" (±%s)", r.RTOResolution)
			v.add(tr)
		}
	}
	if t.RPOWrites != nil {
		tr := TargetResult{Metric: MetricRPOWrites, Unit: UnitWrites, Target: float64(*t.RPOWrites)}
		if r.RPOWrites == nil {
			tr.Reason = notChecked
		} else {
			tr.Measured = new(float64(*r.RPOWrites))
			tr.Met = *r.RPOWrites <= *t.RPOWrites
			tr.Reason = compare(fmt.Sprintf("%d writes lost", *r.RPOWrites), tr.Met, fmt.Sprint(*t.RPOWrites))
		}
		v.add(tr)
	}
	if t.RPOTime != nil {
		tr := TargetResult{Metric: MetricRPOTime, Unit: UnitMillis, Target: millis(*t.RPOTime)}
		if r.RPO == nil {
			tr.Reason = notChecked
		} else {
			tr.Measured = new(millis(r.RPO.Duration()))
			tr.Met = r.RPO.Duration() <= *t.RPOTime
			tr.Reason = compare(r.RPO.Duration().String(), tr.Met, t.RPOTime.String())
		}
		v.add(tr)
	}
	v.Pass = len(v.Breaches) == 0
	return v
}

// BrokenPromise starts the breach reason of a result that lost more
// acknowledged writes than the app's data-safety promise allows.
const BrokenPromise = "data-safety promise broken"

// UncheckedPromise starts the breach reason of a result whose promise could
// not be checked (no final read): a lost write must never pass silently.
const UncheckedPromise = "data-safety promise not checked"

// IsPromiseBreach tells whether a breach reason is about the data-safety
// promise: broken, or not checked.
func IsPromiseBreach(reason string) bool {
	return strings.HasPrefix(reason, BrokenPromise) || strings.HasPrefix(reason, UncheckedPromise)
}

// maxNamedWrites is how many lost writes a promise breach names before
// "and N more".
const maxNamedWrites = 10

// promiseBreach is the reason r breaks its data-safety promise, or "". The
// writes counted are those lost that neither a restore explains (expected
// loss) nor are already reported as a bug (lost before the backup's cut).
// A promise that could not be checked (no final read) is a breach too: a
// lost write must never pass silently.
func promiseBreach(r Result) string {
	if r.LostWritesAllowed == nil {
		return ""
	}
	allowed := *r.LostWritesAllowed
	promise := fmt.Sprintf("the app promises at most %d lost acknowledged %s", allowed, pluralWrites(allowed))
	if r.PromiseWhy != "" {
		promise += " (" + r.PromiseWhy + ")"
	}
	if !r.DataChecked {
		return fmt.Sprintf("%s: no final read was recorded; %s", UncheckedPromise, promise)
	}
	counted := r.LostCount - r.ExpectedLossCount - r.LostBeforeBackupCount
	if counted <= allowed {
		return ""
	}
	explained := make(map[string]bool, len(r.ExpectedLoss)+len(r.LostBeforeBackup))
	for _, id := range r.ExpectedLoss {
		explained[id] = true
	}
	for _, id := range r.LostBeforeBackup {
		explained[id] = true
	}
	var named []string
	for _, w := range r.LostWrites {
		if explained[w.ID] {
			continue
		}
		if len(named) == maxNamedWrites {
			break
		}
		named = append(named, fmt.Sprintf("%s acked at T0%s", w.ID, signed(w.Acked.Duration())))
	}
	why := fmt.Sprintf("%s: %d acknowledged %s lost, %s", BrokenPromise, counted, pluralWrites(counted), promise)
	if r.BugCheck != "" && r.BugCheck != BugCheckMade {
		why += "; none is attributed to the restore, whose backup cut is unknown"
	}
	if len(named) > 0 {
		why += ": " + strings.Join(named, ", ")
		if more := counted - len(named); more > 0 {
			why += fmt.Sprintf(" and %d more", more)
		}
	}
	return why
}

// signed is d rounded to the millisecond with its sign always shown:
// "+1.25s", "-300ms".
func signed(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
}

func pluralWrites(n int) string {
	if n == 1 {
		return "write"
	}
	return "writes"
}

// RedundancyNotRestored is the breach of a run that got service back but
// never full redundancy.
const RedundancyNotRestored = "full redundancy not restored within observation"

const notChecked = "data not checked: no final read was recorded"

func (v *Verdict) add(tr TargetResult) {
	v.Targets = append(v.Targets, tr)
	if !tr.Met {
		v.Breaches = append(v.Breaches, fmt.Sprintf("%s: %s", tr.Metric, tr.Reason))
	}
}

func compare(measured string, met bool, target string) string {
	if met {
		return fmt.Sprintf("%s ≤ target %s", measured, target)
	}
	return fmt.Sprintf("%s > target %s", measured, target)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ptr[T any](v T) *T { return &v }
