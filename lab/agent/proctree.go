package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// A container's processes are every process in its mount namespace, which
// pod-exec makes for it: a server that puts a child in a session of its own
// (Patroni starts PostgreSQL with setsid) leaves the container's process
// group but not its namespace. Signalling the namespace, as a runtime
// signals a container's cgroup, is what makes a node stop or a freeze reach
// the whole container rather than its first process only.

// mountNS names the mount namespace of pid ("mnt:[4026532481]"), or "" when
// it cannot be read.
func mountNS(pid int) string {
	ns, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", "mnt"))
	if err != nil {
		return ""
	}
	return ns
}

// inNamespace lists the processes whose mount namespace is ns.
func inNamespace(ns string) []int {
	if ns == "" || ns == mountNS(os.Getpid()) {
		return nil // never the agent's own namespace
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if mountNS(pid) == ns {
			out = append(out, pid)
		}
	}
	return out
}

// signalNamespace sends sig to the process group of pid and to every
// process of the mount namespace ns. A SIGKILL stops them all first, so
// none forks or restarts another while the others die.
func signalNamespace(pid int, ns string, sig syscall.Signal) {
	if pid != 0 {
		_ = syscall.Kill(-pid, sig)
	}
	procs := inNamespace(ns)
	if sig == syscall.SIGKILL {
		for _, p := range procs {
			_ = syscall.Kill(p, syscall.SIGSTOP)
		}
		procs = inNamespace(ns)
	}
	for _, p := range procs {
		_ = syscall.Kill(p, sig)
	}
}
