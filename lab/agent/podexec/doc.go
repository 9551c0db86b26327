// Package podexec starts one container of a lab pod as a host process inside
// its own mount and UTS namespaces: a private /tmp and /run (tmpfs, gone with
// the container), the pod's volumes bind-mounted at their mountPaths, its own
// /etc/hosts and /etc/resolv.conf, its hostname, and the container's user
// (uid, gid, supplementary groups) set last, after the mounts. The agent
// re-executes the rebound binary (`rebound lab pod-exec`), which sets the
// namespace up as root and then execs the container's executable, so the
// process the agent watches is the container's own.
//
// It must not create anything on the host: mount targets are made, and
// recorded for removal, by the agent before the process starts; only targets
// inside the private /tmp and /run are made by the child, in its own tmpfs.
package podexec
