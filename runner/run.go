package runner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/logging"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
)

func (r *Runner) labIfTarget() *lab.Lab {
	if r.opts.OnLab {
		return r.opts.Lab
	}
	return nil
}

// cluster records how cleanup reaches the cluster of a fault.
func (r *Runner) cluster(namespace string) journal.Cluster {
	c := JournalCluster(r.opts)
	c.Namespace = namespace
	return c
}

// JournalCluster says how `rebound cleanup` reaches the cluster a run with
// these options acts on; callers that journal on the run's behalf (the
// backup engine's data movers) record it too.
func JournalCluster(opts Options) journal.Cluster {
	c := journal.Cluster{Kubeconfig: opts.Kubeconfig, Context: opts.Context}
	if opts.OnLab && opts.Lab != nil {
		c.Lab, c.StateDir = opts.Lab.Name, opts.Lab.StateDir
		c.Kubeconfig = opts.Lab.Kubeconfig()
	}
	return c
}

// Run runs the scenarios in order and returns the finalized run result.
// Its error is ErrAborted (wrapped) when the run stopped early; the result
// is complete either way, with every scenario that ran.
func (r *Runner) Run(ctx context.Context, runID string, list []*scenarios.Scenario) (*reports.Run, error) {
	run := &reports.Run{ID: runID, StartedAt: time.Now().UTC(), Cluster: r.clusterName()}
	if r.opts.Ladder != nil {
		run.Ladder = r.opts.Ladder.Name
	}
	r.run = run
	// Every log line of the run carries its id; each scenario's adds the
	// scenario and the fault kind.
	ctx = logging.NewContext(ctx, r.opts.Log.With(logging.KeyRun, runID))
	if r.opts.DryRun {
		return run, r.dryRun(ctx, list)
	}
	j := r.opts.Journal
	if j == nil {
		var err error
		if j, err = journal.OpenJournal(r.opts.StateDir, runID); err != nil {
			return run, err
		}
		defer j.Close()
	}
	r.journal = j
	fmt.Fprintf(r.opts.Out, "run %s: %d scenarios (journal %s)\n", runID, len(list), j.Path())

	var runErr error
	var results []measure.ScenarioResult // what the ladder is judged on, as measured
	for i, s := range list {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
			break
		}
		sctx := logging.With(ctx, logging.KeyScenario, s.Name, logging.KeyFault, string(s.Fault.Kind))
		rep, res, err := r.runScenario(sctx, s, runID)
		logScenario(sctx, rep)
		run.Scenarios = append(run.Scenarios, rep)
		results = append(results, res)
		r.printVerdict(rep)
		if errors.Is(err, ErrAborted) {
			runErr = err
			break
		}
		// The next scenario needs a healthy app: put a demo app back as new
		// when this one left it degraded.
		if i+1 < len(list) && r.opts.Redeploy != nil && !recovered(rep) {
			fmt.Fprintf(r.opts.Out, "  %s left the demo app degraded: redeploying it for the next scenario\n", s.Name)
			if err := r.opts.Redeploy(ctx, s.Target.Namespace); err != nil {
				fmt.Fprintf(r.opts.Out, "  redeploy failed: %v\n", err)
			}
		}
	}
	if runErr != nil {
		run.Aborted = true
		run.AbortReason = runErr.Error()
	}
	if left, err := journal.Outstanding(r.opts.StateDir); err == nil {
		for _, e := range left {
			if e.Run == runID {
				run.CleanupIncomplete = append(run.CleanupIncomplete, fmt.Sprintf("%s: %s (%s)", e.Scenario, e.Description, e.State))
			}
		}
	}
	if len(r.rungs) > 0 {
		run.Achieved = measure.AchievedRungs(r.rungs, results)
	}
	return run, runErr
}

// logScenario logs a scenario's outcome with its numbers, for a JSON log
// that a CI job reads; the user's own view is printVerdict's line.
func logScenario(ctx context.Context, rep reports.Scenario) {
	args := []any{"status", string(rep.Status()), "duration", rep.Duration.Duration().Round(time.Millisecond).String()}
	if r := rep.Result; rep.Error == "" {
		if r.RTO != nil {
			args = append(args, "rto", r.RTO.Duration().Round(time.Millisecond).String())
		}
		args = append(args, "lostWrites", r.LostCount, "breaches", len(r.Verdict.Breaches))
	} else {
		args = append(args, "error", rep.Error)
	}
	logging.FromContext(ctx).DebugContext(ctx, "scenario finished", args...)
}

// recovered tells whether a scenario ended with the app back at full
// redundancy.
func recovered(rep reports.Scenario) bool {
	return rep.Error == "" && rep.Result.TimeToFullRedundancy != nil
}

func (r *Runner) clusterName() string {
	if r.opts.OnLab && r.opts.Lab != nil {
		return "lab " + r.opts.Lab.Name
	}
	if r.opts.Context != "" {
		return r.opts.Context
	}
	if r.opts.Kubeconfig == "" {
		// Neither the lab nor a kubeconfig: rebound in a pod, with its
		// service account (cli/kubeclient.InCluster).
		return "in-cluster"
	}
	return r.opts.Kubeconfig
}

func (r *Runner) printVerdict(rep reports.Scenario) {
	st := rep.Status()
	line := fmt.Sprintf("scenario %s: %s", rep.Name, st)
	if rep.Error != "" {
		line += ": " + rep.Error
	} else if len(rep.Result.Verdict.Breaches) > 0 {
		line += ": " + rep.Result.Verdict.Breaches[0]
	}
	fmt.Fprintln(r.opts.Out, line)
}

