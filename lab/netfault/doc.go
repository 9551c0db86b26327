// Package netfault applies and heals network faults inside the lab's
// network namespace: partitions and packet loss between sets of addresses
// (pods, a node's pod CIDR, a zone's pod CIDRs) with nftables, and
// bandwidth limits on pod links with a tbf qdisc. Each fault is one chain
// and its own sets in rebound's table (inet "rebound-faults"), jumped to
// from base chains on the forward hook (pod traffic is routed in the lab
// namespace) and the input and output hooks (the lab's infra address), so
// several faults coexist and healing one leaves the others. Every fault is
// recorded in a state folder before it touches the kernel, so a fault left
// by a killed process can still be healed by ID.
//
// It must not act outside the namespaces it is given: it adds no host
// route, no host rule and no host qdisc, and it never applies a fault it
// cannot apply exactly: a delay on a kernel without netem is an error
// (ErrNoNetem), never a silent no-op. It knows nothing of Kubernetes; the
// lab (and the lab's Chaos Mesh controller) resolve pods, nodes and zones
// to addresses and links first.
package netfault
