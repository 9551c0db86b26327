package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/lab/netfault"
)

// NetTarget is one side of a lab network fault: a zone's nodes, the nodes
// of every other zone, one node, or the pods of a namespace matching a
// label selector. Exactly one of Zone, ExceptZone, Node and Namespace is
// set.
type NetTarget struct {
	Zone       string `json:"zone,omitempty"`
	ExceptZone string `json:"exceptZone,omitempty"` // every lab node outside this zone
	Node       string `json:"node,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Selector   string `json:"selector,omitempty"` // with Namespace; empty: every pod
}

func (t NetTarget) String() string {
	switch {
	case t.Zone != "":
		return "zone " + t.Zone
	case t.ExceptZone != "":
		return "the zones other than " + t.ExceptZone
	case t.Node != "":
		return "node " + t.Node
	case t.Selector != "":
		return "pods " + t.Namespace + "/" + t.Selector
	}
	return "pods " + t.Namespace + "/*"
}

func (t NetTarget) validate(field string) error {
	n := 0
	for _, s := range []string{t.Zone, t.ExceptZone, t.Node, t.Namespace} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: name exactly one of a zone, the zones but one, a node or pods (namespace/selector)", field)
	}
	if t.Selector != "" {
		if _, err := labels.Parse(t.Selector); err != nil {
			return fmt.Errorf("%s: selector %q: %w", field, t.Selector, err)
		}
	}
	return nil
}

// NetFault is a network fault on lab targets; the lab turns targets into
// addresses (a node's spec.podCIDR, a pod's IP) and pod links.
type NetFault struct {
	Kind netfault.Kind
	// ID names the fault; empty: one is picked. A caller that journals
	// the fault before applying it sets it.
	ID     netfault.ID
	Target NetTarget
	// Peers is the other side of a partition or loss; nil is everything
	// else (other pods, the lab's DNS and API server address).
	Peers *NetTarget
	// CutControlPlane also cuts the nodes of a zone or node partition off
	// from the control plane: their leases lapse and they turn NotReady
	// (within NotReadyWithin) while their processes keep running.
	CutControlPlane bool
	Direction       netfault.Direction
	Percent         int           // loss
	Rate            uint64        // bandwidth, bits per second
	Burst, Limit    uint32        // bandwidth, bytes; 0 picks
	Latency         time.Duration // delay
}

// Labels the lab keeps on its network faults.
const (
	netLabelTarget = "target"
	netLabelPeers  = "peers"
	netLabelCut    = "cut-control-plane" // comma-separated node names
)

// ErrNoLabNetwork is a lab without its network namespace.
var ErrNoLabNetwork = errors.New("the lab has no network namespace")

// NetFaults is the controller of the lab's network faults.
func (l *Lab) NetFaults() *netfault.Controller {
	return netfault.New(labnet.NetnsPath(l.Name), filepath.Join(l.Dir(), "netfaults"))
}

func (l *Lab) needNetwork() error {
	if _, err := os.Stat(labnet.NetnsPath(l.Name)); err != nil {
		return fmt.Errorf("lab %q: %w (%s): run `rebound lab up`", l.Name, ErrNoLabNetwork, labnet.NetnsPath(l.Name))
	}
	return nil
}

// NetApply applies a network fault to the lab and returns its ID.
func (l *Lab) NetApply(ctx context.Context, f NetFault) (netfault.ID, error) {
	if err := f.Target.validate("target"); err != nil {
		return "", err
	}
	if f.Peers != nil {
		if err := f.Peers.validate("peers (--from)"); err != nil {
			return "", err
		}
		if f.Kind != netfault.Partition && f.Kind != netfault.Loss {
			return "", fmt.Errorf("peers (--from): a %s acts on pod links, not between two sides", f.Kind)
		}
	}
	if f.CutControlPlane && (f.Kind != netfault.Partition || f.Target.Namespace != "" || f.Target.ExceptZone != "") {
		return "", errors.New("--cut-control-plane goes with a zone or node partition: it cuts those nodes off from the control plane")
	}
	if f.Kind == netfault.Delay {
		// Refuse before resolving anything: the kernel decides.
		if err := netfault.NetemAvailable(); err != nil {
			return "", err
		}
	}
	if err := l.needNetwork(); err != nil {
		return "", err
	}
	cs, err := l.KubeClient()
	if err != nil {
		return "", err
	}
	nf := netfault.Fault{
		Kind: f.Kind, ID: f.ID, Direction: f.Direction, Percent: f.Percent,
		Rate: f.Rate, Burst: f.Burst, Limit: f.Limit, Latency: f.Latency,
		Labels: map[string]string{netLabelTarget: f.Target.String()},
	}
	side, err := l.resolveNet(ctx, cs, f.Target, f.Kind)
	if err != nil {
		return "", err
	}
	switch f.Kind {
	case netfault.Bandwidth, netfault.Delay:
		nf.Links = side.links
	default:
		nf.From = side.prefixes
	}
	if f.Peers != nil {
		peers, err := l.resolveNet(ctx, cs, *f.Peers, f.Kind)
		if err != nil {
			return "", err
		}
		nf.To = peers.prefixes
		nf.Labels[netLabelPeers] = f.Peers.String()
	}
	if f.CutControlPlane {
		nf.Labels[netLabelCut] = strings.Join(side.nodes, ",")
	}
	id, err := l.NetFaults().Apply(ctx, nf)
	if err != nil {
		return "", err
	}
	if f.CutControlPlane {
		if err := l.cutControlPlane(ctx, side.nodes, agent.LinkCut); err != nil {
			return "", errors.Join(err, l.NetHeal(context.WithoutCancel(ctx), id))
		}
	}
	return id, nil
}

// Partition cuts target off from peers (nil: from everything else), and
// with cutControlPlane its nodes from the control plane too.
func (l *Lab) Partition(ctx context.Context, target NetTarget, peers *NetTarget, cutControlPlane bool) (netfault.ID, error) {
	return l.NetApply(ctx, NetFault{Kind: netfault.Partition, Target: target, Peers: peers, CutControlPlane: cutControlPlane})
}

func (l *Lab) cutControlPlane(ctx context.Context, nodes []string, action string) error {
	var errs []error
	for _, n := range nodes {
		if err := l.client().controlPlane(ctx, n, action); err != nil {
			errs = append(errs, fmt.Errorf("%s the control plane link of node %s: %w", action, n, err))
		}
	}
	return errors.Join(errs...)
}

// NetHeal heals one network fault: nodes it cut off from the control
// plane heartbeat again, and its rules and qdiscs go. On a lab that is
// down there is nothing left to heal (the namespace took the rules, the
// agent its cuts) and it only drops the record.
func (l *Lab) NetHeal(ctx context.Context, id netfault.ID) error {
	c := l.NetFaults()
	if err := l.needNetwork(); err != nil {
		if err := os.Remove(filepath.Join(l.Dir(), "netfaults", string(id)+".json")); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s (lab %q is down)", netfault.ErrUnknownFault, id, l.Name)
		}
		return nil
	}
	var errs []error
	if a, err := c.Get(ctx, id); err == nil && a.Labels[netLabelCut] != "" {
		errs = append(errs, l.cutControlPlane(ctx, strings.Split(a.Labels[netLabelCut], ","), agent.LinkResume))
	}
	errs = append(errs, c.Heal(ctx, id))
	return errors.Join(errs...)
}

// NetHealAll heals every network fault of the lab.
func (l *Lab) NetHealAll(ctx context.Context) ([]netfault.ID, error) {
	list, err := l.NetFaults().List(ctx)
	if err != nil {
		return nil, err
	}
	var ids []netfault.ID
	var errs []error
	for _, a := range list {
		if err := l.NetHeal(ctx, a.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, a.ID)
	}
	if len(errs) == 0 && l.needNetwork() == nil {
		more, err := l.NetFaults().HealAll(ctx) // rules whose records are lost
		ids = append(ids, more...)
		errs = append(errs, err)
	}
	return ids, errors.Join(errs...)
}

// NetList lists the lab's network faults, oldest first.
func (l *Lab) NetList(ctx context.Context) ([]netfault.Applied, error) {
	return l.NetFaults().List(ctx)
}

// netSide is a resolved target.
type netSide struct {
	prefixes []netip.Prefix
	nodes    []string
	links    []netfault.PodLink
}

// resolveNet turns a target into its nodes' pod CIDRs (zone, node) or
// its pods' IPs, and for bandwidth and delay into pod links.
func (l *Lab) resolveNet(ctx context.Context, cs kubernetes.Interface, t NetTarget, kind netfault.Kind) (netSide, error) {
	var side netSide
	links := kind == netfault.Bandwidth || kind == netfault.Delay
	var pods []corev1.Pod
	if t.Namespace != "" {
		list, err := cs.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector})
		if err != nil {
			return side, fmt.Errorf("%s: %w", t, err)
		}
		pods = list.Items
		if len(pods) == 0 {
			return side, fmt.Errorf("%s: no pod matches", t)
		}
	} else {
		sel := labels.Set{agent.LabelLab: l.Name}
		if t.Zone != "" {
			sel[agent.LabelZone] = t.Zone
		}
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return side, fmt.Errorf("%s: %w", t, err)
		}
		zoneSeen := false
		for _, n := range list.Items {
			zoneSeen = zoneSeen || n.Labels[agent.LabelZone] == t.ExceptZone
			if t.Node != "" && n.Name != t.Node || t.ExceptZone != "" && n.Labels[agent.LabelZone] == t.ExceptZone {
				continue
			}
			side.nodes = append(side.nodes, n.Name)
			if links {
				continue
			}
			cidr, err := netip.ParsePrefix(n.Spec.PodCIDR)
			if err != nil {
				return side, fmt.Errorf("%s: node %s has no pod CIDR (spec.podCIDR %q): the lab predates per-pod networks; run `rebound lab down` and `rebound lab up`", t, n.Name, n.Spec.PodCIDR)
			}
			side.prefixes = append(side.prefixes, cidr)
		}
		if t.ExceptZone != "" && !zoneSeen {
			return side, l.unknownNodeOrZone(ctx, NetTarget{Zone: t.ExceptZone})
		}
		if len(side.nodes) == 0 {
			if t.ExceptZone != "" {
				return side, fmt.Errorf("%s: the lab has no other zone", t)
			}
			return side, l.unknownNodeOrZone(ctx, t)
		}
		if links {
			for _, n := range side.nodes {
				list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n).String()})
				if err != nil {
					return side, fmt.Errorf("%s: pods of node %s: %w", t, n, err)
				}
				pods = append(pods, list.Items...)
			}
			if len(pods) == 0 {
				return side, fmt.Errorf("%s: no pod runs there: nothing to shape", t)
			}
		}
	}
	for _, p := range pods {
		name := p.Namespace + "/" + p.Name
		if p.Spec.HostNetwork {
			if t.Namespace != "" {
				return side, fmt.Errorf("%s: pod %s uses the host network (the lab namespace itself), so no fault can single it out; partition its node instead", t, name)
			}
			continue
		}
		if links {
			if p.Status.PodIP == "" {
				if t.Namespace != "" {
					return side, fmt.Errorf("%s: pod %s has no network yet (phase %s): wait until it runs", t, name, p.Status.Phase)
				}
				continue // not started: nothing to shape on its node yet
			}
			side.links = append(side.links, netfault.PodLink{Name: name, HostVeth: labnet.HostVeth(p.UID), Netns: labnet.PodNetnsPath(l.Name, p.UID)})
			continue
		}
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil {
			return side, fmt.Errorf("%s: pod %s has no IP yet (phase %s): wait until it runs", t, name, p.Status.Phase)
		}
		side.prefixes = append(side.prefixes, netip.PrefixFrom(ip, 32))
		if !slices.Contains(side.nodes, p.Spec.NodeName) {
			side.nodes = append(side.nodes, p.Spec.NodeName)
		}
	}
	return side, nil
}

func (l *Lab) unknownNodeOrZone(ctx context.Context, t NetTarget) error {
	nodes, err := l.NodeStates(ctx)
	if err != nil {
		return err
	}
	var names, zones []string
	for _, n := range nodes {
		names = append(names, n.Name)
		if !slices.Contains(zones, n.Zone) {
			zones = append(zones, n.Zone)
		}
	}
	sort.Strings(zones)
	if t.Zone != "" {
		return fmt.Errorf("%w: %q (the lab's zones are %v)", ErrUnknownZone, t.Zone, zones)
	}
	return fmt.Errorf("%w: %q (the lab's nodes are %v)", agent.ErrUnknownNode, t.Node, names)
}
