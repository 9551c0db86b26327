package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/drill"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
)

func TestClusterFromScenarios(t *testing.T) {
	t.Parallel()
	sc := func(kc, ctx string) *scenarios.Scenario {
		return &scenarios.Scenario{Name: "s-" + ctx, Target: scenarios.Target{Kubeconfig: kc, Context: ctx}}
	}
	f := &flags{}
	if err := clusterFromScenarios(f, []*scenarios.Scenario{sc("", ""), sc("/k", "aks"), sc("/k", "aks")}); err != nil {
		t.Fatal(err)
	}
	if f.kubeconfig != "/k" || f.kubeContext != "aks" {
		t.Errorf("cluster from the scenarios = %q %q, want /k aks", f.kubeconfig, f.kubeContext)
	}
	f = &flags{}
	err := clusterFromScenarios(f, []*scenarios.Scenario{sc("/k", "aks"), sc("/k", "eks")})
	if err == nil || !strings.Contains(err.Error(), "one run acts on one cluster") {
		t.Errorf("two clusters in one run: %v", err)
	}
	f = &flags{kubeconfig: "/flag"}
	if err := clusterFromScenarios(f, []*scenarios.Scenario{sc("/k", "")}); err == nil {
		t.Error("a scenario naming another kubeconfig than --kubeconfig was accepted")
	}
	f = &flags{}
	if err := clusterFromScenarios(f, []*scenarios.Scenario{sc("", "")}); err != nil || f.kubeconfig != "" {
		t.Errorf("no cluster named: the lab (kubeconfig %q, err %v)", f.kubeconfig, err)
	}
}

// TestOutcome holds `rebound run` to the exit code contract: 1 only when
// every scenario ran and one breached; a scenario in ERROR (it could not
// run, e.g. its fault never took effect) is NotRun and outranks a breach.
func TestOutcome(t *testing.T) {
	t.Parallel()
	pass := reports.Scenario{Name: "pass", Result: measure.Result{Verdict: measure.Verdict{Pass: true}}}
	breach := reports.Scenario{Name: "breach", Result: measure.Result{Verdict: measure.Verdict{Breaches: []string{"RTO 90s > 60s"}}}}
	bug := reports.Scenario{Name: "bug", Result: measure.Result{Verdict: measure.Verdict{Bug: true}}}
	broken := reports.Scenario{Name: "broken", Error: "fault never took effect: PodChaos not injected"}
	for _, tc := range []struct {
		name string
		list []reports.Scenario
		want exitcode.Code
		says []string
	}{
		{"every target met", []reports.Scenario{pass, pass}, exitcode.OK, nil},
		{"a breach", []reports.Scenario{pass, breach}, exitcode.Breached, []string{"breach (BREACH)"}},
		{"a bug", []reports.Scenario{bug}, exitcode.Breached, []string{"bug (BUG)"}},
		{"a scenario that could not run", []reports.Scenario{pass, broken}, exitcode.NotRun, []string{"broken (fault never took effect"}},
		{"not run outranks breached", []reports.Scenario{breach, broken}, exitcode.NotRun, []string{"could not run: broken", "targets not met: breach (BREACH)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := outcome(tc.list)
			if got := exitcode.Of(err); got != tc.want {
				t.Errorf("exit code = %d (%v), want %d", got, err, tc.want)
			}
			for _, s := range tc.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error %v does not say %q", err, s)
				}
			}
		})
	}
}

// TestSelectDrills: the Drill documents of -f files are selected beside
// the scenarios, and --scenario picks them by name.
func TestSelectDrills(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "drills.yaml")
	doc := `apiVersion: rebound.dev/v1alpha1
kind: Drill
metadata:
  name: %s
spec:
  backup: latest
`
	if err := os.WriteFile(file, []byte(fmt.Sprintf(doc, "nightly")+"---\n"+fmt.Sprintf(doc, "weekly")), 0o644); err != nil {
		t.Fatal(err)
	}
	sel, err := selectScenarios(&flags{files: []string{file}, gameday: scenarios.DefaultGameDayName})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.list) != 0 || len(sel.drills) != 2 || sel.ladder == nil {
		t.Errorf("selected %d scenarios and %d drills (ladder %v), want the 2 drills and the default ladder", len(sel.list), len(sel.drills), sel.ladder)
	}
	sel, err = selectScenarios(&flags{files: []string{file}, gameday: scenarios.DefaultGameDayName, scenarioNames: []string{"weekly"}})
	if err != nil || len(sel.drills) != 1 || sel.drills[0].Name != "weekly" {
		t.Errorf("--scenario weekly picked %+v, %v", sel, err)
	}
	_, err = selectScenarios(&flags{files: []string{file}, gameday: scenarios.DefaultGameDayName, scenarioNames: []string{"monthly"}})
	if err == nil || !strings.Contains(err.Error(), "weekly (drill)") {
		t.Errorf("--scenario of no such name: %v, want the drills named", err)
	}
}

