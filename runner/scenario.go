package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/probes"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
)

// cleanupTimeout bounds rolling faults back; it runs on a fresh context so
// it still runs after a timeout or Ctrl-C.
const cleanupTimeout = 2 * time.Minute

// liveObserver feeds probe results to the live metrics.
type liveObserver struct {
	live     *reports.Live
	scenario string
}

func (o liveObserver) Probe(kind string, ok bool) {
	o.live.Probe(o.scenario, reports.ProbeKind(kind), ok)
}
func (o liveObserver) Write(op measure.OpType) { o.live.Write(o.scenario, op) }

// scenarioRun is the state of one scenario as it runs.
type scenarioRun struct {
	r        *Runner
	s        *scenarios.Scenario
	runID    string
	log      *slog.Logger
	target   *Target
	env      *faults.Env
	tl       *measure.Timeline
	rep      reports.Scenario
	backupID string
	applied  *journal.Entry // the journaled fault, while it is not recovered
	aborted  error
	// recoveryErr is why the recovery path could not bring the app back
	// (no backup to restore, a failed restore): a breach whatever the
	// numbers say.
	recoveryErr error
}

func (sr *scenarioRun) note(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	sr.rep.Notes = append(sr.rep.Notes, msg)
	fmt.Fprintf(sr.r.opts.Out, "  %s: %s\n", sr.s.Name, msg)
}

func (sr *scenarioRun) phase(name string) {
	fmt.Fprintf(sr.r.opts.Out, "  %s: %s\n", sr.s.Name, name)
	if sr.r.opts.Live != nil {
		sr.r.opts.Live.Phase(sr.s.Name, name)
	}
}

