// Package lab runs rebound's local Kubernetes: the real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, built from pinned
// Go modules by `make lab-bins` and started by kwokctl's binary runtime) and
// the lab node agent (package agent), which registers nodes over zones and
// runs the pods of known images as real processes. It also offers the
// lab-only fault mechanisms: node power (stop, freeze, start) and disk
// faults on the lab's volumes.
//
// The harness never depends on this package to talk to a cluster: to it the
// lab is one Kubernetes among others. Only what must be lab-specific is here.
package lab