// drillRunStandIn stands in for drill.Run: it records the options each
// drill ran with and returns the report or error given for its backup.
type drillRunStandIn struct {
	got     []drill.Options
	results map[string]*reports.Scenario
}

func (d *drillRunStandIn) run(_ context.Context, o drill.Options) (*reports.Scenario, error) {
	d.got = append(d.got, o)
	key := o.Backup
	if key == "" {
		key = "take"
	}
	sc, ok := d.results[key]
	if !ok {
		return nil, fmt.Errorf("%w: no backup %s", drill.ErrNoBackup, key)
	}
	c := *sc
	return &c, nil
}

// TestRunDrills: `rebound run` runs each Drill document through the drill
// path with options built from the document and the run, and reports it
// as a scenario whose status counts for the exit code.
func TestRunDrills(t *testing.T) {
	t.Parallel()
	rto := time.Minute
	take := &scenarios.Drill{Name: "take", Backup: "take", Timeout: time.Minute, Probes: 5, RTO: &rto,
		Target: &scenarios.Target{Namespace: "rebound-demo", Driver: "etcd",
			LabelSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "etcd"}}}}
	latest := &scenarios.Drill{Name: "latest", Backup: "latest", Timeout: time.Minute, Probes: 100}
	missing := &scenarios.Drill{Name: "missing", Backup: "abcdef", Timeout: time.Minute, Probes: 100}
	verified := &reports.Scenario{Name: "drill-1a2b3c4d", Result: measure.Result{Verdict: measure.Verdict{Pass: true, Breaches: []string{}}}, Drill: &reports.Drill{}}
	slow := &reports.Scenario{Name: "drill-5e6f7a8b", Result: measure.Result{Verdict: measure.Verdict{Breaches: []string{"time to a verified copy 90s > 60s"}}},
		Drill: &reports.Drill{Cleanup: "namespace rebound-drill-x not deleted"}}
	base := drill.Options{AllowNamespaces: []string{"rebound-demo"}, OnLab: true, ClusterName: "lab rebound"}

	for _, tc := range []struct {
		name      string
		drills    []*scenarios.Drill
		want      exitcode.Code
		cleanup   int
		wantNames []string
	}{
		{"verified", []*scenarios.Drill{take}, exitcode.OK, 0, []string{"take"}},
		{"a check failed", []*scenarios.Drill{take, latest}, exitcode.Breached, 1, []string{"take", "latest"}},
		{"could not run", []*scenarios.Drill{take, missing}, exitcode.NotRun, 0, []string{"take", "missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			standIn := &drillRunStandIn{results: map[string]*reports.Scenario{"take": verified, "latest": slow}}
			run := &reports.Run{ID: "r", StartedAt: time.Now().UTC(), Ladder: "default"}
			if err := runDrills(context.Background(), base, tc.drills, run, standIn.run); err != nil {
				t.Fatal(err)
			}
			if len(standIn.got) != len(tc.drills) {
				t.Fatalf("drill path called %d times, want %d", len(standIn.got), len(tc.drills))
			}
			o := standIn.got[0]
			if o.Backup != "" || o.Take.Namespace != "rebound-demo" || o.Take.Driver != "etcd" || o.Probes != 5 || o.RTO == nil || *o.RTO != rto || o.ClusterName != "lab rebound" {
				t.Errorf("options of drill take = %+v, want the document's app, probes and RTO on the run's cluster", o)
			}
			var names []string
			for _, sc := range run.Scenarios {
				names = append(names, sc.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") {
				t.Errorf("reported %v, want %v", names, tc.wantNames)
			}
			if len(run.CleanupIncomplete) != tc.cleanup {
				t.Errorf("cleanup incomplete = %v, want %d entries", run.CleanupIncomplete, tc.cleanup)
			}
			if err := run.Finalize(time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
			if got := exitcode.Of(outcome(run.Scenarios)); got != tc.want {
				t.Errorf("exit code = %d, want %d", got, tc.want)
			}
			// Every report format shows each drill, beside the ladder it
			// is not ranked on.
			files, err := reports.WriteAll(t.TempDir(), run, reports.Formats()...)
			if err != nil {
				t.Fatal(err)
			}
			for _, file := range files {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range tc.wantNames {
					if !strings.Contains(string(data), name) {
						t.Errorf("%s does not show drill %s", filepath.Base(file), name)
					}
				}
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run := &reports.Run{ID: "r", StartedAt: time.Now().UTC()}
	if err := runDrills(ctx, base, []*scenarios.Drill{take}, run, (&drillRunStandIn{}).run); !errors.Is(err, context.Canceled) || len(run.Scenarios) != 0 {
		t.Errorf("interrupted run: %v with %d reports, want context.Canceled and no drill run", err, len(run.Scenarios))
	}
}
