package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/logging"
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
	// abort stops the run with a cause (an abort condition met while the
	// probes run); aborted is that cause once it fired.
	abort   context.CancelCauseFunc
	aborted error
	// promise is the lost writes the scenario accepts (nil: any) and why.
	lostAllowed *int
	promiseWhy  string
	// faultOver is when the fault ended (undone after its duration, or a
	// person marked recovery); observation lasts a stability window past it.
	faultOver   time.Duration
	faultIsOver bool
	// recoveryErr is why the recovery path could not bring the app back
	// (no backup to restore, a failed restore): a breach whatever the
	// numbers say.
	recoveryErr error
	// dr is the DR side of a scenario with spec.dr; nil otherwise.
	dr *drRun
	// cluster names the target's cluster on the timeline of a scenario
	// that acts on two; empty otherwise.
	cluster string
	// stopSchedule ends the backup schedule rebound runs during the
	// scenario (spec.backup.every); nil when none runs.
	stopSchedule func()
}

// record stamps an event of the target's cluster.
func (sr *scenarioRun) record(kind measure.EventKind, detail string) {
	sr.tl.RecordIn(sr.cluster, kind, detail)
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
// scenario's report. The report and the measured result are always
// returned: the result is what the ladder is judged on, computed once here.
func (r *Runner) runScenario(ctx context.Context, s *scenarios.Scenario, runID string) (reports.Scenario, measure.ScenarioResult, error) {
	start := time.Now()
	sr := &scenarioRun{r: r, s: s, runID: runID, log: logging.FromContext(ctx)}
	sr.rep = reports.Scenario{
		Name: s.Name, Disruption: string(s.Disruption), Fault: string(s.Fault.Kind), Recovery: string(s.Recovery.Path),
		Target:    fmt.Sprintf("%s in %s (%s)", s.Target.Driver, s.Target.Namespace, metav1.FormatLabelSelector(&s.Target.LabelSelector)),
		StartedAt: start, Targets: r.targets[s.Disruption],
	}
	if s.DR != nil {
		sr.cluster = r.clusterName()
		sr.rep.Target = fmt.Sprintf("%s in %s of %s (%s), recovered into %s of %s", s.Target.Driver, s.Target.Namespace, sr.cluster,
			metav1.FormatLabelSelector(&s.Target.LabelSelector), s.DR.Namespace, s.DR)
	}
	fmt.Fprintf(r.opts.Out, "scenario %s: %s\n", s.Name, s.Description)
	// An abort condition cancels the whole scenario with its reason.
	actx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	sr.abort = abort
	err := sr.run(actx)
	if cause := context.Cause(actx); sr.aborted == nil && ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		sr.aborted = cause
	}
	if sr.aborted != nil {
		err = fmt.Errorf("%w: %w", ErrAborted, sr.aborted)
	}
	// Whatever happened, nothing stays applied.
	if sr.applied != nil && sr.tl != nil {
		sr.record(measure.RolledBack, "rolling back: "+sr.applied.Description)
	}
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
		// The read-back during the run may not have seen every loss.
		if max := s.Abort.MaxLostWrites; max != nil && sr.aborted == nil && sr.rep.Result.LostCount > *max {
			sr.aborted = fmt.Errorf("abort: %d acknowledged writes lost, more than abort.maxLostWrites (%d)", sr.rep.Result.LostCount, *max)
			sr.note("%v", sr.aborted)
			err = errors.Join(err, fmt.Errorf("%w: %w", ErrAborted, sr.aborted))
		}
	}
	res := measure.ScenarioResult{Name: s.Name, Disruption: measure.DisruptionType(s.Disruption), Result: sr.rep.Result}
	switch {
	case sr.rep.Error != "":
		res.Failed = "could not run: " + sr.rep.Error
	case sr.recoveryErr != nil:
		res.Failed = sr.recoveryErr.Error()
	}
	if errors.Is(err, ErrAborted) {
		return sr.rep, res, err
	}
	return sr.rep, res, nil
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// abortWith stops the scenario for an abort condition: every phase returns,
// and runScenario rolls back.
func (sr *scenarioRun) abortWith(err error) {
	if sr.aborted != nil {
		return
	}
	sr.aborted = err
	if sr.tl != nil {
		sr.tl.Record(measure.Aborted, err.Error())
	}
	sr.note("%v", err)
	sr.abort(err)
}

