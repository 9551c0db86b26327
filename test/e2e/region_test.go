package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/internal/silentapi"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

// drNamespace is where the region tests restore the demo app in the DR lab.
const drNamespace = "rebound-e2e-dr"

const drLabKey ctxKey = iota + 100

// drLabName is the DR lab of the region tests: $REBOUND_E2E_DR_LAB, or the
// suite's lab name with "-dr".
func drLabName() string {
	if n := os.Getenv("REBOUND_E2E_DR_LAB"); n != "" {
		return n
	}
	return suiteLab.Name + "-dr"
}

func drLabFrom(ctx context.Context) *lab.Lab { return ctx.Value(drLabKey).(*lab.Lab) }

// regionLossYAML is a region loss of the suite's demo etcd restored into
// the DR cluster dr (a "lab: …" or "kubeconfig: …" line), from a schedule
// rebound runs every 10 s.
func regionLossYAML(name, dr string) string {
	return fmt.Sprintf(`apiVersion: rebound.dev/v1alpha1
kind: Scenario
metadata:
  name: %s
spec:
  disruption: region
  target:
    namespace: %s
    labelSelector:
      matchLabels:
        app.kubernetes.io/name: etcd
    driver: etcd
  dr:
    %s
    namespace: %s
  fault:
    kind: region-loss
  backup:
    schedule: schedule-e2e-region
    every: 10s
  probes:
    availability:
      stabilityWindow: 3s
  recovery:
    path: restore
    timeout: 5m
`, name, demoNamespace, dr, drNamespace)
}

// runArgs are the flags of a run of the region tests: both namespaces
// allowed, the suite's demo app as it is.
func runArgs(file, reportDir string, extra ...string) []string {
	return append([]string{"run", "-f", file, "--allow-namespace", demoNamespace, "--allow-namespace", drNamespace,
		"--no-deploy", "--report-dir", reportDir, "--format", "json"}, extra...)
}

