package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/lab/agent/podspec"
	"github.com/reboundhq/rebound/lab/labnet"
)

// podWorker is the kubelet of one pod: it runs the pod's containers, probes
// them, restarts them by the pod's policy and reports the pod's status. All
// of its state is guarded by mu; sync runs on one goroutine.
type podWorker struct {
	a         *Agent
	uid       types.UID
	namespace string
	name      string
	nodeName  string
	wake      chan struct{}

	mu        sync.Mutex
	pod       *corev1.Pod
	ip        string
	netns     string // the network namespace its containers join
	hostPorts []net.Listener
	volumes   map[string]string
	waiting   string // why the pod's containers cannot start yet
	waitMsg   string
	initDone  bool
	ctrs      []*ctr // init containers first, in spec order
	startTime time.Time
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	w := &podWorker{
		a: a, uid: pod.UID, namespace: pod.Namespace, name: pod.Name, nodeName: pod.Spec.NodeName,
		wake: make(chan struct{}, 1), pod: pod,
	}
	for i := range pod.Spec.InitContainers {
		w.ctrs = append(w.ctrs, newCtr(w, pod.Spec.InitContainers[i], true))
	}
	for i := range pod.Spec.Containers {
		w.ctrs = append(w.ctrs, newCtr(w, pod.Spec.Containers[i], false))
	}
	w.initDone = len(pod.Spec.InitContainers) == 0
	return w
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) current() (*corev1.Pod, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.ip
}

func (w *podWorker) run() {
	ctx := w.a.ctx
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-tick.C:
		}
		if w.sync(ctx) {
			w.a.removeWorker(w.uid)
			return
		}
	}
}

// sync moves the pod one step towards its spec; it returns true when the
// pod is gone and the worker should end.
func (w *podWorker) sync(ctx context.Context) bool {
	a := w.a
	if a.nodes[w.nodeName].CutOff() {
		// Cut off from the control plane: the pod runs on, and neither
		// sees the API's changes nor reports its own.
		return false
	}
	pod, err := a.pods.Pods(w.namespace).Get(w.name)
	if err != nil || pod.UID != w.uid {
		// Deleted from the API (force delete, or our own final delete).
		w.killAll()
		w.cleanup()
		return true
	}
	switch a.nodes[w.nodeName].Power() {
	case PowerOff, PowerFrozen:
		return false // a dead or hung node reports nothing
	}
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()

	if pod.DeletionTimestamp != nil {
		grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 30)) * time.Second
		w.stopAll(grace)
		err := a.client.CoreV1().Pods(w.namespace).Delete(ctx, w.name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &w.uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			a.log.Warn("delete pod", "pod", w.namespace+"/"+w.name, "err", err)
			return false
		}
		w.cleanup()
		return true
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false // terminal: nothing runs again
	}

	w.mu.Lock()
	if w.startTime.IsZero() {
		w.startTime = time.Now()
		if pod.Status.StartTime != nil {
			w.startTime = pod.Status.StartTime.Time
		}
	}
	if w.ip == "" {
		if err := w.setupNetwork(pod); err != nil {
			w.waiting, w.waitMsg = "PodNetworkUnavailable", err.Error()
			a.log.Warn("pod network", "pod", w.namespace+"/"+w.name, "err", err)
		}
	}
	w.mu.Unlock()

	if w.ip != "" && w.volumes == nil {
		if err := privateDir(a.cfg.PodDir(string(w.uid))); err != nil { // it holds the pod's secret volumes
			a.log.Error("pod folder", "err", err)
		}
		_ = os.WriteFile(a.cfg.PodDir(string(w.uid))+"/hosts", HostsFile(pod, w.ip), 0o644)
		_ = os.WriteFile(a.cfg.PodDir(string(w.uid))+"/resolv.conf", PodDNS(pod, a.cfg.Net.DNSServiceIP()), 0o644)
		vols, err := w.prepareVolumes(ctx, pod)
		w.mu.Lock()
		var ce *podspec.ConfigError
		var nr errNotReady
		switch {
		case err == nil:
			w.volumes, w.waiting, w.waitMsg = vols, "", ""
		case errors.As(err, &ce):
			w.waiting, w.waitMsg = "CreateContainerConfigError", err.Error()
		case errors.As(err, &nr):
			w.waiting, w.waitMsg = "ContainerCreating", err.Error()
		default:
			w.waiting, w.waitMsg = "ContainerCreating", err.Error()
		}
		w.mu.Unlock()
	}
	if w.volumes != nil && !w.holdForPodFailure(pod) {
		w.runContainers(pod)
	}
	w.reportStatus(ctx, pod)
	return false
}

