// Package podexec starts one container of a lab pod as a host process inside
// its own mount and UTS namespaces: the pod's volumes bind-mounted at their
// mountPaths, its own /etc/hosts, its hostname. The agent re-executes the
// rebound binary (`rebound lab pod-exec`), which sets the namespace up and
// then execs the container's executable, so the process the agent watches is
// the container's own.
//
// It must not create anything on the host: mount targets are made, and
// recorded for removal, by the agent before the process starts.
package podexec
