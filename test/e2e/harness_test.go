package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	_ "github.com/reboundhq/rebound/apps/etcd"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/internal/silentapi"
	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/runner"
	"github.com/reboundhq/rebound/scenarios"
)

// scenarioYAML writes a scenario against the suite's demo etcd app, with a
// short stability window so the suite stays quick.
func scenarioYAML(name, disruption, fault, recovery string) string {
	if recovery == "" {
		recovery = "path: self-heal\n    timeout: 2m"
	}
	return fmt.Sprintf(`apiVersion: rebound.dev/v1alpha1
kind: Scenario
metadata:
  name: %s
spec:
  disruption: %s
  target:
    namespace: %s
    labelSelector:
      matchLabels:
        app.kubernetes.io/name: etcd
    driver: etcd
  fault:
%s
  probes:
    availability:
      stabilityWindow: 3s
  recovery:
    %s
`, name, disruption, demoNamespace, indentLines(fault, "    "), recovery)
}

func indentLines(s, pre string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n")
}

func parseScenarios(t *testing.T, docs ...string) []*scenarios.Scenario {
	t.Helper()
	objs, err := scenarios.Parse("e2e.yaml", []byte(strings.Join(docs, "---\n")))
	if err != nil {
		t.Fatal(err)
	}
	return objs.Scenarios
}