// runContainers starts what should run: init containers one after the
// other to completion, then all app containers, restarting by policy.
func (w *podWorker) runContainers(pod *corev1.Pod) {
	policy := pod.Spec.RestartPolicy
	if !w.initDone {
		for _, c := range w.ctrs {
			if !c.init {
				continue
			}
			switch c.observe() {
			case ctrNew:
				c.start()
				return
			case ctrExited:
				if c.lastExitCode() == 0 {
					continue
				}
				// A failed init container reruns unless the policy is Never.
				if policy != corev1.RestartPolicyNever {
					c.restartWhenDue(w.a.cfg.Timings)
				}
				return
			default:
				return
			}
		}
		w.initDone = true
	}
	for _, c := range w.ctrs {
		if c.init {
			continue
		}
		switch c.observe() {
		case ctrNew:
			c.start()
		case ctrExited:
			code := c.lastExitCode()
			if policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && code != 0) {
				c.restartWhenDue(w.a.cfg.Timings)
			}
		}
	}
}

// stopAll stops every container with the pod's grace period: SIGTERM, then
// SIGKILL for what is still running.
func (w *podWorker) stopAll(grace time.Duration) {
	var wg sync.WaitGroup
	for _, c := range w.ctrs {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(grace) }()
	}
	wg.Wait()
}

// killAll SIGKILLs every container at once (node stop, agent exit).
func (w *podWorker) killAll() {
	for _, c := range w.ctrs {
		c.kill(true)
	}
}

func (w *podWorker) signalAll(sig os.Signal) {
	for _, c := range w.ctrs {
		c.signal(sig)
	}
}

// setupNetwork gives the pod its address and network namespace, linked to
// the lab's; a hostNetwork pod runs in the lab namespace itself with its
// node's address, as on a node. w.mu is held.
func (w *podWorker) setupNetwork(pod *corev1.Pod) error {
	a, n := w.a, w.a.nodes[w.nodeName]
	if pod.Spec.HostNetwork {
		w.ip, w.netns = n.IP, labnet.NetnsPath(a.cfg.Name)
		return nil
	}
	ip, err := a.allocateIP(w.uid, n, pod.Status.PodIP)
	if err != nil {
		return err
	}
	start := time.Now()
	link, err := labnet.SetupPod(a.cfg.Name, w.uid, netip.MustParseAddr(ip))
	if err != nil {
		a.releaseIPs(w.uid)
		return err
	}
	w.ip = ip
	if err := w.openHostPorts(pod); err != nil {
		w.ip = ""
		_ = labnet.TeardownPod(a.cfg.Name, w.uid)
		a.releaseIPs(w.uid)
		return err
	}
	a.log.Info("pod network", "pod", w.namespace+"/"+w.name, "ip", ip, "veth", link.HostVeth, "took", time.Since(start))
	w.ip, w.netns = ip, link.Netns
	return nil
}

func (w *podWorker) cleanup() {
	w.mu.Lock()
	w.closeHostPorts()
	w.mu.Unlock()
	if w.netns != "" && w.netns != labnet.NetnsPath(w.a.cfg.Name) {
		if err := labnet.TeardownPod(w.a.cfg.Name, w.uid); err != nil {
			w.a.log.Warn("remove pod network", "pod", w.namespace+"/"+w.name, "err", err)
		}
	}
	if err := os.RemoveAll(w.a.cfg.PodDir(string(w.uid))); err != nil {
		w.a.log.Warn("remove pod folder", "err", err)
	}
}

