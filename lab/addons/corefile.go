package addons

import (
	"fmt"
	"net/netip"
	"strings"
)

// Corefile is CoreDNS's configuration for the lab: one server block for the
// cluster's zones (cluster.local, and the reverse zones of the pod and
// Service ranges) answered by the kubernetes plugin, and one for every other
// name, answered NXDOMAIN by the template plugin. There is no forward
// plugin: no query leaves the machine, and an outside name fails at once
// rather than after a resolver's time-out. Both listen on the infra address
// only; ready reports once the kubernetes plugin has synced.
func Corefile(c *Config) string {
	zones := []string{ClusterDomain, c.PodCIDR.Masked().String(), c.ServiceCIDR.Masked().String()}
	keys := make([]string, len(zones))
	for i, z := range zones {
		keys[i] = fmt.Sprintf("%s:%d", z, DNSPort)
	}
	var b strings.Builder
	b.WriteString("# Written by the rebound lab agent: the lab's cluster DNS (docs/lab.md).\n")
	b.WriteString("# No forward plugin: names outside the cluster get NXDOMAIN at once.\n")
	fmt.Fprintf(&b, "%s {\n", strings.Join(keys, " "))
	fmt.Fprintf(&b, "    bind %s\n", c.Infra)
	b.WriteString("    errors\n")
	fmt.Fprintf(&b, "    ready %s\n", netip.AddrPortFrom(c.Infra, CoreDNSReadyPort))
	fmt.Fprintf(&b, "    kubernetes %s {\n", strings.Join(zones, " "))
	fmt.Fprintf(&b, "        kubeconfig %s\n", c.innerKubeconfig())
	b.WriteString("        pods verified\n")
	b.WriteString("        ttl 5\n")
	b.WriteString("    }\n")
	b.WriteString("    loadbalance\n")
	b.WriteString("}\n")
	fmt.Fprintf(&b, ".:%d {\n", DNSPort)
	fmt.Fprintf(&b, "    bind %s\n", c.Infra)
	b.WriteString("    errors\n")
	b.WriteString("    template ANY ANY {\n")
	b.WriteString("        rcode NXDOMAIN\n")
	b.WriteString("    }\n")
	b.WriteString("}\n")
	return b.String()
}
