package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodFailureHoldsAContainerAndReleaseRestartsIt(t *testing.T) {
	t.Parallel()
	// A container whose process has exited (no pid: nothing to kill).
	c := &ctr{spec: corev1.Container{Name: "main"}, terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}
	c.holdDown("held down by Chaos Mesh pod-failure [db/fail]")
	st := c.status("", "")
	if st.State.Waiting == nil || st.State.Waiting.Reason != podFailureReason || st.Ready {
		t.Fatalf("held container status %+v, want waiting with reason %s, not ready", st.State, podFailureReason)
	}
	if c.observe() != ctrExited {
		t.Errorf("a held container is due to start: %v", c.observe())
	}
	c.release()
	if c.observe() != ctrNew || c.restartCount != 1 || c.lastTerm == nil || c.lastTerm.ExitCode != 137 {
		t.Errorf("after release: state %v, restarts %d, last %+v; want it due to start at once, restart count 1, the held run as the last", c.observe(), c.restartCount, c.lastTerm)
	}
	c.release() // not held any more: nothing changes
	if c.restartCount != 1 {
		t.Errorf("a second release counted another restart")
	}
}
