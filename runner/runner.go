package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
	"github.com/reboundhq/rebound/target"
)

// ErrAborted is a run stopped by a signal, an abort condition or a phase
// timeout; every fault it applied was rolled back (or CleanupIncomplete says
// what was not).
var ErrAborted = errors.New("run aborted")

// ErrRefused is a scenario the safety rules refuse to run.
var ErrRefused = errors.New("refused")

// BackupCut is a backup and where its consistent cut is (target.BackupCut).
type BackupCut = target.BackupCut

// BackupEngine takes and restores the backups scenarios ask for
// (target.BackupEngine). The runner works without one; a restore scenario
// then breaches and says why.
type BackupEngine = target.BackupEngine

// Options configure a run.
type Options struct {
	// Cluster access. With no Kubeconfig the target is Lab.
	Kubeconfig string
	Context    string
	RestConfig *rest.Config // for port-forwards
	Lab        *lab.Lab     // the lab, when the target is (or may be) the lab
	// OnLab is true when the target cluster is the lab (no --yes needed).
	OnLab bool
	// Yes confirms a run against a cluster that is not the lab.
	Yes bool
	// AllowNamespaces are the namespaces scenarios may act in; kube-system
	// is refused whatever this says.
	AllowNamespaces []string
	DryRun          bool
	Ladder          *scenarios.Ladder
	// Rung is the rung whose targets each scenario is judged against;
	// empty means the ladder's strictest.
	Rung string
	// StateDir holds the journal.
	StateDir string
	Backup   BackupEngine
	// Redeploy puts a demo app back as new after a scenario left it
	// degraded, so the next scenario starts from a healthy app; nil when
	// the app is the user's.
	Redeploy func(ctx context.Context, namespace string) error
	// DR are the DR clusters scenarios recover into (spec.dr), by DRKey,
	// connected by the caller; the safety rules apply to each.
	DR map[string]*Cluster
	// CloudSecret names the Secret for Chaos Mesh's cloud node power.
	CloudSecret string
	Live        *reports.Live
	Marks       <-chan string
	// Journal is the run's crash journal when the caller opened it, to
	// share it with what journals on the run's behalf (the backup engine's
	// data movers); nil: Run opens the run's journal under StateDir.
	Journal *journal.Journal
	// Clock is what scenario timelines read; nil means the system clock.
	// Tests give one whose host instants follow a fake time.
	Clock measure.HostClock
	// Baseline is how long probes run before anything is done (default
	// 2 s); PollEvery how often observation looks at the timeline
	// (default 200 ms). Tests shorten them.
	Baseline, PollEvery time.Duration
	Out                 io.Writer
	Log                 *slog.Logger
}

// Runner runs scenarios.
type Runner struct {
	opts    Options
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	journal *journal.Journal
	run     *reports.Run
	rungs   []measure.Rung
	targets map[scenarios.Disruption]measure.Targets
}

// NewRunID makes a run id: sortable by time, unique by its random tail.
func NewRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// New prepares a run: it checks the safety rules against every scenario
// before anything is touched.
func New(opts Options, kube kubernetes.Interface, dyn dynamic.Interface, list []*scenarios.Scenario) (*Runner, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := CheckSafety(opts, list); err != nil {
		return nil, err
	}
	r := &Runner{opts: opts, kube: kube, dynamic: dyn, targets: map[scenarios.Disruption]measure.Targets{}}
	if opts.Ladder != nil {
		rungs, targets, err := ladderTargets(opts.Ladder, opts.Rung)
		if err != nil {
			return nil, err
		}
		r.rungs, r.targets = rungs, targets
	}
	return r, nil
}

// CheckSafety refuses kube-system, namespaces outside the allowlist, and a
// cluster that is not the lab without --yes, in the target's cluster and
// in each scenario's DR cluster; and a DR cluster that is the target's.
func CheckSafety(opts Options, list []*scenarios.Scenario) error {
	var errs []error
	for _, s := range list {
		ns := s.Target.Namespace
		switch {
		case ns == "kube-system":
			errs = append(errs, fmt.Errorf("%w: scenario %s (%s) targets kube-system; rebound never injects faults there", ErrRefused, s.Name, s.Source))
		case !slices.Contains(opts.AllowNamespaces, ns):
			errs = append(errs, fmt.Errorf("%w: scenario %s (%s) targets namespace %q, which is not in the allowlist %v: add --allow-namespace %s", ErrRefused, s.Name, s.Source, ns, opts.AllowNamespaces, ns))
		}
		errs = append(errs, checkDRSafety(opts, s)...)
	}
	if !opts.OnLab && !opts.Yes && !opts.DryRun {
		errs = append(errs, fmt.Errorf("%w: the target cluster (context %q) is not the rebound lab: pass --yes to inject faults into it, or --dry-run to see what would happen", ErrRefused, opts.Context))
	}
	return errors.Join(errs...)
}

// ladderTargets maps a ladder onto measure's rungs, and picks the targets
// each scenario is judged against.
func ladderTargets(l *scenarios.Ladder, rung string) ([]measure.Rung, map[scenarios.Disruption]measure.Targets, error) {
	var rungs []measure.Rung
	var names []string
	var chosen map[scenarios.Disruption]measure.Targets
	for _, r := range l.Rungs {
		t := map[measure.DisruptionType]measure.Targets{}
		byDisruption := map[scenarios.Disruption]measure.Targets{}
		for d, o := range r.Targets {
			mt := measure.Targets{RTO: new(o.RTO), RPOWrites: o.RPO.Writes, RPOTime: o.RPO.Time}
			t[measure.DisruptionType(d)] = mt
			byDisruption[d] = mt
		}
		rungs = append(rungs, measure.Rung{Name: r.Name, Targets: t})
		names = append(names, r.Name)
		if r.Name == rung || rung == "" {
			chosen = byDisruption // the last one wins when no rung is named: the strictest
		}
	}
	if rung != "" && !slices.Contains(names, rung) {
		return nil, nil, fmt.Errorf("ladder %s has no rung %q (it has %s)", l.Name, rung, strings.Join(names, ", "))
	}
	return rungs, chosen, nil
}

func (r *Runner) baseline() time.Duration {
	if r.opts.Baseline > 0 {
		return r.opts.Baseline
	}
	return 2 * time.Second
}

func (r *Runner) pollEvery() time.Duration {
	if r.opts.PollEvery > 0 {
		return r.opts.PollEvery
	}
	return 200 * time.Millisecond
}
