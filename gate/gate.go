package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient/conf"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/logging"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/runner"
	"github.com/reboundhq/rebound/scenarios"

	// The app drivers register themselves, as in the CLI.
	_ "github.com/reboundhq/rebound/apps/elasticsearch"
	_ "github.com/reboundhq/rebound/apps/etcd"
	_ "github.com/reboundhq/rebound/apps/postgres"
)

// Spec is a gate being described: the scenario files to run and what their
// results must show. Its methods return it, to chain; Feature or Run ends
// the chain. A Spec is not safe to change from several goroutines.
type Spec struct {
	files     []string
	expects   []Expectation
	rung      string
	allow     []string
	stateDir  string
	reportDir string
	lab       *lab.Lab
	out       io.Writer
	// runScenarios runs the loaded scenarios on cfg's cluster; tests of
	// this package put a stand-in here.
	runScenarios func(ctx context.Context, cfg *envconf.Config, opts runner.Options, list []*scenarios.Scenario) (*reports.Run, error)
}

// Scenario starts a gate on the scenarios of files: scenario files, or
// folders of them, as `rebound run -f` takes them, read by the strict
// loader (an unknown field is an error naming its file and line). A Ladder
// in the files judges the scenarios; else the built-in default ladder does.
func Scenario(files ...string) *Spec {
	return &Spec{files: files, runScenarios: runOnCluster}
}

// Expect adds expectations every scenario of the gate must meet. With none,
// the gate expects Passes().
func (s *Spec) Expect(e ...Expectation) *Spec {
	s.expects = append(s.expects, e...)
	return s
}

// Rung judges the scenarios against this rung of the ladder instead of
// its strictest (what Passes checks, and what the report shows).
func (s *Spec) Rung(name string) *Spec {
	s.rung = name
	return s
}

// AllowNamespaces limits the gate to these namespaces: a scenario that
// targets another is refused before anything is done. By default the gate
// may act in the namespaces its own scenarios target; kube-system is
// refused whatever this says.
func (s *Spec) AllowNamespaces(ns ...string) *Spec {
	s.allow = append(s.allow, ns...)
	return s
}

// OnLab says the test environment's cluster is this rebound lab: its
// pods are then reached at their own addresses (the lab serves no
// port-forward), and faults that power nodes off, freeze pods or damage
// disks act through it. A gate on the lab needs it.
func (s *Spec) OnLab(l *lab.Lab) *Spec {
	s.lab = l
	return s
}

// StateDir is where the journal of applied faults is kept; by default the
// CLI's, so `rebound cleanup` finds it after a killed test.
func (s *Spec) StateDir(dir string) *Spec {
	s.stateDir = dir
	return s
}

// ReportDir writes every report format (report.json, junit.xml,
// report.html, report.md, …) of the run into dir.
func (s *Spec) ReportDir(dir string) *Spec {
	s.reportDir = dir
	return s
}

// Output sends the runner's progress (phases, faults, verdicts) to w; by
// default Run prints nothing and Feature prints to the test's log.
func (s *Spec) Output(w io.Writer) *Spec {
	s.out = w
	return s
}

// Failure is one reason a gate failed: a scenario that could not run, an
// expectation it did not meet, or a run-wide problem (Scenario empty).
type Failure struct {
	Scenario    string
	Expectation string // empty when the scenario could not run
	// Reason is what was measured instead, and Rebound what rebound found:
	// its verdict, breaches and notes.
	Reason  string
	Rebound string
}

func (f Failure) Error() string {
	var b strings.Builder
	if f.Scenario != "" {
		b.WriteString("scenario " + f.Scenario + ": ")
	}
	if f.Expectation != "" {
		b.WriteString("expected " + f.Expectation + ": ")
	}
	b.WriteString(f.Reason)
	if f.Rebound != "" {
		b.WriteString("\n    rebound: " + f.Rebound)
	}
	return b.String()
}

// Result is a finished gate: the run as rebound reports it, and every
// reason the gate failed (none when it passed).
type Result struct {
	Run      *reports.Run
	Failures []Failure
}

// Passed tells whether the gate passed.
func (r *Result) Passed() bool { return len(r.Failures) == 0 }

// Feature is the gate as an e2e-framework feature: one assessment that
// runs the scenarios on the environment's cluster and fails the test with
// each Failure, then prints rebound's table to the test log.
func (s *Spec) Feature() features.Feature {
	name := "rebound gate: " + strings.Join(s.files, ", ")
	return features.New(name).
		Assess("the scenarios meet their expectations", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			t.Helper()
			spec := *s
			if spec.out == nil {
				spec.out = t.Output()
			}
			if !logging.Carried(ctx) {
				ctx = logging.NewContext(ctx, slog.New(slog.NewTextHandler(t.Output(), nil)))
			}
			res, err := spec.Run(ctx, cfg)
			if err != nil {
				t.Fatalf("rebound gate: %v", err)
			}
			if err := reports.WriteTable(t.Output(), res.Run, reports.TableOptions{}); err != nil {
				t.Logf("rebound table: %v", err)
			}
			for _, f := range res.Failures {
				t.Errorf("rebound gate: %v", f)
			}
			return ctx
		}).Feature()
}

