package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/logging"
)

// Lab is one local lab.
type Lab struct {
	Options
	out io.Writer // progress for the user
}

// New returns the lab the options describe; nothing is started.
func New(o Options, out io.Writer) *Lab {
	if out == nil {
		out = io.Discard
	}
	return &Lab{Options: o, out: out}
}

func (l *Lab) say(format string, a ...any) { fmt.Fprintf(l.out, format+"\n", a...) }

// Up starts the lab, or the parts of it that are not running: the control
// plane, then the node agent, then waits until every node is Ready. It is
// idempotent: on a lab that is up it changes nothing.
func (l *Lab) Up(ctx context.Context) error {
	start := time.Now()
	if err := l.Validate(); err != nil {
		return err
	}
	if err := Preflight(l.Options); err != nil {
		return err
	}
	run, up := l.Running()
	cfg, err := agent.LoadConfig(l.Dir())
	switch {
	case up && (run.Nodes != l.Nodes || run.Zones != l.Zones || run.Region != l.Region):
		return fmt.Errorf("lab %q is up with %d nodes over %d zones in region %s; run `rebound lab down --name %s` first to change its shape or region", l.Name, run.Nodes, run.Zones, run.Region, l.Name)
	case err == nil && cfg.Net != l.NetPlan():
		return fmt.Errorf("lab %q is up with pods in %s and Services in %s; run `rebound lab down` first to change its ranges", l.Name, cfg.Net.PodCIDR, cfg.Net.ServiceCIDR)
	case err != nil:
		// A new lab: its ranges must not meet the machine's.
		if err := CheckRanges(l.Options); err != nil {
			return err
		}
		// Labs side by side (a DR region) need loopback ranges of their
		// own, labs of other state folders included, which Preflight
		// does not see.
		if addr := l.NetworkInUse(); addr != "" {
			return fmt.Errorf("%w: lab %q would use the loopback network %s, where something already listens (%s: another lab whose name hashes alike?); choose another --name", ErrNotReady, l.Name, l.Network(), addr)
		}
	}
	if err := os.MkdirAll(l.Dir(), 0o755); err != nil {
		return err
	}
	if err := labnet.Up(labnet.Network{Lab: l.Name, Plan: l.NetPlan()}); err != nil {
		return fmt.Errorf("the lab's network: %w", err)
	}
	if err := l.ensureControlPlane(ctx); err != nil {
		return err
	}
	cfg = l.agentConfig()
	if err := cfg.Save(); err != nil {
		return err
	}
	if err := l.ensureAgent(ctx); err != nil {
		return err
	}
	if err := l.waitNodesReady(ctx, 90*time.Second); err != nil {
		return err
	}
	if err := l.waitAddons(ctx, 60*time.Second); err != nil {
		return err
	}
	l.say("lab %q is up: %d nodes over %d zones in %s (%.1fs)", l.Name, l.Nodes, l.Zones, l.Region, time.Since(start).Seconds())
	l.say("kubeconfig: %s", l.Kubeconfig())
	return nil
}

func (l *Lab) agentConfig() *agent.Config {
	net := l.Network()
	base := net.Addr().As4()
	plan := l.NetPlan()
	cfg := &agent.Config{
		Name: l.Name, StateDir: l.Dir(), Kubeconfig: l.Kubeconfig(), LabBins: l.BinDir,
		ImagesFile: l.ImagesFile, Net: plan, Timings: agent.DefaultTimings,
	}
	for i := range l.Nodes {
		zone := i % l.Zones
		cfg.Nodes = append(cfg.Nodes, agent.NodeConfig{
			Name: fmt.Sprintf("%s-%d", l.ZoneName(zone), i/l.Zones+1),
			Zone: l.ZoneName(zone), Region: l.Region, InstanceType: l.InstanceType,
			IP:      netip.AddrFrom4([4]byte{base[0], base[1], 0, byte(i + 1)}).String(),
			PodCIDR: plan.NodePodCIDR(i + 1),
		})
	}
	return cfg
}

// ensureAgent starts the node agent unless it answers on its socket.
func (l *Lab) ensureAgent(ctx context.Context) error {
	if _, err := l.client().Nodes(ctx); err == nil {
		return nil
	}
	l.stopAgent() // a stale one that does not answer
	self := l.Binary
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(filepath.Join(l.Dir(), "agent.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, "lab", "agent", "--state-dir", l.Dir())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this command
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start lab node agent: %w", err)
	}
	if err := os.WriteFile(l.agentPidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	l.say("started the lab node agent (pid %d, log %s)", cmd.Process.Pid, filepath.Join(l.Dir(), "agent.log"))
	deadline := time.Now().Add(30 * time.Second)
	defer logging.Heartbeat(ctx, "the lab node agent to answer", 30*time.Second)()
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("the lab node agent exited at start (%v); see %s", err, filepath.Join(l.Dir(), "agent.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := l.client().Nodes(ctx); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the lab node agent does not answer on %s; see %s", filepath.Join(l.Dir(), "agent.sock"), filepath.Join(l.Dir(), "agent.log"))
}

func (l *Lab) agentPidFile() string { return filepath.Join(l.Dir(), "agent.pid") }

// stopAgent ends the agent (which SIGKILLs its pods) and waits for it.
func (l *Lab) stopAgent() {
	data, err := os.ReadFile(l.agentPidFile())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || !isAgent(pid) {
		_ = os.Remove(l.agentPidFile())
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && processAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if processAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = os.Remove(l.agentPidFile())
}

func isAgent(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(cmdline), "lab\x00agent\x00")
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; only its parent's wait is missing.
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// KubeClient returns a client for the lab's API server.
func (l *Lab) KubeClient() (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("lab %q is not up (no kubeconfig at %s): run `rebound lab up`", l.Name, l.Kubeconfig())
	}
	rc.QPS, rc.Burst = 100, 200
	return kubernetes.NewForConfig(rc)
}

func (l *Lab) waitNodesReady(ctx context.Context, timeout time.Duration) error {
	cs, err := l.KubeClient()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	defer logging.Heartbeat(ctx, "every lab node to be Ready", timeout)()
	for {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: agent.LabelLab + "=" + l.Name})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				if NodeReady(&n) {
					ready++
				}
			}
			if ready == l.Nodes {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d lab nodes became Ready in %s (last error: %v); see %s", ready, l.Nodes, timeout, err, filepath.Join(l.Dir(), "agent.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// NodeReady tells whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// IsUp tells whether the lab's state folder exists (it may be half up).
func (l *Lab) IsUp() bool {
	_, err := os.Stat(l.Dir())
	return err == nil
}

var errNotUp = errors.New("lab is not up")
