package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/lab/agent/podexec"
	"github.com/reboundhq/rebound/lab/agent/podspec"
	"github.com/reboundhq/rebound/lab/labnet"
)

type ctrState int

const (
	ctrNew     ctrState = iota // never started, or due for a start after a failed one
	ctrRunning                 // a process runs (or the container is simulated)
	ctrExited                  // the process ended
	ctrWaiting                 // waiting out a back-off
)

// ctr is one container of a pod and its current process.
type ctr struct {
	w    *podWorker
	spec corev1.Container
	init bool

	mu           sync.Mutex
	simulated    bool
	pid          int
	running      bool
	exited       chan struct{}
	startedAt    time.Time
	terminated   *corev1.ContainerStateTerminated // the last run, when not running
	lastTerm     *corev1.ContainerStateTerminated // the run before a restart
	restartCount int32
	waitReason   string
	waitMsg      string
	nextStart    time.Time
	backoff      time.Duration
	powerKilled  bool // killed by a node stop: restart at once, as after a reboot
	held         bool // held down by a Chaos Mesh pod-failure (chaoshooks.go)
	ready        bool
	started      bool // the startup probe passed (or there is none)
	startCount   int
}

func newCtr(w *podWorker, spec corev1.Container, init bool) *ctr {
	return &ctr{w: w, spec: spec, init: init}
}

func (c *ctr) isSimulated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.simulated
}

func (c *ctr) observe() ctrState {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.running:
		return ctrRunning
	case c.terminated != nil:
		return ctrExited
	case !c.nextStart.IsZero() && time.Now().Before(c.nextStart):
		return ctrWaiting
	}
	return ctrNew
}

func (c *ctr) lastExitCode() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terminated == nil {
		return 0
	}
	return c.terminated.ExitCode
}

// restartWhenDue restarts an exited container once its back-off has passed:
// 1 s doubling to 1 min, reset after a run that lasted BackoffResetTime (the
// kubelet's 1.33+ reduced crash-loop back-off).
func (c *ctr) restartWhenDue(t Timings) {
	c.mu.Lock()
	if c.nextStart.IsZero() {
		ran := c.terminated.FinishedAt.Sub(c.terminated.StartedAt.Time)
		switch {
		case c.powerKilled:
			c.backoff = 0
		case c.backoff == 0 || ran >= t.BackoffResetTime:
			c.backoff = t.InitialBackoff
		default:
			c.backoff = min(2*c.backoff, t.MaxBackoff)
		}
		c.powerKilled = false
		c.nextStart = time.Now().Add(c.backoff)
	}
	if time.Now().Before(c.nextStart) {
		c.waitReason = "CrashLoopBackOff"
		c.waitMsg = fmt.Sprintf("back-off %s restarting failed container=%s", c.backoff, c.spec.Name)
		c.mu.Unlock()
		return
	}
	c.lastTerm, c.terminated = c.terminated, nil
	c.restartCount++
	c.mu.Unlock()
	c.start()
}

// start runs the container's process, or marks it simulated when its image
// maps to nothing.
func (c *ctr) start() {
	w, a := c.w, c.w.a
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextStart = time.Time{}
	pod := w.pod
	proc, err := podspec.Translate(podspec.Input{
		Pod: pod, Container: &c.spec, Images: a.images, LabBins: a.cfg.LabBins, Self: a.self,
		PodIP: w.ip, HostIP: a.nodes[w.nodeName].IP, Volumes: w.volumes, Objects: apiObjects{a},
		APIServerHost: a.apiHost, APIServerPort: a.apiPort,
	})
	if errors.Is(err, podspec.ErrUnmapped) {
		c.simulated, c.running, c.started, c.ready = true, true, true, true
		c.startedAt = time.Now()
		c.waitReason, c.waitMsg = "", ""
		return
	}
	if err == nil {
		err = c.launch(proc)
	}
	if err != nil {
		c.waitReason, c.waitMsg = "CreateContainerConfigError", err.Error()
		var ce *podspec.ConfigError
		if !errors.As(err, &ce) {
			c.waitReason = "RunContainerError"
		}
		c.backoff = min(max(2*c.backoff, a.cfg.InitialBackoff), a.cfg.MaxBackoff)
		c.nextStart = time.Now().Add(c.backoff)
		a.log.Warn("start container", "pod", pod.Namespace+"/"+pod.Name, "container", c.spec.Name, "err", err)
	}
}

