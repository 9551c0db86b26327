package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
)

// Down deletes the lab and everything it made: the agent and every pod
// process, the control plane, the volume mounts, the mount targets it
// created on the host, and the state folder. Like rm -f, it succeeds on a
// lab that is not up. It reports what it could not remove.
func (l *Lab) Down(ctx context.Context) error {
	if !l.IsUp() && len(labnet.Leftovers(l.Name)) == 0 {
		l.say("lab %q is not up; nothing to do", l.Name)
		return nil
	}
	start := time.Now()
	l.stopAgent()
	killed := l.killStrays()
	var errs []error
	if l.clusterExists() {
		if _, err := l.kwokctl(ctx, "delete", "cluster"); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.unmountAll(); err != nil {
		errs = append(errs, err)
	}
	l.removeCreatedPaths()
	// After the processes: a namespace lives on in a process inside it.
	if err := labnet.Down(l.Name); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(l.Dir()); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", l.Dir(), err))
	}
	if left := l.Leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("left behind: %s", strings.Join(left, "; ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %q is down, but: %w", l.Name, err)
	}
	if killed > 0 {
		l.say("killed %d stray pod process(es)", killed)
	}
	l.say("lab %q is down (%.1fs)", l.Name, time.Since(start).Seconds())
	return nil
}

// Leftovers lists what of the lab is still on the machine: processes,
// mounts, network namespaces (their links, routes and rules live in them),
// listeners on the lab's node addresses, host routes or addresses in the
// lab's ranges, and the state folder. Empty after a clean Down.
func (l *Lab) Leftovers() []string {
	var out []string
	for _, ns := range labnet.Leftovers(l.Name) {
		out = append(out, "network namespace "+ns)
	}
	for _, a := range listenersIn(l.Network()) {
		out = append(out, "listener "+a)
	}
	if host, err := labnet.HostRanges(); err == nil {
		plan := l.NetPlan()
		for _, h := range host {
			if h.Prefix.Overlaps(plan.PodCIDR) || h.Prefix.Overlaps(plan.ServiceCIDR) {
				out = append(out, "host "+h.What)
			}
		}
	}
	for _, pid := range l.labProcesses() {
		out = append(out, fmt.Sprintf("process %d", pid))
	}
	for _, m := range mountsUnder(l.Dir()) {
		out = append(out, "mount "+m)
	}
	if _, err := os.Stat(l.Dir()); err == nil {
		out = append(out, "folder "+l.Dir())
	}
	return out
}

// labProcesses finds processes of this lab: pod processes carry
// REBOUND_LAB=<name> in their environment; the control plane and the agent
// have the lab's folder on their command line.
func (l *Lab) labProcesses() []int {
	entries, _ := os.ReadDir("/proc")
	tag := []byte(agent.LabEnv + "=" + l.Name + "\x00")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !processAlive(pid) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if slices.Contains(strings.SplitAfter(string(env), "\x00"), string(tag)) || strings.Contains(string(cmdline), l.Dir()+"/") || strings.Contains(string(cmdline), l.Dir()+"\x00") {
			out = append(out, pid)
		}
	}
	return out
}

// killStrays SIGKILLs what is left of the lab's pod processes.
func (l *Lab) killStrays() int {
	pids := l.labProcesses()
	var strays []int
	for _, pid := range pids {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if strings.Contains(string(env), agent.LabEnv+"="+l.Name+"\x00") {
			strays = append(strays, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	for i := 0; i < 50; i++ {
		alive := 0
		for _, pid := range strays {
			if processAlive(pid) {
				alive++
			}
		}
		if alive == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return len(strays)
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (l *Lab) unmountAll() error {
	var errs []error
	for _, m := range mountsUnder(l.Dir()) {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// removeCreatedPaths removes the mount targets the agent made on the host,
// deepest first, and only while they are empty: a user's file is never lost.
// A target that is a mount point in some process's mount namespace stays:
// another lab's container (a PostgreSQL of a second lab, with its data at
// the same path) has its volume there, and removing the folder would
// detach that volume under the running server.
func (l *Lab) removeCreatedPaths() {
	data, err := os.ReadFile(filepath.Join(l.Dir(), "created-paths"))
	if err != nil {
		return
	}
	paths := strings.Fields(string(data))
	slices.SortFunc(paths, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	inUse := mountPointsInUse()
	for _, p := range slices.Compact(paths) {
		if inUse[filepath.Clean(p)] {
			continue
		}
		if st, err := os.Lstat(p); err == nil && (st.IsDir() || st.Size() == 0) {
			_ = syscall.Rmdir(p)
			if !st.IsDir() {
				_ = os.Remove(p)
			}
		}
	}
}

// mountPointsInUse lists the mount points of every mount namespace on the
// host but the caller's own, with each folder above them, from
// /proc/PID/mountinfo (one process per namespace).
func mountPointsInUse() map[string]bool {
	out := map[string]bool{}
	self, _ := os.Readlink("/proc/self/ns/mnt")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	seen := map[string]bool{self: true}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "mnt"))
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "mountinfo"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			// id parent major:minor root mountpoint options ...
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			for p := filepath.Clean(unescapeMount(f[4])); p != "/" && p != "."; p = filepath.Dir(p) {
				out[p] = true
			}
		}
	}
	return out
}

// listenersIn lists the TCP listening sockets of the host's namespace on an
// address of net (the lab's node addresses), from /proc/net/tcp.
func listenersIn(net netip.Prefix) []string {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(f[1], ":")
		if !ok || len(hexAddr) != 8 {
			continue
		}
		v, err1 := strconv.ParseUint(hexAddr, 16, 32)
		port, err2 := strconv.ParseUint(hexPort, 16, 16)
		if err1 != nil || err2 != nil {
			continue
		}
		// The kernel prints the address in host byte order (little endian here).
		a := netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
		if net.Contains(a) {
			out = append(out, netip.AddrPortFrom(a, uint16(port)).String())
		}
	}
	return out
}