// runScenario runs one scenario through every phase. It returns ErrAborted
// (wrapped) when the run must stop; any other failure is recorded on the
// scenario's report, which is always returned.
func (r *Runner) runScenario(ctx context.Context, s *scenarios.Scenario, runID string) (reports.Scenario, error) {
	start := time.Now()
	sr := &scenarioRun{r: r, s: s, runID: runID, log: r.opts.Log.With("scenario", s.Name)}
	sr.rep = reports.Scenario{
		Name: s.Name, Disruption: string(s.Disruption), Fault: string(s.Fault.Kind), Recovery: string(s.Recovery.Path),
		Target:    fmt.Sprintf("%s/%s (%s)", s.Target.Namespace, s.Target.LabelSelector.String(), s.Target.Driver),
		StartedAt: start, Targets: r.targets[s.Disruption],
	}
	fmt.Fprintf(r.opts.Out, "scenario %s: %s\n", s.Name, s.Description)
	err := sr.run(ctx)
	// Whatever happened, nothing stays applied.
	if cerr := sr.rollback(); cerr != nil {
		sr.rep.Error = joinMsg(sr.rep.Error, "rollback: "+cerr.Error())
		err = errors.Join(err, cerr)
	}
	if sr.target != nil {
		sr.target.Close()
	}
	sr.rep.Duration = measure.Millis(time.Since(start))
	if err != nil && sr.rep.Error == "" && !errors.Is(err, ErrAborted) {
		sr.rep.Error = err.Error()
	}
	if sr.tl != nil {
		sr.measure()
	}
	if errors.Is(err, ErrAborted) || sr.aborted != nil {
		return sr.rep, fmt.Errorf("%w: %w", ErrAborted, errors.Join(err, sr.aborted))
	}
	return sr.rep, nil
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (sr *scenarioRun) run(ctx context.Context) error {
	r, s := sr.r, sr.s
	pt := s.PhaseTimeouts

	// Steady state: the app must be healthy before anything is done to it.
	sr.phase("steady state")
	t, err := r.resolveTarget(ctx, s, sr.runID)
	if err != nil {
		return fmt.Errorf("steady state: %w", err)
	}
	sr.target = t
	if err := sr.waitHealthy(ctx, pt.SteadyState); err != nil {
		return fmt.Errorf("steady state: the app is not healthy, so no fault was injected: %w", err)
	}
	sr.env = &faults.Env{
		Kube: r.kube, Dynamic: r.dynamic, Lab: r.labIfTarget(), Driver: t.Driver, Namespace: t.Namespace, Selector: t.Selector,
		RunID: sr.runID, Scenario: s.Name, Log: sr.log, CloudSecret: r.opts.CloudSecret, Marks: r.opts.Marks, Out: r.opts.Out,
	}
	inj, err := faults.For(s.Fault)
	if err != nil {
		return err
	}

	// Probes on, on one timeline.
	sr.phase("probes on")
	sr.tl = measure.NewTimeline(nil)
	pctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go t.followEndpoints(pctx)
	var obs probes.Observer
	if r.opts.Live != nil {
		obs = liveObserver{r.opts.Live, s.Name}
	}
	set := probes.Start(pctx, t.Driver, sr.tl, probes.Config{
		Interval: s.Probes.Availability.Interval, Timeout: s.Probes.Availability.Timeout,
		Writers: s.Probes.Writes.Writers, Rate: s.Probes.Writes.Rate, Redundancy: t.replicasReady,
	}, obs)
	stopped := false
	stopProbes := func() {
		if !stopped {
			set.Stop()
			stopped = true
		}
	}
	defer stopProbes()
	if err := sleep(ctx, 2*time.Second); err != nil { // a baseline before the fault
		return err
	}

	// Backup, when the scenario asks for one.
	if s.Backup.Before {
		sr.phase("backup")
		if r.opts.Backup == nil {
			sr.note("no backup taken: this rebound has no backup engine configured, so a restore cannot bring data back")
		} else {
			bctx, cancel := context.WithTimeout(ctx, pt.Inject+5*time.Minute)
			id, cut, err := r.opts.Backup.Backup(bctx, t)
			cancel()
			if err != nil {
				return fmt.Errorf("backup before the fault: %w", err)
			}
			sr.backupID = id
			sr.tl.RecordBackup(id, sr.tl.Now()-time.Since(cut))
			sr.note("backup %s taken", id)
		}
	}

	// Inject: plan, journal, act.
	sr.phase("inject")
	ictx, cancel := context.WithTimeout(ctx, pt.Inject)
	plan, err := inj.Plan(ictx, sr.env)
	cancel()
	if err != nil {
		return fmt.Errorf("plan %s: %w", s.Fault.Kind, err)
	}
	if err := sr.inject(ctx, plan, pt.Inject); err != nil {
		return err
	}

	// Observe, then undo the fault after its duration.
	sr.phase("observe")
	if plan.Duration > 0 {
		if err := sr.watch(ctx, plan.Duration, false); err != nil {
			return err
		}
		if err := sr.recoverFault(ctx); err != nil {
			return err
		}
	}

	// Recover by the scenario's path.
	sr.phase("recover (" + string(s.Recovery.Path) + ")")
	switch s.Recovery.Path {
	case scenarios.RecoveryRestore:
		if err := sr.restore(ctx); err != nil {
			sr.recoveryErr = fmt.Errorf("restore failed: %w", err)
			sr.note("%v", sr.recoveryErr)
		}
	case scenarios.RecoveryManual:
		fmt.Fprintf(r.opts.Out, "\n>>> %s: recover the app now, then run `rebound mark recovered` (or send SIGUSR2).\n\n", s.Name)
	}
	if err := sr.watch(ctx, s.Recovery.Timeout, true); err != nil {
		return err
	}
	if err := sr.recoverFault(ctx); err != nil { // a fault left for recovery to outlast
		return err
	}

	// Verify: probes off, read every record back.
	sr.phase("verify")
	stopProbes()
	vctx, cancel := context.WithTimeout(ctx, pt.Verify)
	defer cancel()
	for {
		err := probes.FinalRead(vctx, t.Driver, sr.tl)
		if err == nil {
			break
		}
		if vctx.Err() != nil {
			sr.note("final read failed, data not checked: %v", err)
			break
		}
		if err := sleep(vctx, time.Second); err != nil {
			break
		}
	}
	return nil
}

// inject journals the plan, then applies it; T0 is when Apply confirms.
func (sr *scenarioRun) inject(ctx context.Context, plan *faults.Plan, timeout time.Duration) error {
	r := sr.r
	e := journal.Entry{
		ID: sr.runID + "/" + sr.s.Name, Run: sr.runID, Scenario: sr.s.Name, Fault: string(plan.Fault),
		Description: plan.Description, State: journal.StatePending, Undo: plan.Undo, Cluster: r.cluster(sr.s.Target.Namespace),
	}
	if err := r.journal.Write(e); err != nil {
		return fmt.Errorf("journal before the fault (nothing was applied): %w", err)
	}
	sr.applied = &e
	fmt.Fprintf(r.opts.Out, "  %s: fault: %s\n", sr.s.Name, plan.Description)
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := faults.Apply(ictx, plan); err != nil {
		return fmt.Errorf("inject %s: %w", plan.Fault, err)
	}
	sr.tl.Record(measure.FaultApplied, plan.Description)
	if r.opts.Live != nil {
		r.opts.Live.Fault(sr.s.Name, string(plan.Fault), true)
	}
	if plan.OneShot() {
		// Nothing to undo: the journal need not carry it any further.
		e.State = journal.StateRecovered
		if err := r.journal.Write(e); err != nil {
			return err
		}
		sr.applied = nil
		return nil
	}
	e.State = journal.StateApplied
	return r.journal.Write(e)
}

// recoverFault runs the applied fault's undo and journals it.
func (sr *scenarioRun) recoverFault(ctx context.Context) error {
	if sr.applied == nil {
		return nil
	}
	e := *sr.applied
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := faults.Recover(rctx, sr.env, e.Undo)
	if err != nil {
		e.State, e.Error = journal.StateFailed, err.Error()
		_ = sr.r.journal.Write(e)
		return fmt.Errorf("undo %s: %w (run `rebound cleanup`)", e.Fault, err)
	}
	e.State = journal.StateRecovered
	if err := sr.r.journal.Write(e); err != nil {
		return err
	}
	sr.applied = nil
	if sr.tl != nil {
		sr.tl.Record(measure.FaultRecovered, "undone: "+e.Description)
	}
	if sr.r.opts.Live != nil {
		sr.r.opts.Live.Fault(sr.s.Name, e.Fault, false)
	}
	return nil
}

// rollback undoes whatever is still applied, on a fresh context.
func (sr *scenarioRun) rollback() error {
	if sr.applied == nil {
		return nil
	}
	fmt.Fprintf(sr.r.opts.Out, "  %s: rolling back: %s\n", sr.s.Name, sr.applied.Description)
	return sr.recoverFault(context.Background())
}

// watch observes for d, or with untilRecovered until service and full
// redundancy are both restored, whichever comes first. It enforces the
// abort conditions.
func (sr *scenarioRun) watch(ctx context.Context, d time.Duration, untilRecovered bool) error {
	s := sr.s
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrAborted, ctx.Err())
		case m := <-sr.r.opts.Marks: // nil channel outside manual runs: never ready
			sr.tl.Record(measure.Mark, "a person marked: "+m)
			sr.note("marked %s by a person", m)
		case <-time.After(500 * time.Millisecond):
		}
		rec := sr.tl.Snapshot()
		t0, ok := faultTime(rec)
		if !ok {
			continue
		}
		avail := measure.ServiceRestored(rec.Probes, t0, s.Probes.Availability.StabilityWindow)
		if s.Abort.NotBackAfter > 0 && !avail.Restored && sr.tl.Now()-t0 > s.Abort.NotBackAfter {
			sr.aborted = fmt.Errorf("abort: the app was not back %s after the fault (abort.notBackAfter)", s.Abort.NotBackAfter)
			sr.note("%v", sr.aborted)
			return sr.aborted
		}
		if untilRecovered && avail.Restored && measure.RedundancyRestored(rec.Redundancy, t0).Restored {
			// Redundancy must also hold for the stability window.
			last := rec.Redundancy[len(rec.Redundancy)-1]
			if last.Full && lastFullSince(rec.Redundancy) >= s.Probes.Availability.StabilityWindow {
				return nil
			}
		}
	}
	if untilRecovered {
		sr.note("not fully recovered within the recovery timeout (%s)", d)
	}
	return nil
}