// runScenarios runs scenarios in-process against the suite's lab; with
// tune, a test changes the runner's options (a namespace, a backup engine).
func runScenarios(t *testing.T, ctx context.Context, list []*scenarios.Scenario, tune ...func(*runner.Options)) *reports.Run {
	t.Helper()
	l := labFrom(ctx)
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	ladder, err := scenarios.DefaultLadder()
	if err != nil {
		t.Fatal(err)
	}
	opts := runner.Options{
		Lab: l, OnLab: true, RestConfig: rc, AllowNamespaces: []string{demoNamespace}, Ladder: ladder,
		StateDir: t.TempDir(), Out: testWriter{t},
	}
	for _, f := range tune {
		f(&opts)
	}
	r, err := runner.NewForConfig(opts, list)
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(ctx, runner.NewRunID(), list)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := run.Finalize(time.Now()); err != nil {
		t.Fatal(err)
	}
	return run
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// assertRecovered checks what every self-healing fault on a 3-member etcd
// must show: service back within bound, full redundancy back, and not one
// acknowledged write lost or invented.
func assertRecovered(t *testing.T, s reports.Scenario, maxRTO time.Duration) {
	t.Helper()
	r := s.Result
	if s.Error != "" {
		t.Fatalf("%s could not run: %s", s.Name, s.Error)
	}
	if !r.ServiceRestored || r.RTO == nil {
		t.Fatalf("%s: service not restored: %v", s.Name, r.Verdict.Breaches)
	}
	if r.RTO.Duration() > maxRTO {
		t.Errorf("%s: RTO %s, want at most %s", s.Name, r.RTO.Duration(), maxRTO)
	}
	if !r.RedundancyRestored {
		t.Errorf("%s: full redundancy not restored", s.Name)
	}
	if !r.DataChecked || r.LostCount != 0 || r.UnexpectedCount != 0 {
		t.Errorf("%s: data checked %v, %d lost, %d unexpected: etcd loses no acknowledged write with a quorum", s.Name, r.DataChecked, r.LostCount, r.UnexpectedCount)
	}
	if r.WritesAcked < 100 {
		t.Errorf("%s: only %d writes acknowledged: the write probe did not run", s.Name, r.WritesAcked)
	}
	t.Logf("%s: RTO %s ±%s, full redundancy after %v, %d writes acked, %d lost", s.Name, r.RTO.Duration(), r.RTOResolution, r.TimeToFullRedundancy, r.WritesAcked, r.LostCount)
}

func TestHarnessFaultClasses(t *testing.T) {
	f := features.New("every fault class on the demo etcd app").
		Assess("node faults: stop, drain, taint, and member faults: pod-kill, pause", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run := runScenarios(t, ctx, parseScenarios(t,
				scenarioYAML("node-stop", "node", "kind: node-stop\nleader: true\nduration: 12s", ""),
				scenarioYAML("node-drain", "node", "kind: node-drain\nleader: true\nduration: 10s", ""),
				scenarioYAML("node-taint", "node", "kind: node-taint\nleader: true\nduration: 10s", ""),
				scenarioYAML("pod-kill", "node", "kind: pod-kill\nleader: true", ""),
				scenarioYAML("pause-all", "node", "kind: pause\nduration: 4s", ""),
			))
			for _, s := range run.Scenarios {
				max := 10 * time.Second
				if s.Name == "pause-all" {
					// Every member frozen: the app is down for the pause,
					// and measured RTO must say so.
					max = 8 * time.Second
					if s.Result.RTO != nil && s.Result.RTO.Duration() < 3500*time.Millisecond {
						t.Errorf("pause of 4s measured RTO %s: shorter than the injected outage", s.Result.RTO.Duration())
					}
				}
				assertRecovered(t, s, max)
			}
			return ctx
		}).
		Assess("a slow-onset fault: a pause that starts 12 s after T0 counts in full", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run := runScenarios(t, ctx, parseScenarios(t,
				scenarioYAML("pause-late", "node", "kind: pause\nduration: 4s\nstartAfter: 12s", ""),
			))
			s := run.Scenarios[0]
			assertRecovered(t, s, 20*time.Second)
			// Before issue 8 the quiet 12 s counted as recovery: RTO 0.
			if r := s.Result; r.RTO == nil || r.RTO.Duration() < 16*time.Second {
				t.Errorf("a 4 s pause starting 12 s after T0 measured RTO %v: want at least 16 s", r.RTO)
			}
			// The pause's outage is the last one: it starts at 12 s, less
			// one probe interval (a probe sent just before the pause and
			// caught by it is its first failure). An earlier blip (the app
			// still settling after the scenario before) does not move it.
			if r := s.Result; r.TimeToImpact == nil || len(r.Outages) == 0 || r.Outages[len(r.Outages)-1].Start < 12*time.Second-100*time.Millisecond {
				t.Errorf("time to impact %v, outages %v: want the last outage, the pause's, to start at 12 s (less one probe interval) or later", r.TimeToImpact, r.Outages)
			}
			return ctx
		}).
		Assess("zone and disk faults", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run := runScenarios(t, ctx, parseScenarios(t,
				scenarioYAML("zone-stop", "zone", "kind: zone-stop\nleader: true\nduration: 12s", ""),
				scenarioYAML("zone-partition", "zone", "kind: zone-partition\nleader: true\nduration: 8s", ""),
				scenarioYAML("disk-readonly", "disk", "kind: disk-readonly\npod: etcd-0\nduration: 8s", ""),
				scenarioYAML("disk-fill", "disk", "kind: disk-fill\npod: etcd-1\nduration: 8s", ""),
			))
			for _, s := range run.Scenarios {
				bound := 10 * time.Second
				if s.Name == "zone-partition" {
					// A real partition: connections to the cut-off member
					// stall past the heal (TCP retransmission and gRPC
					// reconnect back-off), so the outage outlasts the 8 s.
					bound = 20 * time.Second
				}
				assertRecovered(t, s, bound)
			}
			return ctx
		}).
		Assess("human error with no backup to restore: the data loss is measured and reported as a breach", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			run := runScenarios(t, ctx, parseScenarios(t,
				scenarioYAML("app-delete", "human-error", "kind: app-delete\nappDelete:\n  prefix: /rebound/", "path: restore\n    timeout: 1m\n  backup:\n    before: true"),
			))
			s := run.Scenarios[0]
			if s.Result.LostCount == 0 {
				t.Errorf("deleting every key lost no acknowledged write: %+v", s.Result)
			}
			if s.Status() == reports.StatusPass || !strings.Contains(strings.Join(s.Result.Verdict.Breaches, ";"), "restore failed") {
				t.Errorf("a human error with nothing to restore must breach saying why; status %s, breaches %v", s.Status(), s.Result.Verdict.Breaches)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// cli runs the rebound binary against the suite's lab.
func cli(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Getenv("REBOUND_BINARY"), args...)
	cmd.Env = append(os.Environ(), "REBOUND_LAB="+labFrom(ctx).Name)
	return cmd
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// startUntilFault starts `rebound run` on a scenario file and returns once
// it printed that the fault is applied.
func startUntilFault(t *testing.T, ctx context.Context, file string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := cli(ctx, "run", "-f", file, "--allow-namespace", demoNamespace, "--no-deploy", "--report-dir", t.TempDir())
	out := &strings.Builder{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	applied := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), ": observe") && !once {
				once = true
				close(applied)
			}
		}
	}()
	select {
	case <-applied:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the fault was not applied in 90s:\n%s", out.String())
	}
	t.Cleanup(func() { pw.Close() })
	return cmd, out
}

func allNodesRunning(t *testing.T, ctx context.Context) bool {
	states, err := labFrom(ctx).NodeStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range states {
		if n.Power != agent.PowerOn {
			return false
		}
	}
	return true
}

