package backup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/target"
)

// ForRunner adapts the engine to the runner's BackupEngine
// (target.BackupEngine): a scenario's backup before its fault, and its
// restore, whose duration the runner counts into RTO.
func (e *Engine) ForRunner() target.BackupEngine { return runnerEngine{e} }

type runnerEngine struct{ e *Engine }

var _ target.BackupEngine = runnerEngine{}

// Backup takes a backup of the target app, app-native where its driver
// has a way, tagged "runner", and says where its consistent cut is: on this
// host's monotonic clock, read in this process at the cut.
func (r runnerEngine) Backup(ctx context.Context, t *target.Target) (target.BackupCut, error) {
	res, err := r.e.Backup(ctx, requestOf(t, "before-fault"))
	if err != nil {
		return target.BackupCut{}, err
	}
	return cutOf(res), nil
}

func requestOf(t *target.Target, name string) Request {
	return Request{
		Name: name, Namespace: t.Namespace, Selector: t.Selector,
		DriverName: t.DriverName, Driver: t.Driver, Tags: []string{"runner"},
		AppOptions: t.BackupOptions, Probes: probesOf(t),
	}
}

func cutOf(res *Result) target.BackupCut {
	m := res.Manifest
	return target.BackupCut{ID: res.ID, At: m.CutAt, Wall: m.Cut, Unknown: m.CutUnknown}
}

var _ target.BackupScheduler = runnerEngine{}

// scheduleKeep is how many backups of a schedule the runner runs are kept:
// enough for the newest before the fault, without piling up a game day's
// worth in the repository.
const scheduleKeep = 3

// Schedule runs the schedule of a scenario's spec.backup.every: a backup
// of the target at once, then one every interval, tagged tag, keeping the
// newest few of the tag, until ctx ends.
func (r runnerEngine) Schedule(ctx context.Context, t *target.Target, tag string, every time.Duration, taken func(target.BackupCut, error)) {
	p := Policy{Schedule: every.String(), Tag: tag, Immediate: true, Retention: Retention{KeepLast: scheduleKeep}}
	_ = r.e.RunSchedule(ctx, requestOf(t, "schedule-"+tag), p, func(ev ScheduleEvent) {
		if ev.Result != nil {
			// Taken; a retention that failed after it leaves an extra
			// backup, not a missing one.
			taken(cutOf(ev.Result), nil)
			return
		}
		taken(target.BackupCut{}, ev.Err)
	})
}

// probesOf records, in the backup, the scenario's write-probe ids
// acknowledged before the cut, so that a drill of the backup can check
// each is there; nil before the probes run.
func probesOf(t *target.Target) func(clock.Instant) *ProbeRecord {
	if t.AckedBefore == nil {
		return nil
	}
	return func(cut clock.Instant) *ProbeRecord {
		ids := t.AckedBefore(cut)
		if ids == nil {
			return nil
		}
		return &ProbeRecord{Driver: t.DriverName, Prefix: t.Prefix, Acked: ids}
	}
}

// Restore rolls the target app back to backup id in its own namespace and
// returns once it is Ready and its driver reports full health (the
// runner keeps the driver pointed at the new pods meanwhile).
func (r runnerEngine) Restore(ctx context.Context, t *target.Target, id string) error {
	timeout := 10 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	_, err := r.e.Restore(ctx, RestoreRequest{Backup: id, Namespace: t.Namespace, Driver: t.Driver, Timeout: timeout})
	return err
}

// Latest finds the newest backup of the target's namespace tagged tag
// whose consistent cut came before the given instant, comparing instants
// of this host's monotonic clock only. A backup whose cut is unknown (a
// crash-level copy) qualifies when it finished before the instant, with
// Unknown saying why it has no cut. A backup that cannot be placed (taken
// on another host or boot, or by a rebound that did not record the
// instant) is never guessed from wall clocks: when one is newer, by its
// wall time, than every backup that can be placed, Latest refuses, since
// it may be the newest before the fault.
func (r runnerEngine) Latest(ctx context.Context, t *target.Target, tag string, before clock.Instant) (target.BackupCut, error) {
	infos, err := r.e.List(ctx)
	if err != nil {
		return target.BackupCut{}, err
	}
	var best, unplaced *Info
	var bestAt clock.Instant
	var why string
	for i, in := range infos {
		if in.Namespace != t.Namespace || !slices.Contains(in.Tags, tag) {
			continue
		}
		at := in.CutAt
		if in.CutUnknown != "" {
			at = in.FinishedAt // all its data was read by then
		}
		d, err := at.Sub(before)
		if err != nil {
			if unplaced == nil || in.Time.After(unplaced.Time) {
				unplaced, why = &infos[i], placeWhy(at, before)
			}
			continue
		}
		if d >= 0 {
			continue // at or after the instant
		}
		if best == nil {
			best, bestAt = &infos[i], at
		} else if later, _ := at.Sub(bestAt); later > 0 {
			best, bestAt = &infos[i], at
		}
	}
	if unplaced != nil && (best == nil || unplaced.Time.After(best.Time)) {
		return target.BackupCut{}, fmt.Errorf("backup %s tagged %q of namespace %s (%s) %s: its cut cannot be placed on this run's clock; run the schedule on the machine that runs the game day, or use spec.backup.before",
			unplaced.Short(), tag, t.Namespace, unplaced.Cut.Format(time.RFC3339), why)
	}
	if best == nil {
		return target.BackupCut{}, fmt.Errorf("%w: no backup tagged %q of namespace %s was taken before the fault", ErrNotFound, tag, t.Namespace)
	}
	return target.BackupCut{ID: best.ID, At: best.CutAt, Wall: best.Cut, Unknown: best.CutUnknown}, nil
}

// placeWhy says why an instant cannot be compared with the run's.
func placeWhy(at, run clock.Instant) string {
	switch {
	case run.IsZero():
		return "was taken, but this run's clock cannot read the host's monotonic clock"
	case at.IsZero():
		return "records no instant on a host's monotonic clock (taken by an older rebound)"
	}
	return "was taken on another host, or before this host last booted"
}
