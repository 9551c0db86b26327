package chaos

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/lab/netfault"
)

// NetemMissing is why the lab refuses the NetworkChaos actions that need
// the kernel's netem queueing discipline.
const NetemMissing = "needs the kernel's netem queueing discipline (CONFIG_NET_SCH_NETEM), which the lab does not use (this machine's kernel has none): the lab executes partition, loss and bandwidth"

// networkChaos executes NetworkChaos through the lab's network faults.
// Each record is one pod's share, as Chaos Mesh splits it: a source pod
// (selector key ".") drops or shapes its traffic with the target pods
// (".Target"), or with everything when there is no target; a target pod
// does the same towards the sources for the directions that reach it.
type networkChaos struct{ c *Controller }

func (n *networkChaos) apply(ctx context.Context, obj v1alpha1.InnerObject, records []*v1alpha1.Record, i int) (v1alpha1.Phase, error) {
	nc := obj.(*v1alpha1.NetworkChaos)
	r := records[i]
	f, act, err := netFault(nc, r.SelectorKey)
	if err != nil {
		return v1alpha1.NotInjected, err
	}
	if !act {
		return v1alpha1.Injected, nil // this side has nothing to do for the direction
	}
	if n.c.net == nil {
		return v1alpha1.NotInjected, refused("the lab's network faults are not available in this node agent")
	}
	pod, err := n.pod(ctx, r.Id)
	if err != nil {
		return v1alpha1.NotInjected, err
	}
	other := ".Target"
	if r.SelectorKey == ".Target" {
		other = "."
	}
	for _, peer := range records {
		if peer.SelectorKey != other {
			continue
		}
		p, err := n.pod(ctx, peer.Id)
		if err != nil {
			return v1alpha1.NotInjected, err
		}
		if p.Status.PodIP == "" {
			return v1alpha1.NotInjected, fmt.Errorf("peer pod %s has no IP yet", peer.Id)
		}
		for _, ip := range p.Status.PodIPs {
			f.Peers = append(f.Peers, ip.IP)
		}
		if len(p.Status.PodIPs) == 0 {
			f.Peers = append(f.Peers, p.Status.PodIP)
		}
	}
	if r.SelectorKey == ".Target" && len(f.Peers) == 0 {
		return v1alpha1.NotInjected, fmt.Errorf("target %s has no source pod to act against", r.Id)
	}
	if err := n.c.net.Inject(ctx, netKey(nc, r), pod, f); err != nil {
		return v1alpha1.NotInjected, fmt.Errorf("%s on pod %s: %w", nc.Spec.Action, r.Id, err)
	}
	return v1alpha1.Injected, nil
}

func (n *networkChaos) recover(ctx context.Context, obj v1alpha1.InnerObject, records []*v1alpha1.Record, i int) (v1alpha1.Phase, error) {
	nc := obj.(*v1alpha1.NetworkChaos)
	r := records[i]
	if _, act, err := netFault(nc, r.SelectorKey); err != nil || !act {
		return v1alpha1.NotInjected, nil // nothing was put in place
	}
	if n.c.net == nil {
		return v1alpha1.Injected, refused("the lab's network faults are not available in this node agent")
	}
	pod, err := n.pod(ctx, r.Id)
	if apierrors.IsNotFound(err) {
		return v1alpha1.NotInjected, nil // its network went with it
	}
	if err != nil {
		return v1alpha1.Injected, err
	}
	if err := n.c.net.Recover(ctx, netKey(nc, r), pod); err != nil {
		return v1alpha1.Injected, fmt.Errorf("recover %s on pod %s: %w", nc.Spec.Action, r.Id, err)
	}
	return v1alpha1.NotInjected, nil
}

func (n *networkChaos) pod(ctx context.Context, id string) (*corev1.Pod, error) {
	ns, name, _, err := parseID(id)
	if err != nil {
		return nil, err
	}
	p, err := n.c.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get pod %s: %w", id, err)
	}
	return p, nil
}

