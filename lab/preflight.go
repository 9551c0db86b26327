package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/reboundhq/rebound/lab/labnet"
)

// ErrNotReady is returned when the machine cannot run the lab; the error
// text names the fix.
var ErrNotReady = errors.New("the lab cannot run here")

// Binaries the lab needs from `make lab-bins`.
var labBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwokctl", "kube-proxy", "coredns"}

// Preflight checks everything the lab needs before anything is started.
func Preflight(o Options) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("%w: the lab runs pods as Linux processes in mount namespaces, and this is %s; use a Linux machine or VM, or point rebound at a real cluster with --kubeconfig", ErrNotReady, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: the lab node agent needs root (mount namespaces, tmpfs volumes); run it with sudo, or point rebound at a real cluster with --kubeconfig", ErrNotReady)
	}
	var missing []string
	for _, b := range labBinaries {
		if st, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s in %s: run `make lab-bins` (or set REBOUND_LAB_BINS to where they are)", ErrNotReady, strings.Join(missing, ", "), o.BinDir)
	}
	for _, tool := range []string{"nsenter", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s is not installed (exec probes use nsenter, and setpriv for containers that run as a user): install util-linux", ErrNotReady, tool)
		}
	}
	if err := labnet.CheckKernel(); err != nil {
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	}
	if err := checkServices(); err != nil {
		return err
	}
	// Labs side by side need their own networks; names pick them.
	others, _ := filepath.Glob(filepath.Join(o.StateDir, "labs", "*"))
	for _, dir := range others {
		other := o
		other.Name = filepath.Base(dir)
		if other.Name != o.Name && other.Network() == o.Network() {
			return fmt.Errorf("%w: lab %q already uses the loopback network %s that lab %q would get; choose another --name", ErrNotReady, other.Name, o.Network(), o.Name)
		}
	}
	// Every 127/8 address is on lo on Linux; check this lab's range is usable.
	probe := o.Network().Addr().Next()
	l, err := net.Listen("tcp", net.JoinHostPort(probe.String(), "0"))
	if err != nil {
		return fmt.Errorf("%w: cannot listen on the lab's loopback range %s (%v): check that lo carries 127.0.0.0/8", ErrNotReady, o.Network(), err)
	}
	l.Close()
	return nil
}

// CheckRanges refuses a new lab whose pod or Service range meets a route or
// address of this machine, or the ranges of another lab that is up.
func CheckRanges(o Options) error {
	plan := o.NetPlan()
	host, err := labnet.HostRanges()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	}
	// A guard route left by this lab's last run is its own, not a conflict.
	host = slices.DeleteFunc(host, func(h labnet.HostRange) bool {
		return h.Guard && (h.Prefix == plan.PodCIDR || h.Prefix == plan.ServiceCIDR)
	})
	for _, n := range labnet.Registered() {
		if n.Lab == o.Name {
			continue
		}
		for _, p := range []netip.Prefix{n.Plan.PodCIDR, n.Plan.ServiceCIDR} {
			host = append(host, labnet.HostRange{Prefix: p, What: fmt.Sprintf("a range of lab %q", n.Lab)})
		}
	}
	if err := plan.Conflicts(host); err != nil {
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	}
	return nil
}
