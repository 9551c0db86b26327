package chaos

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// netKey names one record's fault on its pod: the experiment and the side.
func netKey(nc *v1alpha1.NetworkChaos, r *v1alpha1.Record) string {
	side := "source"
	if r.SelectorKey == ".Target" {
		side = "target"
	}
	return string(nc.GetUID()) + "/" + side
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
			var err error
			if f.LossPercent, err = percent("spec.loss.loss", s.Loss.Loss); err != nil {
				return f, false, err
			}
			if s.Loss.Correlation != "" {
				if f.LossCorrelation, err = percent("spec.loss.correlation", s.Loss.Correlation); err != nil {
					return f, false, err
				}
			}
			return f, act, nil
		}
		if s.Bandwidth == nil {
			return f, false, refused("spec.bandwidth is required for action bandwidth")
		}
		rate, err := ParseRate(s.Bandwidth.Rate)
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

func percent(field, s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, refused("%s %q: give a percentage from 0 to 100", field, s)
	}
	return v, nil
}

// rateUnits are tc's rate units, in bits per second, the units Chaos
// Mesh's bandwidth rate takes (longest suffix first).
var rateUnits = []struct {
	suffix string
	bits   uint64
}{
	{"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"tbit", 1e12},
	{"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}, {"tbps", 8e12},
	{"bps", 8}, {"bit", 1},
}

// ParseRate reads a Chaos Mesh bandwidth rate ("1mbps", "100kbit") as
// bits per second. As with tc, "bps" units are bytes per second and "bit"
// units bits, with decimal multipliers.
func ParseRate(s string) (uint64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	for _, u := range rateUnits {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64)
			if err != nil || num == 0 {
				return 0, fmt.Errorf("%q: want a positive whole number before the unit %s", s, u.suffix)
			}
			return num * u.bits, nil
		}
	}
	return 0, fmt.Errorf("%q has no unit: give bit, kbit, mbit, gbit, tbit (bits) or bps, kbps, mbps, gbps, tbps (bytes) per second", s)
}
