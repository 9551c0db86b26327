package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"reflect"

	corev1 "k8s.io/api/core/v1"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"

	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/lab/netfault"
)

// LabNetwork executes NetworkChaos with the lab's network faults
// (package netfault) in the lab's network namespace: partitions and loss
// as nftables rules on the pod's address, bandwidth as a tbf on its link.
// Faults are recorded in stateDir as netfault does, so `rebound lab net`
// lists them beside its own.
func LabNetwork(lab, stateDir string) Network {
	return &labNetwork{lab: lab, nf: netfault.New(labnet.NetnsPath(lab), stateDir)}
}

type labNetwork struct {
	lab string
	nf  *netfault.Controller
}

// faultID is the netfault ID of one record's fault on one pod, the same on
// every call, so a restarted agent finds what it applied.
func faultID(key string, pod *corev1.Pod) netfault.ID {
	sum := sha256.Sum256([]byte(key + " " + string(pod.UID)))
	return netfault.ID("chaos-" + hex.EncodeToString(sum[:])[:24])
}

func (n *labNetwork) Inject(ctx context.Context, key string, pod *corev1.Pod, f NetFault) error {
	want, err := toNetfault(n.lab, faultID(key, pod), key, pod, f)
	if err != nil {
		return err
	}
	have, err := n.nf.Get(ctx, want.ID)
	switch {
	case err == nil && reflect.DeepEqual(have.Fault, want):
		return nil // already in effect
	case err == nil:
		if err := n.nf.Heal(ctx, want.ID); err != nil {
			return err
		}
	case !errors.Is(err, netfault.ErrUnknownFault):
		return err
	}
	_, err = n.nf.Apply(ctx, want)
	return err
}

func (n *labNetwork) Recover(ctx context.Context, key string, pod *corev1.Pod) error {
	err := n.nf.Heal(ctx, faultID(key, pod))
	if errors.Is(err, netfault.ErrUnknownFault) {
		return nil
	}
	return err
}

// toNetfault turns one pod's share of a NetworkChaos into a lab network
// fault: partition and loss between the pod's address and its peers' (or
// everything else), bandwidth on the pod's link.
func toNetfault(lab string, id netfault.ID, by string, pod *corev1.Pod, f NetFault) (netfault.Fault, error) {
	out := netfault.Fault{ID: id, Labels: map[string]string{"pod": pod.Namespace + "/" + pod.Name, "by": by}}
	switch {
	case f.Egress && f.Ingress:
		out.Direction = netfault.Both
	case f.Egress:
		out.Direction = netfault.Egress
	case f.Ingress:
		out.Direction = netfault.Ingress
	default:
		return out, fmt.Errorf("a %s on pod %s/%s that acts in no direction", f.Action, pod.Namespace, pod.Name)
	}
	switch f.Action {
	case v1alpha1.PartitionAction, v1alpha1.LossAction:
		out.Kind = netfault.Partition
		if f.Action == v1alpha1.LossAction {
			out.Kind, out.Percent = netfault.Loss, f.LossPercent
		}
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err != nil {
			return out, fmt.Errorf("pod %s/%s has no IP yet", pod.Namespace, pod.Name)
		}
		out.From = []netip.Prefix{netip.PrefixFrom(ip, 32)}
		for _, p := range f.Peers {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return out, fmt.Errorf("peer address %q: %w", p, err)
			}
			out.To = append(out.To, netip.PrefixFrom(a, 32))
		}
	case v1alpha1.BandwidthAction:
		if len(f.Peers) > 0 {
			return out, refused("bandwidth towards chosen pods (spec.target): the lab limits a pod's whole link; leave spec.target out")
		}
		out.Kind, out.Rate, out.Burst, out.Limit = netfault.Bandwidth, f.RateBits, f.BufferBytes, f.LimitBytes
		out.Links = []netfault.PodLink{{Name: pod.Namespace + "/" + pod.Name, HostVeth: labnet.HostVeth(pod.UID), Netns: labnet.PodNetnsPath(lab, pod.UID)}}
	default:
		return out, refused("NetworkChaos action %q is not one the lab executes", f.Action)
	}
	return out, out.Validate()
}