func writeScenarioFile(t *testing.T, docs ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scenarios.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHarnessSafety(t *testing.T) {
	longStop := scenarioYAML("long-stop", "node", "kind: node-stop\nleader: true\nduration: 5m", "")
	f := features.New("safety").
		Assess("SIGINT mid-fault rolls everything back and exits 3", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cmd, out := startUntilFault(t, ctx, writeScenarioFile(t, longStop))
			if allNodesRunning(t, ctx) {
				t.Fatal("the fault is not applied")
			}
			_ = cmd.Process.Signal(syscall.SIGINT)
			err := cmd.Wait()
			if code := exitCode(err); code != int(exitcode.Aborted) {
				t.Errorf("exit code %d, want %d (aborted)\n%s", code, exitcode.Aborted, out.String())
			}
			if !allNodesRunning(t, ctx) {
				t.Errorf("a node is still down after SIGINT:\n%s", out.String())
			}
			waitFor(t, ctx, "every node Ready again", 30*time.Second, func() bool {
				for _, n := range []string{"lab-1a-1", "lab-1b-1", "lab-1c-1", "lab-1a-2", "lab-1b-2", "lab-1c-2"} {
					if !nodeReady(t, ctx, n) {
						return false
					}
				}
				return true
			})
			return ctx
		}).
		Assess("kill -9 mid-fault, then rebound cleanup rolls back from the journal", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cmd, _ := startUntilFault(t, ctx, writeScenarioFile(t, longStop))
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if allNodesRunning(t, ctx) {
				t.Fatal("after kill -9 the fault should still be applied: nothing rolled it back")
			}
			out, err := cli(ctx, "cleanup").CombinedOutput()
			if err != nil {
				t.Fatalf("rebound cleanup: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "rolled back") {
				t.Errorf("cleanup did not say what it rolled back:\n%s", out)
			}
			if !allNodesRunning(t, ctx) {
				t.Errorf("a node is still down after cleanup")
			}
			again, err := cli(ctx, "cleanup").CombinedOutput()
			if err != nil || !strings.Contains(string(again), "nothing to clean up") {
				t.Errorf("a second cleanup should find nothing: %v\n%s", err, again)
			}
			return ctx
		}).
		Assess("--dry-run prints every action and changes nothing", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			before := etcdPods(t, ctx, cs)
			file := writeScenarioFile(t, longStop,
				scenarioYAML("drain", "node", "kind: node-drain\nleader: true\nduration: 10s", ""),
				scenarioYAML("wipe", "disk", "kind: disk-wipe\npod: etcd-0", ""),
				scenarioYAML("partition", "zone", "kind: zone-partition\nvia: chaos-mesh\nzone: lab-1a\nduration: 10s", ""),
			)
			out, err := cli(ctx, "run", "-f", file, "--allow-namespace", demoNamespace, "--no-deploy", "--dry-run").CombinedOutput()
			if err != nil {
				t.Fatalf("dry run: %v\n%s", err, out)
			}
			for _, want := range []string{"stop lab node", "cordon node", "wipe the lab volume of pvc data-etcd-0", "kind: NetworkChaos", "undo: start lab node"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("dry run output lacks %q:\n%s", want, out)
				}
			}
			if !allNodesRunning(t, ctx) {
				t.Error("a dry run stopped a node")
			}
			nodes, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			for _, n := range nodes.Items {
				if n.Spec.Unschedulable || hasTaint(&n, "rebound.dev/fault") {
					t.Errorf("a dry run cordoned or tainted node %s", n.Name)
				}
			}
			for name, p := range etcdPods(t, ctx, cs) {
				if before[name] == nil || before[name].UID != p.UID {
					t.Errorf("a dry run replaced pod %s", name)
				}
			}
			return ctx
		}).
		Assess("an invalid spec is refused with file, line and field, and exit code 2", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			bad := strings.Replace(scenarioYAML("bad", "node", "kind: node-stop\nleader: true", ""), "driver: etcd", "driver: etcd\n    drivr: x", 1)
			file := writeScenarioFile(t, bad)
			out, err := cli(ctx, "run", "-f", file, "--allow-namespace", demoNamespace, "--no-deploy").CombinedOutput()
			if code := exitCode(err); code != int(exitcode.InvalidInput) {
				t.Errorf("exit code %d, want %d", code, exitcode.InvalidInput)
			}
			if !strings.Contains(string(out), "scenarios.yaml:13: spec.target.drivr: unknown field; did you mean \"driver\"?") {
				t.Errorf("error does not name file, line and field:\n%s", out)
			}
			out, err = cli(ctx, "run", "-f", writeScenarioFile(t, strings.Replace(longStop, demoNamespace, "kube-system", 1)), "--no-deploy").CombinedOutput()
			if code := exitCode(err); code != int(exitcode.InvalidInput) || !strings.Contains(string(out), "kube-system") {
				t.Errorf("kube-system not refused (exit %d):\n%s", code, out)
			}
			return ctx
		}).
		Assess("an unreachable cluster exits 5 (could not run) within 15 s, naming the server", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// A server that accepts connections and never answers, as a
			// cluster behind a dead VPN does.
			addr := silentapi.Listen(t)
			kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
			kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster: {server: \"https://" + addr +
				"\", insecure-skip-tls-verify: true}\ncontexts:\n- name: silent\n  context: {cluster: silent, user: u}\ncurrent-context: silent\nusers:\n- name: u\n  user: {token: x}\n"
			if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, err := cli(ctx, "run", "--kubeconfig", kubeconfig, "--yes", "--report-dir", t.TempDir()).CombinedOutput()
			took := time.Since(start)
			if code := exitCode(err); code != int(exitcode.NotRun) {
				t.Errorf("exit code %d, want %d (could not run):\n%s", code, exitcode.NotRun, out)
			}
			if took > 15*time.Second {
				t.Errorf("took %s to give up on a cluster that never answers, want under 15 s", took.Round(time.Second))
			}
			if !strings.Contains(string(out), addr) {
				t.Errorf("the error does not name the server that did not answer:\n%s", out)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