// reportStatus computes the pod's status and writes it when it changed.
func (w *podWorker) reportStatus(ctx context.Context, pod *corev1.Pod) {
	w.mu.Lock()
	status := w.buildStatus(pod)
	w.mu.Unlock()
	if apiequality.Semantic.DeepEqual(&pod.Status, status) {
		return
	}
	upd := pod.DeepCopy()
	upd.Status = *status
	if _, err := w.a.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		w.a.log.Warn("update pod status", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

func (w *podWorker) buildStatus(pod *corev1.Pod) *corev1.PodStatus {
	node := w.a.nodes[w.nodeName]
	s := pod.Status.DeepCopy()
	s.HostIP = node.IP
	s.HostIPs = []corev1.HostIP{{IP: node.IP}}
	if w.ip != "" {
		s.PodIP = w.ip
		s.PodIPs = []corev1.PodIP{{IP: w.ip}}
	}
	s.StartTime = ptr.To(metav1.NewTime(w.startTime.Truncate(time.Second)))
	s.InitContainerStatuses, s.ContainerStatuses = nil, nil

	allReady, anyRunning, allDone, anyFailed := true, false, true, false
	var simulated []string
	for _, c := range w.ctrs {
		cs := c.status(w.waiting, w.waitMsg)
		if c.init {
			s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
			continue
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
		if c.isSimulated() {
			simulated = append(simulated, c.spec.Name)
		}
		allReady = allReady && cs.Ready
		if cs.State.Running != nil {
			anyRunning = true
		}
		if cs.State.Terminated == nil {
			allDone = false
		} else if cs.State.Terminated.ExitCode != 0 {
			anyFailed = true
		}
	}
	restartable := pod.Spec.RestartPolicy == corev1.RestartPolicyAlways ||
		(pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && anyFailed)
	switch {
	case !w.initDone && w.initFailedForGood(pod):
		s.Phase = corev1.PodFailed
	case !w.initDone:
		s.Phase = corev1.PodPending
	case allDone && !restartable && anyFailed:
		s.Phase = corev1.PodFailed
	case allDone && !restartable:
		s.Phase = corev1.PodSucceeded
	case anyRunning || allDone:
		s.Phase = corev1.PodRunning
	default:
		s.Phase = corev1.PodPending
	}

	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		st := corev1.ConditionFalse
		if ok {
			st = corev1.ConditionTrue
			reason, msg = "", ""
		}
		setCondition(s, corev1.PodCondition{Type: t, Status: st, Reason: reason, Message: msg})
	}
	cond(corev1.PodReadyToStartContainers, w.ip != "" && w.volumes != nil, w.waiting, w.waitMsg)
	cond(corev1.PodInitialized, w.initDone, "ContainersNotInitialized", "containers with incomplete status: init containers")
	cond(corev1.ContainersReady, w.initDone && allReady, "ContainersNotReady", "containers with unready status")
	cond(corev1.PodReady, w.initDone && allReady, "ContainersNotReady", "containers with unready status")
	if len(simulated) > 0 {
		setCondition(s, corev1.PodCondition{
			Type: SimulatedCondition, Status: corev1.ConditionTrue, Reason: "ImageNotMapped",
			Message: fmt.Sprintf("containers %v are simulated as Running: their image maps to no executable in the lab's image mapping", simulated),
		})
	}
	return s
}

// initFailedForGood is an init container that failed under restartPolicy Never.
func (w *podWorker) initFailedForGood(pod *corev1.Pod) bool {
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		return false
	}
	for _, c := range w.ctrs {
		if c.init && c.observe() == ctrExited && c.lastExitCode() != 0 {
			return true
		}
	}
	return false
}

// setCondition sets a condition, keeping its transition time when its
// status did not change.
func setCondition(s *corev1.PodStatus, c corev1.PodCondition) {
	c.LastTransitionTime = metav1.NewTime(time.Now().Truncate(time.Second))
	for i, old := range s.Conditions {
		if old.Type == c.Type {
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			s.Conditions[i] = c
			return
		}
	}
	s.Conditions = append(s.Conditions, c)
}
