package labnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RegistryDir holds one file per running lab network (its plan), which is
// how Dial finds the namespace an address lives in. It is on /run, as the
// namespaces are, so neither outlives a reboot.
const RegistryDir = "/run/rebound/net"

// Network is a lab's network as registered while it is up.
type Network struct {
	Lab  string `json:"lab"`
	Plan Plan   `json:"plan"`
}

func registryPath(lab string) string { return filepath.Join(RegistryDir, lab+".json") }

// Up creates (or completes) the lab namespace: loopback up with the infra
// address on it, forwarding on, and registers the network for Dial. A
// namespace it created is removed again if a later step fails.
func Up(n Network) (rerr error) {
	path := NetnsPath(n.Lab)
	var ns netns.NsHandle
	if _, err := os.Stat(path); err == nil {
		if ns, err = netns.GetFromPath(path); err != nil {
			return fmt.Errorf("network namespace %s: %w", path, err)
		}
	} else {
		var err error
		if ns, err = create(path); err != nil {
			return err
		}
		defer func() {
			if rerr != nil {
				_ = remove(path)
			}
		}()
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo in %s: %w", path, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up in %s: %w", path, err)
	}
	if err := h.AddrReplace(lo, &netlink.Addr{IPNet: hostNet(n.Plan.Infra())}); err != nil {
		return fmt.Errorf("infra address %s in %s: %w", n.Plan.Infra(), path, err)
	}
	err = doIn(ns, func() error {
		for _, s := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"} {
			v := "1"
			if s != "net/ipv4/ip_forward" {
				v = "0"
			}
			if err := os.WriteFile("/proc/sys/"+s, []byte(v), 0o644); err != nil {
				return fmt.Errorf("sysctl %s in the lab namespace: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := guard(n.Plan, true); err != nil {
		return err
	}
	data, _ := json.Marshal(n)
	if err := os.MkdirAll(RegistryDir, 0o755); err != nil {
		return err
	}
	tmp := registryPath(n.Lab) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, registryPath(n.Lab))
}

// Down removes every namespace of lab (pods' first), its guard routes and
// its registration. The links, routes, addresses and nftables rules inside
// the namespaces go with them.
func Down(lab string) error {
	var errs []error
	for _, n := range Registered() {
		if n.Lab == lab {
			if err := guard(n.Plan, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.Remove(registryPath(lab)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	ns := Namespaces(lab)
	for i := len(ns) - 1; i >= 0; i-- { // "rebound-x" sorts before "rebound-x.pod-…"
		if err := remove(ns[i]); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(RegistryDir) // only when empty, as its parent
	_ = os.Remove(filepath.Dir(RegistryDir))
	return errors.Join(errs...)
}

// Leftovers names what of lab's network still exists.
func Leftovers(lab string) []string {
	out := Namespaces(lab)
	if _, err := os.Stat(registryPath(lab)); err == nil {
		out = append(out, registryPath(lab))
	}
	return out
}

// Registered lists the networks of the labs that are up.
func Registered() []Network {
	entries, _ := os.ReadDir(RegistryDir)
	var out []Network
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(RegistryDir, e.Name()))
		if err != nil {
			continue
		}
		var n Network
		if json.Unmarshal(data, &n) == nil && n.Lab != "" {
			out = append(out, n)
		}
	}
	return out
}

// Contains tells whether a is one of the network's addresses.
func (n Network) Contains(a netip.Addr) bool {
	return n.Plan.PodCIDR.Contains(a) || n.Plan.ServiceCIDR.Contains(a)
}

func linkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return h.LinkSetUp(l)
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

// guardProtocol marks the host routes the lab adds (rtnetlink protocol
// numbers above 4 are free for routing daemons; 0xb5 is unused by those
// iproute2 lists), so they are told apart from the machine's own.
const guardProtocol = netlink.RouteProtocol(0xb5)

// guard adds (or removes) an unreachable route in the host's namespace for
// each of the plan's ranges: a connection to a pod or Service IP made from
// the host's namespace by mistake (a tool run without `lab exec`) fails at
// once with "no route to host" instead of following the default route off
// the machine. The routes send nothing anywhere.
func guard(p Plan, add bool) error {
	for _, pfx := range []netip.Prefix{p.PodCIDR, p.ServiceCIDR} {
		r := &netlink.Route{Dst: &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), 32)}, Type: unix.RTN_UNREACHABLE, Protocol: guardProtocol}
		var err error
		if add {
			err = netlink.RouteReplace(r)
		} else if err = netlink.RouteDel(r); errors.Is(err, unix.ESRCH) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("guard route for %s in the host's namespace: %w", pfx, err)
		}
	}
	return nil
}

// Guarded tells whether the host's namespace holds the lab's guard route
// for a, so nothing sent to a from the host leaves the machine.
func Guarded(a netip.Addr) bool {
	routes, err := netlink.RouteGet(a.AsSlice())
	return err != nil && errors.Is(err, unix.EHOSTUNREACH) || len(routes) > 0 && routes[0].Type == unix.RTN_UNREACHABLE
}