func namespaceGoneIn(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) bool {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

func namespaceExists(ctx context.Context, cs kubernetes.Interface, ns string) bool {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	return err == nil
}

func TestRegionLoss(t *testing.T) {
	f := features.New("region loss restored into a DR lab").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			o := lab.DefaultOptions()
			o.Name, o.Region, o.Nodes, o.Zones = drLabName(), "lab-2", 3, 3
			o.Binary = os.Getenv("REBOUND_BINARY")
			dr := lab.New(o, os.Stderr)
			_ = dr.Down(ctx) // one left over from an interrupted run
			// As after `export KUBECONFIG=$(rebound lab kubeconfig --path)`:
			// bringing the second lab up must leave the first's kubeconfig
			// pointing at the first.
			t.Setenv("KUBECONFIG", labFrom(ctx).Kubeconfig())
			if err := dr.Up(ctx); err != nil {
				t.Fatalf("bring the DR lab up: %v", err)
			}
			return context.WithValue(ctx, drLabKey, dr)
		}).
		Assess("the DR lab is its own region, with its own zones and addresses", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dr := drLabFrom(ctx)
			if dr.Network() == labFrom(ctx).Network() {
				t.Fatalf("the two labs share the network %s", dr.Network())
			}
			target, err := clientcmd.BuildConfigFromFlags("", labFrom(ctx).Kubeconfig())
			if err != nil {
				t.Fatal(err)
			}
			drConfig, err := clientcmd.BuildConfigFromFlags("", dr.Kubeconfig())
			if err != nil {
				t.Fatal(err)
			}
			if target.Host == drConfig.Host {
				t.Fatalf("the target lab's kubeconfig names the DR lab's API server %s: bringing the DR lab up rewrote it", drConfig.Host)
			}
			cs, err := dr.KubeClient()
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range nodes.Items {
				if n.Labels["topology.kubernetes.io/region"] != "lab-2" || !strings.HasPrefix(n.Labels["topology.kubernetes.io/zone"], "lab-2") {
					t.Errorf("DR node %s: region %q zone %q, want region lab-2 and a lab-2 zone", n.Name, n.Labels["topology.kubernetes.io/region"], n.Labels["topology.kubernetes.io/zone"])
				}
			}
			return ctx
		}).
		Assess("a DR target outside the allowlist, or the target's own cluster, is refused before anything is touched", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			file := writeScenarioFile(t, regionLossYAML("region-loss", "lab: "+drLabFrom(ctx).Name))
			out, err := cli(ctx, "run", "-f", file, "--allow-namespace", demoNamespace, "--no-deploy", "--report-dir", t.TempDir()).CombinedOutput()
			if code := exitCode(err); code != int(exitcode.InvalidInput) || !strings.Contains(string(out), "spec.dr") || !strings.Contains(string(out), "--allow-namespace "+drNamespace) {
				t.Errorf("exit %d, want %d naming spec.dr and the fix --allow-namespace %s:\n%s", code, exitcode.InvalidInput, drNamespace, out)
			}
			same := writeScenarioFile(t, regionLossYAML("region-loss", "lab: "+labFrom(ctx).Name))
			out, err = cli(ctx, runArgs(same, t.TempDir())...).CombinedOutput()
			if code := exitCode(err); code != int(exitcode.InvalidInput) || !strings.Contains(string(out), "the target's own cluster") {
				t.Errorf("DR = the target's lab: exit %d, want %d naming the target's own cluster:\n%s", code, exitcode.InvalidInput, out)
			}
			if !allNodesRunning(t, ctx) {
				t.Error("a refused run stopped a node")
			}
			drKube, _ := drLabFrom(ctx).KubeClient()
			if !namespaceGoneIn(t, ctx, drKube, drNamespace) {
				t.Errorf("a refused run made namespace %s in the DR lab", drNamespace)
			}
			return ctx
		}).
		Assess("a DR cluster that does not answer, or cannot reach the repository, is an error before the fault", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			silent := filepath.Join(t.TempDir(), "silent.kubeconfig")
			writeKubeconfig(t, silent, "https://"+silentapi.Listen(t))
			file := writeScenarioFile(t, regionLossYAML("region-loss", "kubeconfig: "+silent))
			out, err := cli(ctx, runArgs(file, t.TempDir(), "--yes")...).CombinedOutput()
			if code := exitCode(err); code != int(exitcode.NotRun) || !strings.Contains(string(out), "does not answer, so no fault was injected") {
				t.Errorf("silent DR cluster: exit %d, want %d saying it does not answer:\n%s", code, exitcode.NotRun, out)
			}
			// The DR lab reached through a kubeconfig of its own is, to
			// rebound, a cluster elsewhere: its data movers cannot read a
			// repository that is a path on this machine.
			far := writeScenarioFile(t, regionLossYAML("region-loss", "kubeconfig: "+drLabFrom(ctx).Kubeconfig()))
			reportDir := t.TempDir()
			out, err = cli(ctx, runArgs(far, reportDir, "--yes")...).CombinedOutput()
			if code := exitCode(err); code != int(exitcode.NotRun) || !strings.Contains(string(out), "cannot reach the backup repository") {
				t.Errorf("DR cluster without the repository: exit %d, want %d saying it cannot reach the repository:\n%s", code, exitcode.NotRun, out)
			}
			run := readRunReport(t, reportDir)
			if len(run.Scenarios) != 1 || run.Scenarios[0].Error == "" || len(run.Scenarios[0].Events) != 0 {
				t.Errorf("want one scenario in ERROR with nothing on its timeline (no fault), got %+v", run.Scenarios)
			}
			if !allNodesRunning(t, ctx) {
				t.Error("a run refused before the fault stopped a node")
			}
			return ctx
		}).
		Assess("region loss of the demo etcd, restored into the DR lab: RTO measured, only writes after the cut lost, the copy healthy", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dr := drLabFrom(ctx)
			file := writeScenarioFile(t, regionLossYAML("region-loss", "lab: "+dr.Name))
			reportDir := t.TempDir()
			out, err := cli(ctx, runArgs(file, reportDir)...).CombinedOutput()
			if code := exitCode(err); code != 0 {
				t.Fatalf("rebound run: exit %d, want 0:\n%s", code, out)
			}
			run := readRunReport(t, reportDir)
			if len(run.Scenarios) != 1 {
				t.Fatalf("%d scenarios in the report, want 1", len(run.Scenarios))
			}
			s := run.Scenarios[0]
			r := s.Result
			if s.Error != "" || !r.ServiceRestored || r.RTO == nil || r.RTO.Duration() <= 0 {
				t.Fatalf("want a measured RTO after the region loss, got error %q restored %v rto %v", s.Error, r.ServiceRestored, r.RTO)
			}
			if r.BugCheck != measure.BugCheckMade || r.LostBeforeBackupCount != 0 {
				t.Errorf("bug check %q, %d writes acknowledged before the cut missing; want it made and none missing", r.BugCheck, r.LostBeforeBackupCount)
			}
			if r.ExpectedLossCount == 0 || r.LostCount != r.ExpectedLossCount || r.UnexpectedCount != 0 {
				t.Errorf("lost %d, expected loss %d, unexpected %d: want every lost write acknowledged after the cut (and some, since writes ran between the cut and the fault)", r.LostCount, r.ExpectedLossCount, r.UnexpectedCount)
			}
			if r.TimeToFullRedundancy == nil {
				t.Errorf("the restored copy never reached full redundancy (every member healthy, replicas Ready)")
			}
			clusters := map[string]bool{}
			for _, e := range s.Events {
				clusters[e.Cluster] = true
			}
			if !clusters["lab "+labFrom(ctx).Name] || !clusters["lab "+dr.Name] {
				t.Errorf("the timeline should show both clusters, has %v", clusters)
			}
			t.Logf("region loss: RTO %s, lost %d (expected %d), full redundancy after %s", r.RTO.Duration(), r.LostCount, r.ExpectedLossCount, r.TimeToFullRedundancy.Duration())
			if !allNodesRunning(t, ctx) {
				t.Error("the lost region's nodes were not started again")
			}
			drKube, _ := dr.KubeClient()
			waitFor(t, ctx, "the DR copy deleted", 2*time.Minute, func() bool { return namespaceGoneIn(t, ctx, drKube, drNamespace) })
			waitFor(t, ctx, "the demo app healthy again in the target lab", 3*time.Minute, func() bool {
				sts, err := kube(t, ctx).AppsV1().StatefulSets(demoNamespace).Get(ctx, "etcd", metav1.GetOptions{})
				return err == nil && sts.Status.ReadyReplicas == 3
			})
			return ctx
		}).
		Assess("kill -9 mid-restore, then rebound cleanup restores both clusters", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dr := drLabFrom(ctx)
			drKube, _ := dr.KubeClient()
			file := writeScenarioFile(t, regionLossYAML("region-loss-killed", "lab: "+dr.Name))
			cmd := cli(ctx, runArgs(file, t.TempDir())...)
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "the restore to make the copy's namespace in the DR lab", 3*time.Minute, func() bool {
				return namespaceExists(ctx, drKube, drNamespace)
			})
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if allNodesRunning(t, ctx) {
				t.Fatalf("after kill -9 the region should still be down:\n%s", out)
			}
			clean, err := cli(ctx, "cleanup").CombinedOutput()
			if err != nil {
				t.Fatalf("rebound cleanup: %v\n%s", err, clean)
			}
			for _, want := range []string{"stop every node of lab " + labFrom(ctx).Name, "the app's copy restored into namespace " + drNamespace} {
				if !strings.Contains(string(clean), want) {
					t.Errorf("cleanup output does not mention %q:\n%s", want, clean)
				}
			}
			if !allNodesRunning(t, ctx) {
				t.Errorf("a node of the target lab is still down after cleanup:\n%s", clean)
			}
			waitFor(t, ctx, "the DR copy deleted by cleanup", 2*time.Minute, func() bool { return namespaceGoneIn(t, ctx, drKube, drNamespace) })
			again, err := cli(ctx, "cleanup").CombinedOutput()
			if err != nil || !strings.Contains(string(again), "nothing to clean up") {
				t.Errorf("a second cleanup should find nothing: %v\n%s", err, again)
			}
			waitFor(t, ctx, "the demo app healthy again in the target lab", 3*time.Minute, func() bool {
				sts, err := kube(t, ctx).AppsV1().StatefulSets(demoNamespace).Get(ctx, "etcd", metav1.GetOptions{})
				return err == nil && sts.Status.ReadyReplicas == 3
			})
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dr := drLabFrom(ctx)
			out, err := cli(ctx, "lab", "down", "--name", dr.Name).CombinedOutput()
			if err != nil {
				t.Errorf("lab down --name %s: %v\n%s", dr.Name, err, out)
			}
			if left := dr.Leftovers(); len(left) > 0 {
				t.Errorf("lab down --name %s left behind: %v", dr.Name, left)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func readRunReport(t *testing.T, dir string) *reports.Run {
	t.Helper()
	fh, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("the run wrote no report.json: %v", err)
	}
	defer fh.Close()
	run, err := reports.ReadJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// writeKubeconfig writes a kubeconfig whose one context, "silent", points
// at server.
func writeKubeconfig(t *testing.T, path, server string) {
	t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: silent
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: silent
  user:
    token: nothing
contexts:
- name: silent
  context:
    cluster: silent
    user: silent
current-context: silent
`, server)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is an io.Writer a command's output goes to while a test reads
// it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
