package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"

	"github.com/reboundhq/rebound/lab/agent/chaos"
)

// The agent's side of the lab's Chaos Mesh controller (package chaos),
// which runs in the agent's process: it kills containers for
// container-kill and holds a pod's containers down while a pod-failure
// annotates the pod.

// podFailureReason is the waiting reason of a container held down by a
// pod-failure.
const podFailureReason = "ChaosMeshPodFailure"

// runChaos runs the lab's Chaos Mesh controller until ctx ends.
func (a *Agent) runChaos(ctx context.Context) {
	dyn, err := dynamic.NewForConfig(a.rest)
	if err != nil {
		a.log.Error("chaos controller", "err", err)
		return
	}
	c := chaos.New(chaos.Config{Dynamic: dyn, Kube: a.client, Pods: a, Network: a.chaosNetwork(), Log: a.log})
	if err := c.Run(ctx); err != nil {
		a.log.Error("chaos controller", "err", err)
	}
}

// KillContainer SIGKILLs the process of one app container of a lab pod,
// for a PodChaos container-kill; it restarts by the pod's restartPolicy.
func (a *Agent) KillContainer(_ context.Context, namespace, pod, container string) error {
	w := a.workerOf(namespace, pod)
	if w == nil {
		return fmt.Errorf("%w: %s/%s", ErrUnknownPod, namespace, pod)
	}
	for _, c := range w.ctrs {
		if c.init || c.spec.Name != container {
			continue
		}
		if c.observe() != ctrRunning {
			return fmt.Errorf("container %s of pod %s/%s is not running", container, namespace, pod)
		}
		c.kill(false)
		a.log.Info("container killed by chaos", "pod", namespace+"/"+pod, "container", container)
		w.poke()
		return nil
	}
	return fmt.Errorf("pod %s/%s has no container %q", namespace, pod, container)
}

func (a *Agent) workerOf(namespace, name string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if w.namespace == namespace && w.name == name {
			return w
		}
	}
	return nil
}

// holdForPodFailure keeps the pod's containers down while a pod-failure
// annotates it, as Chaos Mesh's pause image does: the processes are
// killed and not started, each container waits with podFailureReason, and
// the pod is not ready. Once the last annotation goes, the containers that
// were held start again. It tells whether the pod is held.
func (w *podWorker) holdForPodFailure(pod *corev1.Pod) bool {
	by := chaos.PodFailedBy(pod)
	if len(by) == 0 {
		for _, c := range w.ctrs {
			c.release()
		}
		return false
	}
	msg := fmt.Sprintf("held down by Chaos Mesh pod-failure %v (the lab stops the containers where Chaos Mesh swaps in its pause image)", by)
	for _, c := range w.ctrs {
		if !c.init || !w.initDone { // finished init containers stay finished
			c.holdDown(msg)
		}
	}
	return true
}

// holdDown kills the container's process, if any, and keeps it waiting.
func (c *ctr) holdDown(msg string) {
	c.kill(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = true
	c.waitReason, c.waitMsg = podFailureReason, msg
}

// release lets a held container start again at once, as after a changed
// image; a container never held is left alone.
func (c *ctr) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.held {
		return
	}
	c.held = false
	c.waitReason, c.waitMsg = "", ""
	if c.terminated != nil {
		c.lastTerm, c.terminated = c.terminated, nil
		c.restartCount++
	}
	c.nextStart, c.backoff = time.Time{}, 0
}

// chaosNetwork executes NetworkChaos with the lab's network faults, kept
// where the lab's own (`rebound lab net`) are.
func (a *Agent) chaosNetwork() chaos.Network {
	return chaos.LabNetwork(a.cfg.Name, filepath.Join(a.cfg.StateDir, "netfaults"))
}