// dryRun prints, for every scenario, the fault it would inject and how it
// would be undone, reading the cluster but changing nothing.
func (r *Runner) dryRun(ctx context.Context, list []*scenarios.Scenario) error {
	out := r.opts.Out
	fmt.Fprintf(out, "dry run: nothing will be changed\n")
	for _, s := range list {
		fmt.Fprintf(out, "\nscenario %s (%s, %s): %s\n", s.Name, s.Disruption, s.Source, s.Description)
		fmt.Fprintf(out, "  target: namespace %s, pods %s, driver %s\n", s.Target.Namespace, s.Target.LabelSelector.String(), s.Target.Driver)
		if s.Backup.Before {
			fmt.Fprintf(out, "  backup before the fault\n")
		}
		t, err := r.resolveTarget(ctx, s, "dry-run")
		if err != nil {
			fmt.Fprintf(out, "  fault: %s (not resolved against the cluster: %v)\n", s.Fault.Kind, err)
			continue
		}
		inj, err := faults.For(s.Fault)
		if err != nil {
			t.Close()
			return err
		}
		plan, err := inj.Plan(ctx, &faults.Env{
			Kube: r.kube, Dynamic: r.dynamic, Lab: r.labIfTarget(), Driver: t.Driver, Namespace: t.Namespace, Selector: t.Selector,
			RunID: "dry-run", Scenario: s.Name, Log: r.opts.Log, CloudSecret: r.opts.CloudSecret, Out: out,
		})
		t.Close()
		if err != nil {
			fmt.Fprintf(out, "  fault: %s: cannot be planned: %v\n", s.Fault.Kind, err)
			continue
		}
		fmt.Fprintf(out, "  fault: %s\n", plan.Description)
		if plan.Duration > 0 {
			fmt.Fprintf(out, "  for: %s, then undo\n", plan.Duration)
		}
		for _, u := range plan.Undo {
			fmt.Fprintf(out, "  undo: %s\n", u.Describe)
		}
		if plan.OneShot() {
			fmt.Fprintf(out, "  undo: none (one-shot; recovery: %s)\n", s.Recovery.Path)
		}
		for _, o := range plan.Objects {
			data, err := yaml.Marshal(o)
			if err == nil {
				fmt.Fprintf(out, "  object:\n%s", indent(string(data), "    "))
			}
		}
		fmt.Fprintf(out, "  recovery: %s (timeout %s)\n", s.Recovery.Path, s.Recovery.Timeout)
		if dr := s.DR; dr != nil {
			fmt.Fprintf(out, "  DR: into namespace %s of %s; the probes follow the app there, and the copy is deleted when the scenario is over\n", dr.Namespace, dr)
		}
		if b := s.Backup; b.Every > 0 {
			fmt.Fprintf(out, "  backup schedule %q: every %s from the probes' start until the fault\n", b.Schedule, b.Every)
		}
	}
	return nil
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pre) + "\n"
}

// CleanupResult is what Cleanup did.
type CleanupResult struct {
	Recovered []string
	Failed    []string
	// Gone are the entries whose cluster no longer exists (a lab brought
	// down since): nothing of their faults is left to undo.
	Gone []string
	// Running are the runs still going (a live process holds their
	// journal): left alone.
	Running []string
}

// ErrClusterGone is what Cleanup's envFor returns (wrapped, with the
// reason) for a cluster that no longer exists, such as a lab that is down:
// its faults went with it, so its entries are closed rather than failed.
var ErrClusterGone = errors.New("the cluster no longer exists")

// Cleanup rolls back, from the journals in stateDir, every fault that is
// not recorded as recovered: after a crash, a kill -9, or a failed undo.
// envFor builds the environment to act in from an entry's cluster.
func Cleanup(ctx context.Context, stateDir string, envFor func(journal.Cluster) (*faults.Env, error)) (CleanupResult, error) {
	var res CleanupResult
	left, err := journal.Outstanding(stateDir)
	if err != nil {
		return res, err
	}
	sort.SliceStable(left, func(i, j int) bool { return left[i].Time.After(left[j].Time) }) // newest first, like a stack
	// An entry's new state goes back into the file it came from.
	byFile := map[string]*journal.Journal{}
	defer func() {
		for _, j := range byFile {
			j.Close()
		}
	}()
	running := map[string]bool{} // by journal file
	for _, e := range left {
		what := fmt.Sprintf("%s/%s: %s", e.Run, e.Scenario, e.Description)
		j := byFile[e.Source]
		if j == nil && !running[e.Source] {
			var err error
			j, err = journal.OpenPath(e.Source)
			switch {
			case errors.Is(err, journal.ErrInUse):
				// A live run: its faults are its own to roll back.
				running[e.Source] = true
				res.Running = append(res.Running, e.Run)
			case j != nil:
				byFile[e.Source] = j
			}
		}
		if running[e.Source] {
			continue
		}
		env, err := envFor(e.Cluster)
		if err == nil {
			err = faults.Recover(ctx, env, e.Undo)
		}
		if errors.Is(err, ErrClusterGone) {
			res.Gone = append(res.Gone, fmt.Sprintf("%s: %v", what, err))
			if j != nil {
				e.State, e.Error = journal.StateRecovered, "nothing to undo: "+err.Error()
				_ = j.Write(e)
			}
			continue
		}
		if err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", what, err))
			if j != nil {
				e.State, e.Error = journal.StateFailed, err.Error()
				_ = j.Write(e)
			}
			continue
		}
		res.Recovered = append(res.Recovered, what)
		if j != nil {
			e.State, e.Error = journal.StateRecovered, ""
			_ = j.Write(e)
		}
	}
	return res, nil
}