// phaseErr turns a phase that ended on its context into the reason: an
// abort condition, the phase's own timeout, or the run being stopped.
func (sr *scenarioRun) phaseErr(ctx context.Context, phase string, timeout time.Duration, field string) error {
	if sr.aborted != nil {
		return fmt.Errorf("%w: %w", ErrAborted, sr.aborted)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err := fmt.Errorf("the %s phase did not end within phaseTimeouts.%s (%s)", phase, field, timeout)
		sr.abortWith(err)
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	return fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
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
	if err := sr.setPromise(ctx); err != nil {
		return fmt.Errorf("steady state: %w", err)
	}
	if s.DR != nil {
		// Everything about the DR cluster that can be known before the
		// fault is checked now, so a bad one leaves both clusters as
		// they were.
		if err := sr.prepareDR(ctx); err != nil {
			return fmt.Errorf("steady state, nothing was injected: %w", err)
		}
	}
	sr.env = &faults.Env{
		Kube: r.kube, Dynamic: r.dynamic, Lab: r.labIfTarget(), Driver: t.Driver, Namespace: t.Namespace, Selector: t.Selector,
		RunID: sr.runID, Scenario: s.Name, Records: t.Prefix, Log: sr.log, CloudSecret: r.opts.CloudSecret, Marks: r.opts.Marks, Out: r.opts.Out,
	}
	inj, err := faults.For(s.Fault)
	if err != nil {
		return err
	}

	// Probes on, on one timeline.
	sr.phase("probes on")
	sr.tl = measure.NewTimeline(r.opts.Clock)
	pctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go t.followEndpoints(pctx)
	var obs probes.Observer
	if r.opts.Live != nil {
		obs = liveObserver{r.opts.Live, s.Name}
	}
	cfg := probes.Config{
		Interval: s.Probes.Availability.Interval, Timeout: s.Probes.Availability.Timeout,
		Writers: s.Probes.Writes.Writers, Rate: s.Probes.Writes.Rate, Redundancy: t.replicasReady,
	}
	if max := s.Abort.MaxLostWrites; max != nil {
		cfg.MaxLost, cfg.ReadBackEvery = max, s.Probes.Writes.ReadBackInterval
		cfg.OnLost = func(missing []probes.Missing) {
			sr.abortWith(fmt.Errorf("abort: %d acknowledged writes are missing, more than abort.maxLostWrites (%d): %s",
				len(missing), *max, describeMissing(missing)))
		}
	}
	set := probes.Start(pctx, t.Driver, sr.tl, cfg, obs)
	t.AckedBefore = func(at clock.Instant) []string { return ackedBefore(sr.tl, at) }
	stopped := false
	stopProbes := func() {
		if !stopped {
			set.Stop()
			stopped = true
		}
	}
	defer stopProbes()
	if s.Backup.Every > 0 {
		sr.phase("backup schedule")
		if err := sr.startSchedule(ctx); err != nil {
			return err
		}
		defer sr.stopSchedule()
	}
	if err := sleep(ctx, r.baseline()); err != nil { // a baseline before the fault
		return sr.phaseErr(ctx, "probes on", 0, "")
	}

	// Backup, when the scenario asks for one.
	if s.Backup.Before {
		sr.phase("backup")
		if r.opts.Backup == nil {
			sr.note("no backup taken: this rebound has no backup engine configured, so a restore cannot bring data back")
		} else {
			bctx, cancel := context.WithTimeout(ctx, pt.Inject+5*time.Minute)
			cut, err := r.opts.Backup.Backup(bctx, &t.Target)
			cancel()
			if err != nil {
				return fmt.Errorf("backup before the fault: %w", err)
			}
			if err := sr.recordCut(cut); err != nil {
				return fmt.Errorf("backup before the fault: %w", err)
			}
			sr.backupID = cut.ID
			sr.note("backup %s taken", cut.ID)
		}
	}

	// A restore from a schedule's backups needs one taken before the
	// fault: known now, so a schedule that took none leaves the app as
	// it was.
	if err := sr.checkScheduleTookOne(ctx); err != nil {
		return err
	}
	if sr.stopSchedule != nil {
		// The schedule ran in the region about to be lost: it ends here.
		sr.stopSchedule()
	}

	// Inject: plan, journal, act; T0 once the injector confirms it.
	sr.phase("inject")
	ictx, cancel := context.WithTimeout(ctx, pt.Inject)
	plan, err := inj.Plan(ictx, sr.env)
	cancel()
	if err != nil {
		return fmt.Errorf("plan %s: %w", s.Fault.Kind, err)
	}
	if err := sr.inject(ctx, plan); err != nil {
		return err
	}

	// Observe, then undo the fault after its duration. The phase runs from
	// T0 and is bounded by phaseTimeouts.observe.
	sr.phase("observe")
	// A second of grace: the phase's own watch ends exactly at
	// startAfter + duration, which may equal phaseTimeouts.observe.
	octx, cancel := context.WithTimeout(ctx, pt.Observe+sr.confirmSlack(pt)+time.Second)
	defer cancel()
	if s.Fault.StartAfter > 0 {
		if err := sr.watchFor(octx, s.Fault.StartAfter); err != nil {
			return sr.phaseErr(octx, "observe", pt.Observe, "observe")
		}
		if err := sr.act(octx, plan); err != nil {
			return err
		}
	}
	if plan.Duration > 0 {
		if err := sr.watchFor(octx, plan.Duration); err != nil {
			return sr.phaseErr(octx, "observe", pt.Observe, "observe")
		}
		if err := sr.recoverFault(ctx); err != nil {
			return err
		}
	}
	if !sr.needsRecoveredMark() {
		// The fault is over: undone after its duration, or one-shot, or
		// (no duration) left for the recovery to outlast.
		sr.faultOver, sr.faultIsOver = sr.tl.Now(), true
	}

	// Recover by the scenario's path, bounded by phaseTimeouts.recover;
	// the recovery timeout bounds how long rebound waits for the service.
	sr.phase("recover (" + string(s.Recovery.Path) + ")")
	// A second of grace, as for observe: the watch ends exactly at the
	// recovery timeout, which may equal phaseTimeouts.recover.
	rctx, cancel := context.WithTimeout(ctx, pt.Recover+time.Second)
	defer cancel()
	deadline := time.Now().Add(s.Recovery.Timeout)
	switch s.Recovery.Path {
	case scenarios.RecoveryRestore:
		if err := sr.restore(rctx, deadline); err != nil {
			if rctx.Err() != nil {
				return sr.phaseErr(rctx, "recover", pt.Recover, "recover")
			}
			sr.recoveryErr = fmt.Errorf("restore failed: %w", err)
			sr.note("%v", sr.recoveryErr)
		}
	case scenarios.RecoveryManual:
		fmt.Fprintf(r.opts.Out, "\n>>> %s: recover the app now, then run `rebound mark recovered` (or send SIGUSR2).\n\n", s.Name)
	}
	if sr.needsRecoveredMark() && s.Recovery.Path != scenarios.RecoveryManual {
		fmt.Fprintf(r.opts.Out, "\n>>> %s: when the fault is over, run `rebound mark recovered` (or send SIGUSR2).\n\n", s.Name)
	}
	ended, err := sr.watchUntilRecovered(rctx, deadline)
	if err != nil {
		return sr.phaseErr(rctx, "recover", pt.Recover, "recover")
	}
	sr.tl.Record(measure.ObservationEnded, ended)
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

// confirmSlack is the part of the observe phase spent confirming a fault
// that starts after T0 (phaseTimeouts.inject bounds it on its own).
func (sr *scenarioRun) confirmSlack(pt scenarios.PhaseTimeouts) time.Duration {
	if sr.s.Fault.StartAfter > 0 {
		return pt.Inject
	}
	return 0
}

// needsRecoveredMark tells whether only a person can say the fault is over:
// a manual fault, or a manual recovery.
func (sr *scenarioRun) needsRecoveredMark() bool {
	return sr.s.Fault.Kind == scenarios.FaultManual || sr.s.Recovery.Path == scenarios.RecoveryManual
}

// setPromise works out how many lost writes the scenario accepts: its own
// expect.lostWrites, or else what the driver declares its app promises.
func (sr *scenarioRun) setPromise(ctx context.Context) error {
	if n := sr.s.Expect.LostWrites; n != nil {
		sr.lostAllowed, sr.promiseWhy = n, fmt.Sprintf("the scenario's expect.lostWrites (%d)", *n)
		return nil
	}
	p, err := apps.PromiseOf(ctx, sr.target.Driver)
	if err != nil {
		return fmt.Errorf("the %s driver could not say what its app promises about acknowledged writes: %w", sr.s.Target.Driver, err)
	}
	sr.promiseWhy = fmt.Sprintf("the %s driver's promise: %s", sr.s.Target.Driver, p.Why)
	if !p.MayLoseAcknowledged {
		sr.lostAllowed = new(0)
	}
	return nil
}

// recordCut places a backup's cut on the run's timeline, or says why it
// cannot be placed. A cut after T0 is refused: it would be a negative
// backup age.
func (sr *scenarioRun) recordCut(cut BackupCut) error {
	if cut.Unknown != "" {
		sr.tl.RecordBackupUnknownCut(cut.ID, cut.Unknown)
		return nil
	}
	at, err := sr.tl.HostOffset(cut.At)
	if err != nil {
		return fmt.Errorf("backup %s (cut %s): its cut cannot be placed on this run's clock: %w; run the schedule on the machine that runs the game day, or use spec.backup.before",
			cut.ID, cut.Wall.Format(time.RFC3339), err)
	}
	if t0, ok := faultTime(sr.tl.Snapshot()); ok && at > t0 {
		return fmt.Errorf("backup %s: its cut is %s after the fault; a restore from it cannot stand for a backup taken before the fault", cut.ID, at-t0)
	}
	sr.tl.RecordBackup(cut.ID, at)
	return nil
}

// inject journals the plan, then applies it. T0 is when Apply confirms the
// fault in effect; for a fault that starts after T0 (fault.startAfter), T0 is
// when it was ordered and the observe phase acts later.
func (sr *scenarioRun) inject(ctx context.Context, plan *faults.Plan) error {
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
	if after := sr.s.Fault.StartAfter; after > 0 {
		sr.record(measure.FaultApplied, fmt.Sprintf("ordered: %s (acts %s later)", plan.Description, after))
		return nil
	}
	return sr.act(ctx, plan)
}

// act applies the journaled plan and waits for the injector to confirm it.
func (sr *scenarioRun) act(ctx context.Context, plan *faults.Plan) error {
	r := sr.r
	ictx, cancel := context.WithTimeout(ctx, sr.s.PhaseTimeouts.Inject)
	defer cancel()
	if err := faults.Apply(ictx, plan); err != nil {
		if sr.aborted != nil {
			return fmt.Errorf("%w: %w", ErrAborted, sr.aborted)
		}
		if errors.Is(err, faults.ErrNotConfirmed) {
			return err // "fault never took effect: …", the object's status included
		}
		return fmt.Errorf("inject %s: %w", plan.Fault, err)
	}
	if sr.s.Fault.StartAfter > 0 {
		sr.record(measure.Mark, "fault in effect: "+plan.Description)
	} else {
		sr.record(measure.FaultApplied, plan.Description)
	}
	if r.opts.Live != nil {
		r.opts.Live.Fault(sr.s.Name, string(plan.Fault), true)
	}
	e := *sr.applied
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
	*sr.applied = e
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
		sr.record(measure.FaultRecovered, "undone: "+e.Description)
	}
	if sr.r.opts.Live != nil {
		sr.r.opts.Live.Fault(sr.s.Name, e.Fault, false)
	}
	return nil
}

// rollback undoes whatever is still applied, on a fresh context: the fault
// in the target's cluster, and the copy a restore made in the DR cluster.
func (sr *scenarioRun) rollback() error {
	var errs []error
	if sr.applied != nil {
		fmt.Fprintf(sr.r.opts.Out, "  %s: rolling back: %s\n", sr.s.Name, sr.applied.Description)
		if sr.env != nil {
			errs = append(errs, sr.recoverFault(context.Background()))
		}
	}
	errs = append(errs, sr.deleteDRCopy())
	return errors.Join(errs...)
}

// watchFor observes for d, taking marks and enforcing abort conditions.
func (sr *scenarioRun) watchFor(ctx context.Context, d time.Duration) error {
	end := sr.tl.Now() + d
	defer logging.Heartbeat(ctx, "the fault's planned time to pass, observing", d)()
	return sr.observe(ctx, func(now time.Duration) bool { return now >= end }, end)
}

// watchUntilRecovered observes until the observation may end, or until the
// recovery deadline passes: then the report says the app was not restored,
// and why. The observation may end only when
//   - the fault is over (undone, or for a manual fault or recovery, a person
//     marked recovery) and a stability window has passed since;
//   - a stability window has passed since the last failed probe, and the
//     service is restored (a run of successes lasting the window);
//   - full redundancy has held for a stability window.
//
// A fault that takes effect slowly therefore still counts in full.
//
// It returns what ended the observation, for the observationEnded event.
func (sr *scenarioRun) watchUntilRecovered(ctx context.Context, deadline time.Time) (string, error) {
	window := sr.s.Probes.Availability.StabilityWindow
	end := sr.tl.Now() + time.Until(deadline) // the deadline on the timeline
	defer logging.Heartbeat(ctx, "the app to recover (service and full redundancy back for the stability window "+window.String()+")", time.Until(deadline))()
	var why string
	err := sr.observe(ctx, func(now time.Duration) bool {
		if now >= end {
			return true
		}
		rec := sr.tl.Snapshot()
		t0, _ := faultTime(rec)
		switch {
		case !sr.faultIsOver:
			why = "waiting for a person to mark recovery (`rebound mark recovered`)"
			return false
		case now-sr.faultOver < window:
			why = "the fault ended less than a stability window ago"
			return false
		}
		av := measure.ServiceRestored(rec.Probes, t0, window)
		switch {
		case !av.Restored:
			why = "the service is not back for a stability window"
			return false
		case av.Failed && now-(t0+av.LastFailure) < window:
			why = "a probe failed less than a stability window ago"
			return false
		case lastFullSince(rec.Redundancy) < window:
			why = "full redundancy has not held for a stability window"
			if n := len(rec.Redundancy); n > 0 && !rec.Redundancy[n-1].Full {
				why = "full redundancy is not back: " + rec.Redundancy[n-1].Detail
			}
			return false
		}
		why = ""
		return true
	}, end)
	if err != nil {
		return "", err
	}
	if why != "" {
		sr.note("not fully recovered within the recovery timeout (%s): %s", sr.s.Recovery.Timeout, why)
		return fmt.Sprintf("observation ended at the recovery timeout (%s): %s", sr.s.Recovery.Timeout, why), nil
	}
	return "observation ended: the fault is over, the service back and full redundancy held for a stability window since the fault ended and the last failure", nil
}

// observe polls until done says so, taking marks and enforcing
// abort.notBackAfter; it returns an error only when ctx ends (an abort, a
// phase timeout, or the run being stopped).
//
// With end ≥ 0 it looks at least at that instant of the timeline, so a
// watch of a fixed length ends on time rather than a poll later.
func (sr *scenarioRun) observe(ctx context.Context, done func(now time.Duration) bool, end time.Duration) error {
	s := sr.s
	for {
		if done(sr.tl.Now()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-sr.r.opts.Marks: // nil channel outside manual runs: never ready
			sr.tl.Record(measure.Mark, "a person marked: "+m)
			sr.note("marked %s by a person", m)
			if m == "recovered" && sr.needsRecoveredMark() {
				sr.faultOver, sr.faultIsOver = sr.tl.Now(), true
			}
		case <-time.After(sr.nextPoll(end)):
		}
		if nb := s.Abort.NotBackAfter; nb > 0 {
			rec := sr.tl.Snapshot()
			if t0, ok := faultTime(rec); ok && sr.tl.Now()-t0 > nb {
				if av := measure.ServiceRestored(rec.Probes, t0, s.Probes.Availability.StabilityWindow); !av.Restored {
					sr.abortWith(fmt.Errorf("abort: the app was not back %s after the fault (abort.notBackAfter)", nb))
				}
			}
		}
	}
}

// nextPoll is how long observe waits before it looks again: the poll
// interval, or less to look exactly at end (when end ≥ 0).
func (sr *scenarioRun) nextPoll(end time.Duration) time.Duration {
	wait := sr.r.pollEvery()
	if end >= 0 {
		if left := end - sr.tl.Now(); left < wait {
			wait = max(left, 0)
		}
	}
	return wait
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

// ackedBefore lists the writes acknowledged on tl before a host instant;
// nil when the instant cannot be placed on tl.
func ackedBefore(tl *measure.Timeline, at clock.Instant) []string {
	cut, err := tl.HostOffset(at)
	if err != nil {
		return nil
	}
	var ids []string
	for _, w := range tl.Snapshot().Writes {
		if w.Type == measure.OpOK && w.At < cut {
			ids = append(ids, w.ID)
		}
	}
	return ids
}

// describeMissing names missing writes with their acknowledgement times,
// the first few of them.
func describeMissing(missing []probes.Missing) string {
	const show = 10
	var b strings.Builder
	for i, m := range missing {
		if i == show {
			fmt.Fprintf(&b, " and %d more", len(missing)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (acknowledged at %s)", m.ID, m.Acked.Round(time.Millisecond))
	}
	return b.String()
}

// restore runs the backup engine's restore; its duration counts into RTO
// because the probes keep running through it.
func (sr *scenarioRun) restore(ctx context.Context, deadline time.Time) error {
	r := sr.r
	if r.opts.Backup != nil && sr.backupID == "" && sr.s.Backup.Schedule != "" {
		// The newest backup the schedule took before the fault, on this
		// host's monotonic clock.
		t0, _ := faultTime(sr.tl.Snapshot())
		cut, err := r.opts.Backup.Latest(ctx, &sr.target.Target, sr.s.Backup.Schedule, sr.tl.HostInstant(t0))
		if err != nil {
			return fmt.Errorf("no backup of schedule %q from before the fault: %w", sr.s.Backup.Schedule, err)
		}
		if err := sr.recordCut(cut); err != nil {
			return err
		}
		sr.backupID = cut.ID
		sr.note("restoring backup %s of schedule %q", cut.ID, sr.s.Backup.Schedule)
	}
	if r.opts.Backup == nil || sr.backupID == "" {
		return errors.New("no backup to restore from: the data deleted by the fault cannot come back (a breach by design until a backup is taken)")
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	defer logging.Heartbeat(ctx, "the restore of backup "+sr.backupID, time.Until(deadline))()
	if d := sr.dr; d != nil {
		what := fmt.Sprintf("restore %s into namespace %s of %s", sr.backupID, d.namespace, d.cluster.Name)
		sr.tl.RecordIn(d.cluster.Name, measure.RecoveryStarted, what)
		err := sr.restoreIntoDR(rctx, sr.backupID)
		sr.tl.RecordIn(d.cluster.Name, measure.RecoveryFinished, what)
		return err
	}
	sr.record(measure.RecoveryStarted, "restore "+sr.backupID)
	err := r.opts.Backup.Restore(rctx, &sr.target.Target, sr.backupID)
	sr.record(measure.RecoveryFinished, "restore "+sr.backupID)
	return err
}

// waitHealthy waits until the app reports full health.
func (sr *scenarioRun) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	defer logging.Heartbeat(ctx, "the app to be healthy before the fault", timeout)()
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
		if up, ok := sr.target.Driver.(apps.EndpointUpdater); ok && sr.target.where().mode != scenarios.EndpointModeURLs {
			sr.target.refreshEndpoints(ctx, up, nil)
		}
	}
}

// measure analyses the timeline into the scenario's result and verdict.
func (sr *scenarioRun) measure() {
	rec := sr.tl.Snapshot()
	opts := measure.Options{
		StabilityWindow: sr.s.Probes.Availability.StabilityWindow, Targets: sr.rep.Targets,
		LostWritesAllowed: sr.lostAllowed, PromiseWhy: sr.promiseWhy,
	}
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
		res.Verdict.Pass = false
		res.Verdict.Breaches = append(res.Verdict.Breaches, sr.recoveryErr.Error())
	}
	sr.rep.Result = res
	sr.rep.Events = rec.Events
	sr.rep.Probes = reports.ProbeSpans(rec.Probes)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
