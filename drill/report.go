package drill

import (
	"fmt"
	"time"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

// Report names of a drill scenario.
const (
	// Disruption is what a drill stands for in a report's disruption
	// column: no fault, a restore rehearsed.
	Disruption = "restore-drill"
	// FaultNone is a drill's fault: there is none.
	FaultNone = "none"
	// RecoveryRestore is a drill's recovery path.
	RecoveryRestore = "restore"
)

// outcome is what a drill found, for judge.
type outcome struct {
	Backup string
	// Checks are the drill's checks, in order.
	Checks []reports.DrillCheck
	// Serving is when the copy's health was verified, from T0; nil when
	// it was not.
	Serving *time.Duration
	// Done is when the last check ended, from T0.
	Done time.Duration
	// Probes are the ids the backup recorded; Missing those not read back.
	Probes  *backup.ProbeRecord
	Missing []string
	// RTO is the target for the time to a verified copy; nil for none.
	RTO *time.Duration
}

// bugChecks are the checks whose failure is a defect of the data, whatever
// the targets.
var bugChecks = map[string]bool{CheckIntegrity: true, CheckProbeIDs: true, CheckChecksum: true}

// judge computes a drill's result and verdict. A copy is verified when
// no check failed and its health was verified; the time to a verified,
// serving copy is then Result.RTO (from T0, the restore's start) and is
// judged against the RTO target. Each failed check is a breach; a failed
// integrity, probe-ids or checksum check is a bug.
func judge(o outcome) measure.Result {
	r := measure.Result{
		Observed: measure.Millis(o.Done), RestoredBackup: o.Backup,
		Outages: []measure.Outage{}, Lost: []string{}, Unexpected: []string{}, Recovered: []string{},
		LostWrites: []measure.LostWrite{}, ExpectedLoss: []string{}, LostBeforeBackup: []string{},
	}
	v := measure.Verdict{Breaches: []string{}, Targets: []measure.TargetResult{}}
	failedAny := false
	for _, c := range o.Checks {
		switch {
		case c.Status == reports.DrillFailed:
			failedAny = true
			v.Breaches = append(v.Breaches, fmt.Sprintf("drill %s check failed: %s", c.Name, c.Detail))
			v.Bug = v.Bug || bugChecks[c.Name]
		case c.Name == CheckProbeIDs && c.Status == reports.DrillNotMade:
			r.BugCheck = "not made: " + c.Detail
		}
		if c.Name == CheckProbeIDs && c.Status != reports.DrillNotMade {
			r.DataChecked = true
			r.BugCheck = measure.BugCheckMade
		}
	}
	if o.Serving != nil {
		r.ServiceRestored, r.RedundancyRestored = true, true
		r.TimeToFullRedundancy = millisPtr(*o.Serving)
	}
	if o.Serving != nil && !failedAny {
		r.RTO = millisPtr(o.Done)
	}
	if o.Serving == nil && !failedAny {
		// Nothing failed, but nothing showed the copy serves either: not a
		// verified copy.
		why := "no check ran"
		for _, c := range o.Checks {
			if c.Name == CheckHealth {
				why = c.Detail
			}
		}
		v.Breaches = append(v.Breaches, "the copy was not verified to serve: the health check was not made: "+why)
	}
	if o.Probes != nil && r.DataChecked {
		r.WritesInvoked, r.WritesAcked = len(o.Probes.Acked), len(o.Probes.Acked)
		r.IDsRead = len(o.Probes.Acked) - len(o.Missing)
		r.Lost, r.LostCount = append([]string{}, o.Missing...), len(o.Missing)
		r.LostBeforeBackup, r.LostBeforeBackupCount = append([]string{}, o.Missing...), len(o.Missing)
		r.DataSafe = len(o.Missing) == 0
	}
	if t := o.RTO; t != nil {
		tr := measure.TargetResult{Metric: measure.MetricRTO, Unit: measure.UnitMillis, Target: ms(*t)}
		if r.RTO == nil {
			tr.Reason = "no verified, serving copy"
		} else {
			tr.Measured = new(ms(r.RTO.Duration()))
			tr.Met = r.RTO.Duration() <= *t
			rel := ">"
			if tr.Met {
				rel = "≤"
			}
			tr.Reason = fmt.Sprintf("time to a verified copy %s %s target %s", r.RTO.Duration().Round(time.Millisecond), rel, *t)
		}
		v.Targets = append(v.Targets, tr)
		if !tr.Met {
			v.Breaches = append(v.Breaches, fmt.Sprintf("%s: %s", tr.Metric, tr.Reason))
		}
	}
	v.Pass = len(v.Breaches) == 0
	r.Verdict = v
	return r
}

func millisPtr(d time.Duration) *measure.Millis { m := measure.Millis(d); return &m }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// checkNotes are the checks as lines for people: the table, Markdown and
// HTML show a scenario's notes.
func checkNotes(checks []reports.DrillCheck) []string {
	out := make([]string, 0, len(checks))
	for _, c := range checks {
		word := map[reports.DrillStatus]string{reports.DrillVerified: "verified", reports.DrillFailed: "FAILED", reports.DrillNotMade: "not checked"}[c.Status]
		out = append(out, fmt.Sprintf("%s %s: %s", c.Name, word, c.Detail))
	}
	return out
}

// scenario is the drill's report.
func (r *drillRun) scenario(start time.Time) *reports.Scenario {
	rec := r.tl.Snapshot()
	var probes *backup.ProbeRecord
	target := r.d.Backup
	if r.m != nil {
		probes = r.m.Probes
		target = fmt.Sprintf("%s/%s (%s) → %s", r.m.Namespace, r.m.Selector, r.m.Driver, r.ns)
	}
	res := judge(outcome{Backup: r.d.Backup, Checks: r.d.Checks, Serving: r.serve, Done: r.done - r.t0,
		Probes: probes, Missing: r.miss, RTO: r.o.RTO})
	if res.RTO != nil {
		r.d.TimeToVerified = new(*res.RTO)
	}
	d := r.d
	name := "drill"
	if len(d.Backup) >= 8 {
		name += "-" + d.Backup[:8]
	}
	return &reports.Scenario{
		Name: name, Disruption: Disruption, Fault: FaultNone, Recovery: RecoveryRestore, Target: target,
		StartedAt: rec.Started, Duration: measure.Millis(time.Since(start)),
		Notes:  append(checkNotes(d.Checks), r.notes...),
		Result: res, Targets: measure.Targets{RTO: r.o.RTO}, Events: rec.Events, Drill: &d,
	}
}