// launch starts proc; c.mu is held.
func (c *ctr) launch(proc *podspec.Process) error {
	w, a := c.w, c.w.a
	if err := proc.Missing(func(f string) error { _, err := os.Stat(f); return err }); err != nil {
		return fmt.Errorf("container %q: image %s: %w", c.spec.Name, c.spec.Image, err)
	}
	if err := portsFree(w.netns, w.ip, c.spec.Ports); err != nil {
		return err
	}
	created, err := podexec.EnsureTargets(proc.Mounts)
	a.recordCreated(created)
	if err != nil {
		return err
	}
	env := append(proc.Env, LabEnv+"="+a.cfg.Name)
	cmd, err := podexec.Command(a.self, []string{"lab", "pod-exec"}, podexec.Spec{
		Path: proc.Path, Argv: proc.Argv, Env: env, Dir: proc.Dir, Hostname: proc.Hostname,
		HostsFile:  filepath.Join(a.cfg.PodDir(string(w.uid)), "hosts"),
		ResolvFile: filepath.Join(a.cfg.PodDir(string(w.uid)), "resolv.conf"), Mounts: proc.Mounts,
		Netns: w.netns,
		User:  proc.User, NoNewPrivs: proc.NoNewPrivs, Dirs: proc.Dirs,
	})
	if err != nil {
		return err
	}
	// Each run gets a new log; the one before is kept for --previous.
	logPath := a.cfg.ContainerLog(w.namespace, w.name, c.spec.Name, false)
	if err := os.Rename(logPath, a.cfg.ContainerLog(w.namespace, w.name, c.spec.Name, true)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keep the previous log: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", proc.Path, err)
	}
	c.pid, c.running, c.startedAt = cmd.Process.Pid, true, time.Now()
	c.waitReason, c.waitMsg = "", ""
	c.exited = make(chan struct{})
	c.startCount++
	c.ready = false
	c.started = c.spec.StartupProbe == nil
	// Probers end with this run of the process: the wait below cancels.
	ctx, cancel := context.WithCancel(a.ctx)
	c.startProbers(ctx, c.startCount)
	a.log.Info("container started", "pod", w.namespace+"/"+w.name, "container", c.spec.Name, "pid", c.pid, "ip", w.ip,
		"restart", c.restartCount, "path", proc.Path, "argv", proc.Argv)
	exited := c.exited
	go func() {
		err := cmd.Wait()
		logf.Close()
		code, reason, signal := int32(0), "Completed", ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code, signal = 128+int32(ws.Signal()), ws.Signal().String()
			} else {
				code = int32(ee.ExitCode())
			}
		} else if err != nil {
			code = 128
		}
		if code != 0 {
			reason = "Error"
		}
		c.mu.Lock()
		cancel()
		if c.terminated == nil || c.running {
			c.terminated = &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, StartedAt: metav1.NewTime(c.startedAt.Truncate(time.Second)),
				FinishedAt: metav1.NewTime(time.Now().Truncate(time.Second)), ContainerID: c.containerID(),
			}
			if signal != "" {
				c.terminated.Message = "killed by " + signal
			}
		}
		c.running, c.ready, c.pid = false, false, 0
		close(exited)
		c.mu.Unlock()
		a.log.Info("container exited", "pod", w.namespace+"/"+w.name, "container", c.spec.Name, "code", code, "signal", signal)
		w.poke()
	}()
	return nil
}

func (c *ctr) containerID() string {
	return fmt.Sprintf("rebound-lab://%s/%s/%d", c.w.uid, c.spec.Name, c.startCount)
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs.
func (c *ctr) stop(grace time.Duration) {
	c.mu.Lock()
	pid, exited, simulated := c.pid, c.exited, c.simulated
	if simulated && c.running {
		c.running = false
		c.terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", FinishedAt: metav1.NewTime(time.Now().Truncate(time.Second))}
	}
	c.mu.Unlock()
	if pid == 0 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGCONT) // a frozen process cannot handle SIGTERM
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
}

// kill SIGKILLs the process group and waits for it; byPower marks a node
// stop, after which the container restarts at once when the node starts.
func (c *ctr) kill(byPower bool) {
	c.mu.Lock()
	pid, exited := c.pid, c.exited
	if byPower && (pid != 0 || c.simulated) {
		c.powerKilled = true
	}
	if c.simulated && c.running {
		c.running = false
		c.terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", Message: "killed", FinishedAt: metav1.NewTime(time.Now().Truncate(time.Second))}
		if byPower {
			c.terminated.Message = "node stopped"
		}
	}
	c.mu.Unlock()
	if pid == 0 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		c.w.a.log.Error("process did not die after SIGKILL", "pid", pid)
	}
}

func (c *ctr) signal(sig os.Signal) {
	c.mu.Lock()
	pid := c.pid
	c.mu.Unlock()
	if pid != 0 {
		_ = syscall.Kill(-pid, sig.(syscall.Signal))
	}
}

// status is the container's status as the kubelet reports it.
func (c *ctr) status(podWaiting, podWaitMsg string) corev1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := corev1.ContainerStatus{
		Name: c.spec.Name, Image: c.spec.Image, ImageID: "rebound-lab://" + podspec.Repository(c.spec.Image),
		RestartCount: c.restartCount, Ready: c.running && c.ready, Started: ptr.To(c.running && c.started),
	}
	switch {
	case c.running:
		cs.ContainerID = c.containerID()
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt.Truncate(time.Second))}
	case c.terminated != nil && c.waitReason == "":
		cs.ContainerID = c.terminated.ContainerID
		cs.State.Terminated = c.terminated.DeepCopy()
	default:
		reason, msg := c.waitReason, c.waitMsg
		if reason == "" {
			reason, msg = "ContainerCreating", ""
			if podWaiting != "" {
				reason, msg = podWaiting, podWaitMsg
			} else if c.init || c.w.initDone {
				reason = "ContainerCreating"
			} else {
				reason = "PodInitializing"
			}
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
	}
	last := c.lastTerm
	if c.terminated != nil && cs.State.Terminated == nil {
		last = c.terminated // waiting out a back-off after this run
	}
	if last != nil {
		cs.LastTerminationState.Terminated = last.DeepCopy()
	}
	if c.init {
		cs.Ready = c.terminated != nil && c.terminated.ExitCode == 0
	}
	return cs
}

// portsFree checks that the container's ports can be bound on its pod IP
// in its network namespace: another container of the pod, or for a
// hostNetwork pod another hostNetwork pod of the lab, may hold them. The
// error names the fix instead of a crash loop.
func portsFree(netns, ip string, ports []corev1.ContainerPort) error {
	for _, p := range ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		addr := net.JoinHostPort(ip, strconv.Itoa(int(p.ContainerPort)))
		l, err := labnet.Listen(netns, "tcp", addr)
		if err != nil {
			return fmt.Errorf("port %d is taken on %s (%v): another container of the pod, or another hostNetwork pod of the lab, listens on it; change one of their ports", p.ContainerPort, ip, err)
		}
		l.Close()
	}
	return nil
}
