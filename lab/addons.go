package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reboundhq/rebound/lab/addons"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/logging"
)

// waitAddons waits until the agent's kube-proxy has programmed the
// Services and CoreDNS serves the cluster's names, so a pod that starts
// after `lab up` finds its Services and names at once.
func (l *Lab) waitAddons(ctx context.Context, timeout time.Duration) error {
	dial, infra, logs := labnet.Dialer(l.Name), l.NetPlan().Infra(), filepath.Join(l.Dir(), "logs")
	deadline := time.Now().Add(timeout)
	defer logging.Heartbeat(ctx, "kube-proxy and CoreDNS to be ready", timeout)()
	for {
		err := addons.Ready(ctx, dial, infra, logs)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the lab's Services and DNS are not ready after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nftablesProbe is a sample of what kube-proxy's nftables mode programs:
// a verdict map keyed by address, protocol and port, DNAT, numgen load
// balancing, a masquerade mark, fib and conntrack matches, and reject.
const nftablesProbe = `table ip rebound-check {
	map services {
		type ipv4_addr . inet_proto . inet_service : verdict
	}
	chain endpoint {
		ip saddr 10.0.0.2 meta mark set meta mark or 0x4000
		meta l4proto tcp dnat to 10.0.0.2:80
	}
	chain service {
		numgen random mod 2 vmap { 0 : goto endpoint, 1 : goto endpoint }
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat
		ip daddr . meta l4proto . th dport vmap @services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat
		meta mark & 0x4000 == 0x4000 masquerade fully-random
	}
	chain filter-forward {
		type filter hook forward priority filter
		ct state invalid drop
		fib daddr type local accept
		ip daddr 10.0.0.3 reject
	}
}
`

// checkServices checks what the lab's Services need: the nft command and
// a kernel whose nf_tables can hold kube-proxy's rules (5.13 or later, as
// kube-proxy's nftables mode requires). The rules are tried in a
// throwaway network namespace, so the host's are never touched.
func checkServices() error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("%w: nft is not installed (kube-proxy's nftables mode runs it to program the lab's Services): install Debian's nftables (`make deps` does)", ErrNotReady)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		release := unix.ByteSliceToString(u.Release[:])
		if !kernelAtLeast(release, 5, 13) {
			return fmt.Errorf("%w: kube-proxy's nftables mode needs Linux 5.13 or later, and this is %s: use a newer kernel", ErrNotReady, release)
		}
	}
	dir, err := os.MkdirTemp("", "rebound-nft-check")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rules := filepath.Join(dir, "check.nft")
	if err := os.WriteFile(rules, []byte(nftablesProbe), 0o600); err != nil {
		return err
	}
	out, err := exec.Command("unshare", "--net", "--", "nft", "-f", rules).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: this kernel cannot hold kube-proxy's nftables rules (%v: %s): it needs nf_tables with NAT, conntrack, numgen, fib and reject (CONFIG_NF_TABLES, CONFIG_NFT_NAT, CONFIG_NFT_CT, CONFIG_NFT_NUMGEN, CONFIG_NFT_FIB_IPV4, CONFIG_NFT_REJECT, CONFIG_NFT_MASQ); load the nf_tables modules or use a kernel built with them",
			ErrNotReady, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// kernelAtLeast tells whether a kernel release ("6.1.0-18-amd64") is at
// least major.minor; an unreadable release passes (the rules check runs
// anyway).
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}
