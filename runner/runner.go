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
)

// ErrAborted is a run stopped by a signal, an abort condition or a phase
// timeout; every fault it applied was rolled back (or CleanupIncomplete says
// what was not).
var ErrAborted = errors.New("run aborted")

// ErrRefused is a scenario the safety rules refuse to run.
var ErrRefused = errors.New("refused")

// BackupEngine takes and restores the backups scenarios ask for. The runner
// works without one; a restore scenario then breaches and says why.
type BackupEngine interface {
	// Backup takes a backup of the target app and returns its id and the
	// instant of its consistent cut.
	Backup(ctx context.Context, t *Target) (id string, cut time.Time, err error)
	// Restore restores backup id into the target's namespace and returns
	// once the app is Ready and healthy again.
	Restore(ctx context.Context, t *Target, id string) error
	// Latest finds the newest backup of the target's namespace carrying
	// tag (a schedule's) whose cut is before the instant given, for
	// scenarios that restore what a schedule running during the game day
	// took.
	Latest(ctx context.Context, t *Target, tag string, before time.Time) (id string, cut time.Time, err error)
}

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
	// CloudSecret names the Secret for Chaos Mesh's cloud node power.
	CloudSecret string
	Live        *reports.Live
	Marks       <-chan string
	Out         io.Writer
	Log         *slog.Logger
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
	// failedRecovery holds, by scenario, why its recovery path failed.
	failedRecovery map[string]string
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
	r := &Runner{opts: opts, kube: kube, dynamic: dyn, targets: map[scenarios.Disruption]measure.Targets{}, failedRecovery: map[string]string{}}
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
// cluster that is not the lab without --yes.
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
