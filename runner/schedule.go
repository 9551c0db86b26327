package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/scenarios"
	"github.com/reboundhq/rebound/target"
)

// BackupScheduler is a BackupEngine that runs a backup schedule itself
// (target.BackupScheduler).
type BackupScheduler = target.BackupScheduler

// startSchedule starts the scenario's backup schedule and waits for its
// first backup: the fault is not injected before there is one to
// restore.
func (sr *scenarioRun) startSchedule(ctx context.Context) error {
	b := sr.s.Backup
	sch, ok := sr.r.opts.Backup.(BackupScheduler)
	if !ok {
		return fmt.Errorf("spec.backup.every: this rebound has no backup engine that runs schedules, so no backup would be there to restore; nothing was injected")
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	first := make(chan error, 1)
	// The schedule's goroutine only records on the timeline (safe from any
	// goroutine) and counts; notes are written when it has stopped.
	var mu sync.Mutex
	taken, failed := 0, 0
	var lastErr error
	go func() {
		defer close(done)
		sch.Schedule(sctx, &sr.target.Target, b.Schedule, b.Every, func(cut BackupCut, err error) {
			mu.Lock()
			n := taken + failed + 1
			if err != nil {
				failed++
				lastErr = err
			} else {
				taken++
			}
			mu.Unlock()
			if err != nil {
				sr.record(measure.Mark, fmt.Sprintf("schedule %s: backup %d failed: %v", b.Schedule, n, err))
			} else {
				sr.record(measure.Mark, fmt.Sprintf("schedule %s took backup %s", b.Schedule, shortID(cut.ID)))
			}
			if n == 1 {
				first <- err
			}
		})
	}()
	stopped := false
	sr.stopSchedule = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if failed > 0 {
			sr.note("backup schedule %q: %d backups taken, %d failed (the last: %v)", b.Schedule, taken, failed, lastErr)
		}
	}
	sr.note("backup schedule %q runs every %s until the fault", b.Schedule, b.Every)
	wait := sr.s.PhaseTimeouts.Inject + 5*time.Minute
	select {
	case err := <-first:
		if err != nil {
			sr.stopSchedule()
			return fmt.Errorf("backup schedule %q: its first backup failed, so there is nothing to restore; nothing was injected: %w", b.Schedule, err)
		}
		return nil
	case <-time.After(wait):
		sr.stopSchedule()
		return fmt.Errorf("backup schedule %q took no backup within %s; nothing was injected", b.Schedule, wait)
	case <-ctx.Done():
		sr.stopSchedule()
		return sr.phaseErr(ctx, "backup schedule", 0, "")
	}
}

// checkScheduleTookOne refuses to inject the fault of a restore scenario
// whose schedule has no backup from before now.
func (sr *scenarioRun) checkScheduleTookOne(ctx context.Context) error {
	s, r := sr.s, sr.r
	if s.Recovery.Path != scenarios.RecoveryRestore || s.Backup.Schedule == "" || s.Backup.Before || r.opts.Backup == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, s.PhaseTimeouts.Inject)
	defer cancel()
	_, err := r.opts.Backup.Latest(lctx, &sr.target.Target, s.Backup.Schedule, sr.tl.HostInstant(sr.tl.Now()))
	if err != nil {
		if ctx.Err() != nil {
			return sr.phaseErr(ctx, "inject", 0, "")
		}
		fix := "start `rebound backup schedule --tag-policy " + s.Backup.Schedule + "` before the game day, or set spec.backup.every for rebound to run it"
		if s.Backup.Every > 0 {
			fix = "see the schedule's notes above"
		}
		return fmt.Errorf("backup schedule %q took no backup before the fault, so a restore would have nothing to bring back; nothing was injected (%s): %w", s.Backup.Schedule, fix, err)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