// lastFullSince is how long redundancy has been full without a break.
func lastFullSince(samples []measure.RedundancySample) time.Duration {
	if len(samples) == 0 || !samples[len(samples)-1].Full {
		return 0
	}
	i := len(samples) - 1
	for i > 0 && samples[i-1].Full {
		i--
	}
	return samples[len(samples)-1].At - samples[i].At
}

func faultTime(rec measure.Recording) (time.Duration, bool) {
	for _, e := range rec.Events {
		if e.Kind == measure.FaultApplied {
			return e.At, true
		}
	}
	return 0, false
}

// restore runs the backup engine's restore; its duration counts into RTO
// because the probes keep running through it.
func (sr *scenarioRun) restore(ctx context.Context) error {
	r := sr.r
	if r.opts.Backup != nil && sr.backupID == "" && sr.s.Backup.Schedule != "" {
		// The newest backup the schedule took before the fault.
		rec := sr.tl.Snapshot()
		t0, _ := faultTime(rec)
		faultAt := rec.Started.Add(t0)
		id, cut, err := r.opts.Backup.Latest(ctx, sr.target, sr.s.Backup.Schedule, faultAt)
		if err != nil {
			return fmt.Errorf("no backup of schedule %q from before the fault: %w", sr.s.Backup.Schedule, err)
		}
		sr.backupID = id
		sr.tl.RecordBackup(id, cut.Sub(rec.Started))
		sr.note("restoring backup %s of schedule %q, cut %s before the fault", id, sr.s.Backup.Schedule, faultAt.Sub(cut).Round(time.Millisecond))
	}
	if r.opts.Backup == nil || sr.backupID == "" {
		return errors.New("no backup to restore from: the data deleted by the fault cannot come back (a breach by design until a backup is taken)")
	}
	sr.tl.Record(measure.RecoveryStarted, "restore "+sr.backupID)
	rctx, cancel := context.WithTimeout(ctx, sr.s.Recovery.Timeout)
	defer cancel()
	err := r.opts.Backup.Restore(rctx, sr.target, sr.backupID)
	sr.tl.Record(measure.RecoveryFinished, "restore "+sr.backupID)
	return err
}