// Run loads the scenarios, runs them on cfg's cluster and judges the
// result. Its error is a gate that could not be judged at all (a bad
// scenario file, a cluster that cannot be reached, a refused namespace);
// everything else — a scenario in ERROR, an abort, an unmet expectation —
// is a Failure in the Result.
func (s *Spec) Run(ctx context.Context, cfg *envconf.Config) (*Result, error) {
	if len(s.files) == 0 {
		return nil, errors.New("no scenario file: name one, as in gate.Scenario(\"scenarios/primary-loss.yaml\")")
	}
	var list []*scenarios.Scenario
	var ladder *scenarios.Ladder
	for _, f := range s.files {
		objs, err := scenarios.Load(f)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", f, err)
		}
		list = append(list, objs.Scenarios...)
		if ladder == nil && len(objs.Ladders) > 0 {
			ladder = objs.Ladders[0]
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no Scenario in it", strings.Join(s.files, ", "))
	}
	if ladder == nil {
		l, err := scenarios.DefaultLadder()
		if err != nil {
			return nil, err
		}
		ladder = l
	}
	allow := s.allow
	if len(allow) == 0 {
		for _, sc := range list {
			if !slices.Contains(allow, sc.Target.Namespace) {
				allow = append(allow, sc.Target.Namespace)
			}
		}
	}
	stateDir := s.stateDir
	if stateDir == "" {
		stateDir = lab.DefaultOptions().StateDir
	}
	opts := runner.Options{
		Kubeconfig: cfg.KubeconfigFile(), Context: cfg.KubeContext(),
		Lab: s.lab, OnLab: s.lab != nil, Yes: true,
		AllowNamespaces: allow, Ladder: ladder, Rung: s.rung, StateDir: stateDir,
		Out: s.out, Log: logging.FromContext(ctx),
	}
	if err := runner.CheckSafety(opts, list); err != nil {
		return nil, err
	}
	run, err := s.runScenarios(ctx, cfg, opts, list)
	// An aborted run is a result (a Failure below); any other error left
	// nothing to judge.
	if run == nil || (err != nil && !errors.Is(err, runner.ErrAborted)) {
		return nil, err
	}
	if err := run.Finalize(time.Now().UTC()); err != nil {
		return nil, err
	}
	if s.reportDir != "" {
		if _, err := reports.WriteAll(s.reportDir, run); err != nil {
			return nil, err
		}
	}
	return &Result{Run: run, Failures: judge(run, list, s.expects)}, nil
}

// judge lists every reason the gate fails: run-wide ones first, then per
// scenario in the order they were asked for.
func judge(run *reports.Run, asked []*scenarios.Scenario, expects []Expectation) []Failure {
	var out []Failure
	if run.Aborted {
		out = append(out, Failure{Reason: "the run was aborted and rolled back: " + run.AbortReason})
	}
	if len(run.CleanupIncomplete) > 0 {
		out = append(out, Failure{Reason: "cleanup incomplete, run `rebound cleanup`: " + strings.Join(run.CleanupIncomplete, "; ")})
	}
	if len(expects) == 0 {
		expects = []Expectation{Passes()}
	}
	for _, a := range asked {
		i := slices.IndexFunc(run.Scenarios, func(s reports.Scenario) bool { return s.Name == a.Name })
		if i < 0 {
			out = append(out, Failure{Scenario: a.Name, Reason: "did not run"})
			continue
		}
		sc := &run.Scenarios[i]
		if sc.Status() == reports.StatusError {
			out = append(out, Failure{Scenario: sc.Name, Reason: "could not run: " + sc.Error})
			continue
		}
		for _, e := range expects {
			if err := e.Check(run, sc); err != nil {
				out = append(out, Failure{Scenario: sc.Name, Expectation: e.String(), Reason: err.Error(), Rebound: summary(sc)})
			}
		}
	}
	return out
}

// runOnCluster runs the scenarios in-process on the cluster cfg reaches
// (its kubeconfig file, or in-cluster config when it names none).
func runOnCluster(ctx context.Context, cfg *envconf.Config, opts runner.Options, list []*scenarios.Scenario) (*reports.Run, error) {
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("reach the test environment's cluster (kubeconfig %q, context %q): %w", cfg.KubeconfigFile(), cfg.KubeContext(), err)
	}
	opts.RestConfig = rc
	r, err := runner.NewForConfig(opts, list)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, runner.NewRunID(), list)
}

// restConfig is how the environment reaches its cluster: the client it
// was given, else its kubeconfig file and context (in-cluster config when
// it names no file).
func restConfig(cfg *envconf.Config) (*rest.Config, error) {
	if c := cfg.GetClient(); c != nil {
		return c.RESTConfig(), nil
	}
	if cfg.KubeContext() != "" {
		return conf.NewWithContextName(cfg.KubeconfigFile(), cfg.KubeContext())
	}
	c, err := cfg.NewClient()
	if err != nil {
		return nil, err
	}
	return c.RESTConfig(), nil
}
