package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/reboundhq/rebound/lab/addons"
	"github.com/reboundhq/rebound/lab/agent/podspec"
)

// ClusterDomain is the lab's DNS domain.
const ClusterDomain = addons.ClusterDomain

// The resolver's limits the kubelet keeps a pod's resolv.conf within.
const (
	maxNameservers = 3
	maxSearches    = 32
)

// PodDNS is a pod's /etc/resolv.conf as the kubelet writes it:
//
//   - dnsPolicy ClusterFirst (the default), and ClusterFirstWithHostNet:
//     the cluster DNS Service's address, the search path
//     <namespace>.svc.cluster.local svc.cluster.local cluster.local, and
//     ndots:5. The lab's nodes have no search domains of their own to add.
//   - Default, and ClusterFirst on a hostNetwork pod: the node's resolver.
//     The lab's nodes run with the kubelet's --resolv-conf="", so that is
//     127.0.0.1 and no search path: nothing answers there, so a name fails
//     at once and no query leaves the machine.
//   - None: dnsConfig alone.
//
// dnsConfig's nameservers and searches are then appended (duplicates
// dropped) and its options merged (a pod's option replaces one of the same
// name), within the resolver's limits of 3 nameservers and 32 search
// domains.
func PodDNS(pod *corev1.Pod, clusterDNS netip.Addr) []byte {
	var servers, searches, options []string
	switch policy := pod.Spec.DNSPolicy; {
	case policy == corev1.DNSNone:
	case policy == corev1.DNSDefault, policy != corev1.DNSClusterFirstWithHostNet && pod.Spec.HostNetwork:
		servers = []string{"127.0.0.1"}
	default:
		servers = []string{clusterDNS.String()}
		searches = []string{pod.Namespace + ".svc." + ClusterDomain, "svc." + ClusterDomain, ClusterDomain}
		options = []string{"ndots:5"}
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		servers = appendNew(servers, dc.Nameservers...)
		searches = appendNew(searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = slices.DeleteFunc(options, func(s string) bool { n, _, _ := strings.Cut(s, ":"); return n == o.Name })
			options = append(options, opt)
		}
	}
	servers = servers[:min(len(servers), maxNameservers)]
	searches = searches[:min(len(searches), maxSearches)]

	var b strings.Builder
	b.WriteString("# Written by the rebound lab agent, as the kubelet writes it.\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return []byte(b.String())
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

// HostsFile is a pod's /etc/hosts as the kubelet writes it: localhost, the
// pod's own address with its hostname (and its FQDN when it has a
// subdomain), then the pod's hostAliases. Every other name is the cluster
// DNS server's.
func HostsFile(pod *corev1.Pod, podIP string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (the rebound lab agent).\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := podspec.Hostname(pod)
	if pod.Spec.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", podIP, host, pod.Spec.Subdomain, pod.Namespace, ClusterDomain, host)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, host)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, ha := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", ha.IP, strings.Join(ha.Hostnames, "\t"))
		}
	}
	return []byte(b.String())
}
