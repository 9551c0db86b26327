// Package addons runs the lab's cluster add-ons, the parts a cluster
// installer (kubeadm) adds beside the control plane so that pods find the API
// server, Services and names: a forwarder that carries the API server's
// advertised address (the lab's infra address, inside the lab network
// namespace) to the API server on the host's loopback; kube-proxy in
// nftables mode, which routes ClusterIP Services inside the lab network
// namespace; and CoreDNS with its kubernetes plugin, which serves
// cluster.local there, behind the kube-dns Service it keeps. It writes their
// configuration, supervises their processes (restarting them when they exit)
// and stops them when its context ends.
//
// It must not touch pods, their network namespaces or anything on the host's
// side but the API server connections it forwards: every listener, process
// and rule it makes lives in the lab network namespace, and no DNS query it
// answers is ever forwarded off the machine.
package addons