// netKey names one record's fault on its pod: the experiment (by name and
// UID, so a new experiment of the same name is another fault) and the side.
func netKey(nc *v1alpha1.NetworkChaos, r *v1alpha1.Record) string {
	side := "source"
	if r.SelectorKey == ".Target" {
		side = "target"
	}
	return fmt.Sprintf("NetworkChaos %s %s (uid %s)", objName(nc), side, nc.GetUID())
}

// netFault works out one side's fault (selector key "." or ".Target"),
// and whether that side acts at all: a partition cuts both sides for the
// directions asked, loss and bandwidth shape what a side sends, so the
// source acts for "to" and "both", the target for "from" and "both". An
// action or field the lab cannot honour is refused, naming it.
func netFault(nc *v1alpha1.NetworkChaos, key string) (NetFault, bool, error) {
	s := nc.Spec
	f := NetFault{Action: s.Action}
	if len(s.ExternalTargets) > 0 {
		return f, false, refused("spec.externalTargets %v: nothing outside the lab is reachable from it, so there is nothing to cut off; select lab pods with spec.target", s.ExternalTargets)
	}
	for field, dev := range map[string]string{"spec.device": s.Device, "spec.targetDevice": s.TargetDevice} {
		if dev != "" && dev != "eth0" {
			return f, false, refused("%s %q: lab pods have only eth0", field, dev)
		}
	}
	if s.RemoteCluster != "" {
		return f, false, refused("spec.remoteCluster %q: the lab is one cluster", s.RemoteCluster)
	}
	dir := s.Direction
	if dir == "" {
		dir = v1alpha1.To
	}
	if dir != v1alpha1.To && dir != v1alpha1.From && dir != v1alpha1.Both {
		return f, false, refused("spec.direction %q: give to, from or both", dir)
	}
	target := key == ".Target"
	switch s.Action {
	case v1alpha1.PartitionAction:
		if s.PartitionBehavior != "" && s.PartitionBehavior != v1alpha1.DropPartitionBehavior {
			return f, false, refused("spec.partitionBehavior %q: the lab's partitions drop packets (drop)", s.PartitionBehavior)
		}
		// The source sends to the targets for "to"; for "from" it is
		// what the targets send that is cut.
		sends := dir == v1alpha1.To || dir == v1alpha1.Both
		receives := dir == v1alpha1.From || dir == v1alpha1.Both
		if target {
			f.Egress, f.Ingress = receives, sends
		} else {
			f.Egress, f.Ingress = sends, receives
		}
		return f, true, nil
	case v1alpha1.LossAction, v1alpha1.BandwidthAction:
		act := dir == v1alpha1.Both || (dir == v1alpha1.To) != target
		f.Egress = true
		if s.Action == v1alpha1.LossAction {
			if s.Loss == nil {
				return f, false, refused("spec.loss is required for action loss")
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(s.Loss.Loss), 64)
			if err != nil || v < 1 || v > 100 || v != math.Trunc(v) {
				return f, false, refused("spec.loss.loss %q: the lab drops a whole percentage of packets, 1 to 100", s.Loss.Loss)
			}
			f.LossPercent = int(v)
			if c := strings.TrimSpace(s.Loss.Correlation); c != "" {
				if v, err := strconv.ParseFloat(c, 64); err != nil || v != 0 {
					return f, false, refused("spec.loss.correlation %q: the lab drops each packet independently (nftables, without netem); set 0 or leave it out", s.Loss.Correlation)
				}
			}
			return f, act, nil
		}
		if s.Bandwidth == nil {
			return f, false, refused("spec.bandwidth is required for action bandwidth")
		}
		rate, err := netfault.ParseRate(s.Bandwidth.Rate)
		if err != nil {
			return f, false, refused("spec.bandwidth.rate: %v", err)
		}
		f.RateBits, f.LimitBytes, f.BufferBytes = rate, s.Bandwidth.Limit, s.Bandwidth.Buffer
		return f, act, nil
	case v1alpha1.DelayAction, v1alpha1.NetemAction, v1alpha1.DuplicateAction, v1alpha1.CorruptAction:
		return f, false, refused("NetworkChaos action %s %s", s.Action, NetemMissing)
	}
	return f, false, refused("NetworkChaos action %q is not one the lab executes (it executes %s)", s.Action, strings.Join(executed[v1alpha1.KindNetworkChaos], ", "))
}
