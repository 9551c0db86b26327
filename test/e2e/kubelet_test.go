package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/reports"
)

// kubeletNamespace holds the shell pods of the kubelet API test.
const kubeletNamespace = "rebound-e2e-kubelet"

// testImages is the e2e lab's image mapping (the suite's lab is brought up
// with it): rebound.test/shell runs the machine's /bin/sh.
const testImages = "testdata/images.yaml"

// shellPod is a pod of the test image running script with /bin/sh -c.
func shellPod(name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: kubeletNamespace},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "sh", Image: "rebound.test/shell", Args: []string{"-c", script},
				VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
			}},
			Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// kubectl runs the lab's kubectl against the lab with stdin, and returns its
// stdout, stderr and exit code.
func kubectl(t *testing.T, ctx context.Context, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := kubectlCmd(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func kubectlCmd(ctx context.Context, args ...string) *exec.Cmd {
	l := labFrom(ctx)
	cmd := exec.CommandContext(ctx, filepath.Join(l.BinDir, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+l.Kubeconfig())
	return cmd
}

// TestKubeletAPI runs kubectl logs, exec and port-forward against lab pods,
// through the API server and the node agent's kubelet API, and a scenario
// whose runner reaches the demo etcd through port-forwards.
func TestKubeletAPI(t *testing.T) {
	f := features.New("the kubelet API of lab nodes").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kubeletNamespace}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			runAs := shellPod("runas", `sleep 3600`)
			runAs.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](4321), RunAsGroup: ptr.To[int64](4322)}
			runAs.Spec.Containers[0].WorkingDir = "/scratch"
			for _, p := range []*corev1.Pod{
				runAs,
				shellPod("ticker", `hostname > /scratch/who; i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.2; done`),
				// Each run counts itself in the emptyDir, which outlives restarts.
				shellPod("crasher", `n=$(($(cat /scratch/n 2>/dev/null || echo 0)+1)); echo $n > /scratch/n; echo "run $n"; sleep 1; exit 3`),
			} {
				if _, err := cs.CoreV1().Pods(kubeletNamespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, ctx, "pod ticker running", time.Minute, func() bool {
				p, err := cs.CoreV1().Pods(kubeletNamespace).Get(ctx, "ticker", metav1.GetOptions{})
				return err == nil && p.Status.Phase == corev1.PodRunning
			})
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			deleteNamespace(t, ctx, kube(t, ctx), kubeletNamespace)
			return ctx
		}).
		Assess("kubectl logs and logs --tail show what the container wrote", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			waitFor(t, ctx, "ticker's first lines", 30*time.Second, func() bool {
				out, _, _ := kubectl(t, ctx, "", "-n", kubeletNamespace, "logs", "ticker")
				return strings.HasPrefix(out, "tick 0\ntick 1\ntick 2\n")
			})
			out, errs, code := kubectl(t, ctx, "", "-n", kubeletNamespace, "logs", "ticker", "--tail", "2")
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "tick ") {
				t.Errorf("kubectl logs --tail 2: exit %d, %q (stderr %q), want two tick lines", code, out, errs)
			}
			return ctx
		}).
		Assess("kubectl logs -f streams new lines as they are written", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			sc, errb, stop := streamKubectl(t, ctx, time.Minute, "-n", kubeletNamespace, "logs", "-f", "ticker", "--tail", "1")
			defer stop()
			var nums []int
			for len(nums) < 5 && sc.Scan() {
				n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "tick "))
				if err != nil {
					t.Fatalf("kubectl logs -f printed %q", sc.Text())
				}
				nums = append(nums, n)
			}
			if len(nums) < 5 {
				t.Fatalf("kubectl logs -f ended after %v: %v %s", nums, sc.Err(), errb.String())
			}
			// The first is the tail; the four after it were written while following.
			for i := 1; i < len(nums); i++ {
				if nums[i] != nums[i-1]+1 {
					t.Errorf("kubectl logs -f printed ticks %v, want consecutive ones", nums)
				}
			}
			return ctx
		}).
		Assess("kubectl logs --previous shows the run before the last restart", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			waitFor(t, ctx, "crasher restarted twice", 2*time.Minute, func() bool {
				p, err := cs.CoreV1().Pods(kubeletNamespace).Get(ctx, "crasher", metav1.GetOptions{})
				return err == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 2
			})
			prevOut, errs, code := kubectl(t, ctx, "", "-n", kubeletNamespace, "logs", "crasher", "--previous")
			curOut, _, _ := kubectl(t, ctx, "", "-n", kubeletNamespace, "logs", "crasher")
			run := regexp.MustCompile(`^run (\d+)\n$`)
			pm, cm := run.FindStringSubmatch(prevOut), run.FindStringSubmatch(curOut)
			if code != 0 || pm == nil || cm == nil {
				t.Fatalf("kubectl logs --previous: exit %d, %q (stderr %q); current: %q; want one run line each", code, prevOut, errs, curOut)
			}
			prev, _ := strconv.Atoi(pm[1])
			cur, _ := strconv.Atoi(cm[1])
			if prev < 1 || prev >= cur {
				t.Errorf("--previous shows run %d and the current log run %d: want an earlier run", prev, cur)
			}
			// A container that never restarted has no previous log.
			_, errs, code = kubectl(t, ctx, "", "-n", kubeletNamespace, "logs", "ticker", "--previous")
			if code == 0 || !strings.Contains(errs, `previous terminated container "sh" in pod "ticker" not found`) {
				t.Errorf("kubectl logs --previous of a container that never restarted: exit %d, %q", code, errs)
			}
			return ctx
		}).
		Assess("kubectl exec runs a command in the container, with its exit code and stdin", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			out, errs, code := kubectl(t, ctx, "", "-n", kubeletNamespace, "exec", "ticker", "--", "sh", "-c", `hostname; echo to-stderr >&2; exit 4`)
			if out != "ticker\n" || !strings.Contains(errs, "to-stderr") || code != 4 {
				t.Errorf("kubectl exec: exit %d, stdout %q, stderr %q; want exit 4, the pod's hostname and the stderr line", code, out, errs)
			}
			out, errs, code = kubectl(t, ctx, "line one\nline two\n", "-n", kubeletNamespace, "exec", "-i", "ticker", "--", "cat")
			if out != "line one\nline two\n" || code != 0 {
				t.Errorf("kubectl exec -i … cat: exit %d, stdout %q, stderr %q; want stdin back", code, out, errs)
			}
			// The container's own files: the emptyDir it mounts at /scratch.
			out, errs, code = kubectl(t, ctx, "", "-n", kubeletNamespace, "exec", "ticker", "--", "cat", "/scratch/who")
			if out != "ticker\n" || code != 0 {
				t.Errorf("kubectl exec ticker -- cat /scratch/who: exit %d, %q (stderr %q): want what the container wrote in its emptyDir", code, out, errs)
			}
			// As the container's user, in its working folder.
			waitFor(t, ctx, "pod runas running", time.Minute, func() bool {
				p, err := kube(t, ctx).CoreV1().Pods(kubeletNamespace).Get(ctx, "runas", metav1.GetOptions{})
				return err == nil && p.Status.Phase == corev1.PodRunning
			})
			out, errs, code = kubectl(t, ctx, "", "-n", kubeletNamespace, "exec", "runas", "--", "sh", "-c", `id -u; id -g; pwd`)
			if out != "4321\n4322\n/scratch\n" || code != 0 {
				t.Errorf("kubectl exec runas -- id: exit %d, %q (stderr %q); want the pod's runAsUser, runAsGroup and the container's workingDir", code, out, errs)
			}
			// A container that is not running has nothing to exec into.
			waitFor(t, ctx, "crasher waiting out a back-off", time.Minute, func() bool {
				p, err := kube(t, ctx).CoreV1().Pods(kubeletNamespace).Get(ctx, "crasher", metav1.GetOptions{})
				return err == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil
			})
			_, errs, code = kubectl(t, ctx, "", "-n", kubeletNamespace, "exec", "crasher", "--", "cat", "/scratch/n")
			if code == 0 || !strings.Contains(errs, `container "sh" in pod "crasher" is not running`) {
				t.Errorf("kubectl exec into a container in back-off: exit %d, %q; want it refused as not running", code, errs)
			}
			// The demo etcd, through the image mapping's etcd binary found in $PATH.
			out, errs, code = kubectl(t, ctx, "", "-n", demoNamespace, "exec", "etcd-0", "--", "etcd", "--version")
			if code != 0 || !strings.HasPrefix(out, "etcd Version: ") {
				t.Errorf("kubectl exec etcd-0 -- etcd --version: exit %d, %q (stderr %q)", code, out, errs)
			}
			// A program the image does not hold fails with the reason.
			_, errs, code = kubectl(t, ctx, "", "-n", demoNamespace, "exec", "etcd-0", "--", "sh")
			if code == 0 || !strings.Contains(errs, `executable "sh" is not among the mapped binaries`) {
				t.Errorf("kubectl exec etcd-0 -- sh: exit %d, %q; want the image mapping's refusal", code, errs)
			}
			return ctx
		}).
		Assess("kubectl exec -it gives the command a terminal of the client's size", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			ectx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			cmd := kubectlCmd(ectx, "-n", kubeletNamespace, "exec", "-it", "ticker", "--", "sh")
			term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 101})
			if err != nil {
				t.Fatal(err)
			}
			defer term.Close()
			if _, err := io.WriteString(term, "tty; stty size; echo sum=$((40+2)); exit 5\n"); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			_, _ = io.Copy(&out, term) // until kubectl exits (EIO)
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 5 {
				t.Errorf("kubectl exec -it: %v, want exit code 5", err)
			}
			for _, want := range []string{"/dev/pts/", "33 101", "sum=42"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("kubectl exec -it printed %q, want %q in it", out.String(), want)
				}
			}
			return ctx
		}).
		Assess("kubectl port-forward reaches the demo etcd", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			sc, errb, stop := streamKubectl(t, ctx, 2*time.Minute, "-n", demoNamespace, "port-forward", "--address", "127.0.0.1", "etcd-1", ":2379")
			defer stop()
			fwd := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 2379$`)
			var local string
			for local == "" && sc.Scan() {
				if m := fwd.FindStringSubmatch(sc.Text()); m != nil {
					local = m[1]
				}
			}
			if local == "" {
				t.Fatalf("kubectl port-forward printed no forwarding line: %v %s", sc.Err(), errb.String())
			}
			go func() {
				for sc.Scan() {
				}
			}() // keep draining kubectl's output
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:" + local}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
			defer ocancel()
			key, val := "/rebound-e2e/port-forward", fmt.Sprint(time.Now().UnixNano())
			if _, err := cli.Put(octx, key, val); err != nil {
				t.Fatalf("put through the port-forward: %v (kubectl: %s)", err, errb.String())
			}
			got, err := cli.Get(octx, key)
			if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != val {
				t.Fatalf("get through the port-forward: %v %v", got, err)
			}
			if _, err := cli.Delete(octx, key); err != nil {
				t.Error(err)
			}
			return ctx
		}).
		Assess("a scenario with endpoints mode port-forward runs on the lab", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			agentLog := filepath.Join(labFrom(ctx).Dir(), "agent.log")
			before := fileSize(t, agentLog)
			doc := strings.Replace(scenarioYAML("pod-kill-through-port-forward", "node", "kind: pod-kill\nleader: true", ""),
				"    driver: etcd\n", "    driver: etcd\n    endpoints:\n      mode: port-forward\n", 1)
			if !strings.Contains(doc, "mode: port-forward") {
				t.Fatalf("no endpoints mode in the scenario:\n%s", doc)
			}
			run := runScenarios(t, ctx, parseScenarios(t, doc))
			if len(run.Scenarios) != 1 {
				t.Fatalf("%d scenarios in the report, want 1", len(run.Scenarios))
			}
			s := run.Scenarios[0]
			assertRecovered(t, s, 2*time.Minute)
			if s.Status() != reports.StatusPass {
				t.Errorf("%s: %s, want PASS", s.Name, s.Status())
			}
			// The runner's clients went through the kubelet API's port-forward.
			data, err := os.ReadFile(agentLog)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, line := range strings.Split(string(data[before:]), "\n") {
				if strings.Contains(line, "msg=port-forward ") && strings.Contains(line, " pod="+demoNamespace+"/etcd-") {
					n++
				}
			}
			if n < 3 {
				t.Errorf("the agent served %d port-forwards to the demo etcd during the scenario, want one per member at least", n)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func fileSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// streamKubectl starts a kubectl that keeps running (logs -f,
// port-forward) for at most timeout, and returns its output line by line,
// its standard error, and stop, which ends it and waits.
func streamKubectl(t *testing.T, ctx context.Context, timeout time.Duration, args ...string) (*bufio.Scanner, *bytes.Buffer, func()) {
	t.Helper()
	kctx, cancel := context.WithTimeout(ctx, timeout)
	cmd := kubectlCmd(kctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	errb := &bytes.Buffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return bufio.NewScanner(stdout), errb, func() { cancel(); _ = cmd.Wait() }
}
