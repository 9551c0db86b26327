package labnet

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
)

// CheckKernel makes a throwaway network namespace with a veth pair in it,
// which is what every lab pod needs, and names the missing kernel option
// when that fails.
func CheckKernel() error {
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("this kernel has no network namespaces (CONFIG_NET_NS): the lab gives every pod one; use a kernel built with it")
	}
	path := filepath.Join(NetnsDir, fmt.Sprintf("rebound-check-%d", os.Getpid()))
	ns, err := create(path)
	if err != nil {
		return fmt.Errorf("cannot create a network namespace (%v): the lab needs root and CONFIG_NET_NS", err)
	}
	defer func() { ns.Close(); _ = remove(path) }()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in a new network namespace: %w", err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "check0"}, PeerName: "check1"}); err != nil {
		return fmt.Errorf("cannot create a veth pair (%v): the lab links pods with them; load the veth module or use a kernel with CONFIG_VETH", err)
	}
	return nil
}
