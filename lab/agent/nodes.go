package agent

import (
	"context"
	"fmt"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/lab/agent/kubeletapi"
)

// Labels every lab node carries, as cloud nodes do.
const (
	LabelZone         = "topology.kubernetes.io/zone"
	LabelRegion       = "topology.kubernetes.io/region"
	LabelHostname     = "kubernetes.io/hostname"
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelLab          = "rebound.dev/lab"
)

// runNode registers one node and heartbeats for it while it is powered on
// and not cut off from the control plane: the lease every LeaseRenew, the
// Ready condition every StatusUpdate and at once after a start or a
// reconnect.
func (a *Agent) runNode(ctx context.Context, n *node) {
	log := a.log.With("node", n.Name)
	registered := false
	var lastStatus time.Time
	ticker := time.NewTicker(a.cfg.LeaseRenew)
	defer ticker.Stop()
	for {
		if n.Power() == PowerOn && !n.CutOff() {
			if !registered {
				if err := a.registerNode(ctx, n); err != nil {
					log.Warn("register node", "err", err)
				} else {
					registered = true
					lastStatus = time.Time{}
				}
			}
			if registered {
				if err := a.renewLease(ctx, n); err != nil {
					log.Warn("renew lease", "err", err)
				}
				if time.Since(lastStatus) >= a.cfg.StatusUpdate {
					if err := a.updateNodeStatus(ctx, n); err != nil {
						log.Warn("update node status", "err", err)
					} else {
						lastStatus = time.Now()
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-n.wake:
			lastStatus = time.Time{}
		}
	}
}

func (a *Agent) nodeObject(n *node) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("4"),
		corev1.ResourceMemory:           resource.MustParse("16Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name,
			Labels: map[string]string{
				LabelZone: n.Zone, LabelRegion: n.Region, LabelHostname: n.Name,
				LabelInstanceType: n.InstanceType, LabelLab: a.cfg.Name,
				"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
		},
		Spec: corev1.NodeSpec{PodCIDR: n.PodCIDR.String(), PodCIDRs: []string{n.PodCIDR.String()}},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.IP},
				{Type: corev1.NodeHostName, Address: n.Name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: "v1.36.3-rebound-lab", OperatingSystem: "linux", Architecture: "amd64",
				ContainerRuntimeVersion: "rebound-lab://1", OSImage: "rebound lab node",
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: kubeletapi.Port}},
		},
	}
}

func (a *Agent) registerNode(ctx context.Context, n *node) error {
	want := a.nodeObject(n)
	nodes := a.client.CoreV1().Nodes()
	cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = nodes.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		return a.updateNodeStatus(ctx, n)
	}
	if err != nil {
		return err
	}
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		cur.Labels[k] = v
	}
	if cur.Spec.PodCIDR == "" { // set once, as the node IPAM controller does
		cur.Spec.PodCIDR, cur.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
	}
	if _, err := nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return err
	}
	return a.updateNodeStatus(ctx, n)
}

func (a *Agent) updateNodeStatus(ctx context.Context, n *node) error {
	nodes := a.client.CoreV1().Nodes()
	cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	want := a.nodeObject(n).Status
	cur.Status.Capacity, cur.Status.Allocatable = want.Capacity, want.Allocatable
	cur.Status.Addresses, cur.Status.NodeInfo = want.Addresses, want.NodeInfo
	cur.Status.DaemonEndpoints = want.DaemonEndpoints
	cur.Status.Phase = corev1.NodeRunning
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "rebound lab agent is posting ready status"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
	}
	for i := range conds {
		conds[i].LastHeartbeatTime = now
		conds[i].LastTransitionTime = now
		for _, old := range cur.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	cur.Status.Conditions = conds
	_, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (a *Agent) renewLease(ctx context.Context, n *node) error {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	dur := int32(a.cfg.LeaseDuration / time.Second)
	l, err := leases.Get(ctx, n.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(n.Name), LeaseDurationSeconds: ptr.To(dur), RenewTime: &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = ptr.To(n.Name), ptr.To(dur), &now
	if node, err := a.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{}); err == nil {
		l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	}
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// SetPower stops, freezes or starts a node. Stop SIGKILLs the node's pod
// processes and ends its heartbeats, so the node-lifecycle controller marks
// it NotReady; freeze SIGSTOPs them (to peers the node hangs, as in a
// partition) and ends heartbeats; start resumes frozen processes, or
// restarts the containers of a stopped node as after a reboot.
func (a *Agent) SetPower(nodeName string, action string) (Power, error) {
	n := a.nodes[nodeName]
	if n == nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownNode, nodeName)
	}
	n.mu.Lock()
	from := n.power
	switch action {
	case "stop":
		n.power = PowerOff
	case "freeze":
		if from == PowerOff {
			n.mu.Unlock()
			return from, fmt.Errorf("node %s is stopped; start it before freezing it", nodeName)
		}
		n.power = PowerFrozen
	case "start":
		n.power = PowerOn
	default:
		n.mu.Unlock()
		return from, fmt.Errorf("unknown power action %q (want stop, freeze or start)", action)
	}
	to := n.power
	n.mu.Unlock()
	if err := a.savePower(); err != nil {
		a.log.Error("save power state", "err", err)
	}
	workers := a.workersOn(nodeName)
	switch {
	case to == PowerOff:
		for _, w := range workers {
			w.killAll()
		}
	case to == PowerFrozen:
		for _, w := range workers {
			w.signalAll(syscall.SIGSTOP)
		}
	case from == PowerFrozen && to == PowerOn:
		for _, w := range workers {
			w.signalAll(syscall.SIGCONT)
		}
	}
	if to == PowerOn {
		select {
		case n.wake <- struct{}{}:
		default:
		}
		for _, w := range workers {
			w.poke()
		}
	}
	a.log.Info("node power", "node", nodeName, "from", from, "to", to)
	return to, nil
}

// Control-plane link actions on a node.
const (
	LinkCut    = "cut"
	LinkResume = "resume"
)

// SetControlPlaneLink cuts a node off from the control plane, or
// reconnects it. Cut off, the node renews no lease and posts no node or
// pod status, so the node-lifecycle controller marks it NotReady, while its
// pod processes keep running and serving (the network partition of a
// cloud zone, as seen from the API server). Resume heartbeats at once. The
// cut lasts until resumed or until the agent restarts.
func (a *Agent) SetControlPlaneLink(nodeName, action string) error {
	n := a.nodes[nodeName]
	if n == nil {
		return fmt.Errorf("%w: %q", ErrUnknownNode, nodeName)
	}
	var cut bool
	switch action {
	case LinkCut:
		cut = true
	case LinkResume:
	default:
		return fmt.Errorf("unknown control-plane link action %q (want %s or %s)", action, LinkCut, LinkResume)
	}
	n.mu.Lock()
	was := n.cut
	n.cut = cut
	n.mu.Unlock()
	if was && !cut {
		select {
		case n.wake <- struct{}{}:
		default:
		}
		for _, w := range a.workersOn(nodeName) {
			w.poke()
		}
	}
	a.log.Info("node control-plane link", "node", nodeName, "action", action)
	return nil
}
