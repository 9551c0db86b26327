package labnet

import (
	"errors"
	"fmt"
	"net/netip"
)

// Plan is a lab's address ranges. Node i (1-based) gets the i-th /24 of
// PodCIDR as its spec.podCIDR; the /24 numbered 0 is the lab's own: its
// first address is the infra address inside the lab namespace.
type Plan struct {
	PodCIDR     netip.Prefix `json:"podCIDR"`
	ServiceCIDR netip.Prefix `json:"serviceCIDR"`
}

// DefaultPlan is the plan of a lab whose loopback octet is x (the second
// octet of lab.Options.Network): pods in 10.x.0.0/16, Services in
// 10.255.x.0/24. Labs side by side get different x, hence disjoint ranges.
func DefaultPlan(x byte) Plan {
	return Plan{
		PodCIDR:     netip.PrefixFrom(netip.AddrFrom4([4]byte{10, x, 0, 0}), 16),
		ServiceCIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 255, x, 0}), 24),
	}
}

// Validate checks that the plan holds nodes node /24s and that its ranges
// are IPv4 and disjoint.
func (p Plan) Validate(nodes int) error {
	switch {
	case !p.PodCIDR.IsValid() || !p.PodCIDR.Addr().Is4():
		return fmt.Errorf("--pod-cidr %s: use an IPv4 prefix such as 10.44.0.0/16", p.PodCIDR)
	case !p.ServiceCIDR.IsValid() || !p.ServiceCIDR.Addr().Is4():
		return fmt.Errorf("--service-cidr %s: use an IPv4 prefix such as 10.255.44.0/24", p.ServiceCIDR)
	case p.PodCIDR.Bits() > 23 || (1<<(24-p.PodCIDR.Bits()))-1 < nodes:
		return fmt.Errorf("--pod-cidr %s holds %d node /24s (its first is the lab's own), and the lab has %d nodes: use a larger prefix, e.g. /16",
			p.PodCIDR, max((1<<(24-min(p.PodCIDR.Bits(), 24)))-1, 0), nodes)
	case p.ServiceCIDR.Bits() > 28 || p.ServiceCIDR.Bits() < 12:
		return fmt.Errorf("--service-cidr %s: use a prefix from /12 to /28 (the API server's limits)", p.ServiceCIDR)
	case p.PodCIDR.Overlaps(p.ServiceCIDR):
		return fmt.Errorf("--pod-cidr %s and --service-cidr %s overlap: choose disjoint ranges", p.PodCIDR, p.ServiceCIDR)
	}
	return nil
}

// NodePodCIDR is node i's pod range (i from 1).
func (p Plan) NodePodCIDR(i int) netip.Prefix {
	b := p.PodCIDR.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8
	n += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), 0}), 24)
}

// Infra is the lab's own address inside its namespace: the API server's
// forwarder and the cluster DNS server listen there.
func (p Plan) Infra() netip.Addr { return p.PodCIDR.Masked().Addr().Next() }

// KubernetesServiceIP is the ClusterIP of the default/kubernetes Service:
// the Service range's first usable address, as the API server picks it.
func (p Plan) KubernetesServiceIP() netip.Addr { return p.ServiceCIDR.Masked().Addr().Next() }

// DNSServiceIP is the ClusterIP of kube-system/kube-dns, tenth of the range
// as on kubeadm clusters.
func (p Plan) DNSServiceIP() netip.Addr {
	a := p.ServiceCIDR.Masked().Addr()
	for range 10 {
		a = a.Next()
	}
	return a
}

// Gateway is the link-local next hop every pod routes through; the lab
// side of each pod's veth answers for it.
var Gateway = netip.MustParseAddr("169.254.1.1")

// ErrExhausted is a node whose pod range has no free address left.
var ErrExhausted = errors.New("pod range exhausted")

// NextPodIP returns the first address of cidr from .2 up that taken does
// not hold (.1 is left out as on most CNIs, the last one is broadcast).
func NextPodIP(cidr netip.Prefix, taken func(netip.Addr) bool) (netip.Addr, error) {
	a := cidr.Masked().Addr().Next().Next()
	for ; cidr.Contains(a); a = a.Next() {
		if !cidr.Contains(a.Next()) {
			break // broadcast
		}
		if !taken(a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %s", ErrExhausted, cidr)
}
