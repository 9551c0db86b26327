// Package labnet is the lab's network: one network namespace per lab that
// holds every route, link and Service rule of the lab, and one per pod,
// linked to it by a veth pair.
//
// The design is routed, as Calico's: a pod's eth0 carries its IP as a /32
// with a default route through a link-local gateway (169.254.1.1) that the
// lab side of its veth answers for, and the lab namespace has a /32 route
// per pod. Every packet between pods, to a Service or to the lab's infra
// address therefore crosses the lab namespace's IP stack, where kube-proxy's
// nftables rules and the lab's fault rules see it. No bridge is needed, and
// nothing of the lab's ranges is ever routed in the host's namespace:
// rebound itself reaches pods through Dialer, which opens its sockets inside
// the lab namespace, and users through `rebound lab exec`.
package labnet
