package labnet

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HostRange is a prefix the host's own network namespace already uses: a
// route or an interface address.
type HostRange struct {
	Prefix netip.Prefix
	What   string // "route 10.0.0.0/8 via 192.168.1.1 dev eth0", "address 10.1.2.3/24 on eth0"
	Guard  bool   // a lab's own guard route
}

// HostRanges lists the host namespace's routes (every table but the local
// one, whose entries are the addresses themselves) and addresses, IPv4
// only. Default routes are left out: they match every range, and the lab's
// ranges never meet them since they stay in the lab's namespaces.
func HostRanges() ([]HostRange, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list the host's routes: %w", err)
	}
	name := func(idx int) string {
		if l, err := netlink.LinkByIndex(idx); err == nil {
			return l.Attrs().Name
		}
		return fmt.Sprint(idx)
	}
	var out []HostRange
	for _, r := range routes {
		if r.Dst == nil || r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		if r.Protocol == guardProtocol {
			what := fmt.Sprintf("rebound lab guard route (unreachable) %s", r.Dst)
			if p, ok := prefixOf(r.Dst.IP, r.Dst.Mask); ok {
				out = append(out, HostRange{Prefix: p, What: what, Guard: true})
			}
			continue
		}
		p, ok := prefixOf(r.Dst.IP, r.Dst.Mask)
		if !ok || p.Bits() == 0 {
			continue
		}
		what := "route " + p.String()
		if r.Gw != nil {
			what += " via " + r.Gw.String()
		}
		what += " dev " + name(r.LinkIndex)
		out = append(out, HostRange{Prefix: p, What: what})
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list the host's addresses: %w", err)
	}
	for _, a := range addrs {
		p, ok := prefixOf(a.IP, a.Mask)
		if !ok || p.Addr().IsLoopback() {
			continue
		}
		out = append(out, HostRange{Prefix: p, What: fmt.Sprintf("address %s on %s", p, name(a.LinkIndex))})
	}
	return out, nil
}

func prefixOf(ip []byte, mask []byte) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}, false
	}
	ones := 32
	if mask != nil {
		ones = 0
		for _, b := range mask {
			for ; b != 0; b <<= 1 {
				ones++
			}
		}
	}
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Conflicts names every host range that overlaps one of the plan's, with
// the flag that moves the lab's range out of its way.
func (p Plan) Conflicts(host []HostRange) error {
	var msgs []string
	for _, r := range []struct {
		flag string
		pfx  netip.Prefix
	}{{"--pod-cidr", p.PodCIDR}, {"--service-cidr", p.ServiceCIDR}} {
		for _, h := range host {
			if h.Prefix.Overlaps(r.pfx) {
				msgs = append(msgs, fmt.Sprintf("the lab's %s %s overlaps %s on this machine: choose another range with %s", strings.TrimPrefix(r.flag, "--"), r.pfx, h.What, r.flag))
			}
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("address range conflict:\n  %s", strings.Join(msgs, "\n  "))
	}
	return nil
}