// waitHealthy waits until the app reports full health.
func (sr *scenarioRun) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		h, err := sr.target.Driver.Health(hctx)
		ready, why := sr.target.replicasReady(hctx)
		cancel()
		if err == nil && h.Full && ready {
			return nil
		}
		last = h.Detail + "; " + why
		if err != nil {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %s: %s", timeout, last)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		// Members may have come back on new addresses.
		if up, ok := sr.target.Driver.(apps.EndpointUpdater); ok && sr.target.mode != scenarios.EndpointModeURLs {
			sr.target.refreshEndpoints(ctx, up, nil)
		}
	}
}

// measure analyses the timeline into the scenario's result.
func (sr *scenarioRun) measure() {
	rec := sr.tl.Snapshot()
	opts := measure.Options{StabilityWindow: sr.s.Probes.Availability.StabilityWindow, Targets: sr.rep.Targets}
	if sr.s.Recovery.Path == scenarios.RecoveryRestore && sr.backupID != "" {
		opts.RestoredBackup = sr.backupID
	}
	res, err := measure.Analyse(rec, opts)
	if err != nil {
		if errors.Is(err, measure.ErrNoFault) {
			if sr.rep.Error == "" {
				sr.rep.Error = "no fault was applied"
			}
		} else {
			sr.rep.Error = joinMsg(sr.rep.Error, "measure: "+err.Error())
		}
	}
	if sr.recoveryErr != nil {
		sr.r.failedRecovery[sr.s.Name] = sr.recoveryErr.Error()
		res.Verdict.Pass = false
		res.Verdict.Breaches = append(res.Verdict.Breaches, sr.recoveryErr.Error())
	}
	sr.rep.Result = res
	sr.rep.Events = rec.Events
	if max := sr.s.Abort.MaxLostWrites; max != nil && res.LostCount > *max {
		sr.aborted = fmt.Errorf("abort: %d acknowledged writes lost, more than abort.maxLostWrites (%d)", res.LostCount, *max)
		sr.note("%v", sr.aborted)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
