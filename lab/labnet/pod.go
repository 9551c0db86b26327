package labnet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
)

// gatewayMAC is the lab side of every pod's veth: pods hold a permanent
// neighbour entry for Gateway with it, so no ARP is needed either way.
var gatewayMAC = net.HardwareAddr{0xee, 0xee, 0xee, 0xee, 0xee, 0xee}

// HostVeth is the lab-side name of a pod's veth (15 bytes at most, as
// Linux wants).
func HostVeth(uid types.UID) string {
	sum := sha256.Sum256([]byte(uid))
	return "rb" + hex.EncodeToString(sum[:])[:10]
}

// PodLink is a pod's network, once set up.
type PodLink struct {
	Netns    string     // the pod's namespace
	HostVeth string     // its veth's lab side
	IP       netip.Addr // the pod's address
}

// SetupPod creates the pod's namespace and links it to the lab namespace:
// eth0 with ip/32 in the pod, a /32 route to it in the lab. A namespace
// left by an earlier run of the same pod is replaced.
func SetupPod(lab string, uid types.UID, ip netip.Addr) (PodLink, error) {
	link := PodLink{Netns: PodNetnsPath(lab, uid), HostVeth: HostVeth(uid), IP: ip}
	labNs, err := netns.GetFromPath(NetnsPath(lab))
	if err != nil {
		return link, fmt.Errorf("the lab's network namespace %s (is the lab up?): %w", NetnsPath(lab), err)
	}
	defer labNs.Close()
	lh, err := netlink.NewHandleAt(labNs)
	if err != nil {
		return link, err
	}
	defer lh.Close()
	if old, err := lh.LinkByName(link.HostVeth); err == nil {
		_ = lh.LinkDel(old)
	}
	podNs, err := create(link.Netns)
	if err != nil {
		return link, err
	}
	defer podNs.Close()
	fail := func(err error) (PodLink, error) {
		_ = TeardownPod(lab, uid)
		return link, err
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: link.HostVeth, HardwareAddr: gatewayMAC, MTU: 1500},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(int(podNs)),
	}
	if err := lh.LinkAdd(veth); err != nil {
		return fail(fmt.Errorf("veth for pod %s: %w", uid, err))
	}
	ph, err := netlink.NewHandleAt(podNs)
	if err != nil {
		return fail(err)
	}
	defer ph.Close()
	eth0, err := ph.LinkByName("eth0")
	if err != nil {
		return fail(fmt.Errorf("pod %s eth0: %w", uid, err))
	}
	host, err := lh.LinkByName(link.HostVeth)
	if err != nil {
		return fail(err)
	}
	gw := hostNet(Gateway)
	steps := []struct {
		what string
		do   func() error
	}{
		{"pod lo up", func() error { return linkUp(ph, "lo") }},
		{"pod address", func() error { return ph.AddrAdd(eth0, &netlink.Addr{IPNet: hostNet(ip)}) }},
		{"pod eth0 up", func() error { return ph.LinkSetUp(eth0) }},
		{"gateway route", func() error {
			return ph.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: gw, Scope: netlink.SCOPE_LINK})
		}},
		{"default route", func() error {
			return ph.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw.IP})
		}},
		{"gateway neighbour", func() error {
			return ph.NeighSet(&netlink.Neigh{LinkIndex: eth0.Attrs().Index, Family: unix.AF_INET, IP: gw.IP, HardwareAddr: gatewayMAC, State: netlink.NUD_PERMANENT})
		}},
		{"lab side up", func() error { return lh.LinkSetUp(host) }},
		{"route to the pod", func() error {
			return lh.RouteReplace(&netlink.Route{LinkIndex: host.Attrs().Index, Dst: hostNet(ip), Scope: netlink.SCOPE_LINK})
		}},
		{"pod neighbour", func() error {
			return lh.NeighSet(&netlink.Neigh{LinkIndex: host.Attrs().Index, Family: unix.AF_INET, IP: ip.AsSlice(), HardwareAddr: eth0.Attrs().HardwareAddr, State: netlink.NUD_PERMANENT})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fail(fmt.Errorf("pod %s network: %s: %w", uid, s.what, err))
		}
	}
	return link, nil
}

// TeardownPod removes the pod's veth and namespace; what is already gone
// is fine. Its processes must have ended, or the namespace lives on in them.
func TeardownPod(lab string, uid types.UID) error {
	if labNs, err := netns.GetFromPath(NetnsPath(lab)); err == nil {
		if lh, err := netlink.NewHandleAt(labNs); err == nil {
			if l, err := lh.LinkByName(HostVeth(uid)); err == nil {
				_ = lh.LinkDel(l) // its route goes with it
			}
			lh.Close()
		}
		labNs.Close()
	}
	return remove(PodNetnsPath(lab, uid))
}
