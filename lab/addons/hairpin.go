package addons

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// HairpinTable is the nftables table the lab adds beside kube-proxy's so a
// pod that reaches itself through a Service gets an answer. kube-proxy
// masquerades such hairpin connections only for the endpoints of its own
// node (its hairpin-connections set holds local endpoints): on a cluster
// every node's kube-proxy covers its own pods, but the lab runs one
// kube-proxy, as one node, for all nodes. This table does for every
// address of the nodes' pod ranges what kube-proxy does for local ones: a
// DNATed packet whose source and destination are the same pod is
// masqueraded, so the reply comes back through the lab namespace.
func HairpinTable(nodeRanges []netip.Prefix) string {
	var elems []string
	for _, r := range nodeRanges {
		r = r.Masked()
		for a := r.Addr().Next().Next(); r.Contains(a) && r.Contains(a.Next()); a = a.Next() {
			elems = append(elems, a.String()+" . "+a.String())
		}
	}
	var b strings.Builder
	b.WriteString("table ip rebound-hairpin\ndelete table ip rebound-hairpin\n")
	b.WriteString("table ip rebound-hairpin {\n\tcomment \"rebound lab: masquerade pods reaching themselves through a Service (docs/lab.md)\"\n")
	b.WriteString("\tset pods {\n\t\ttype ipv4_addr . ipv4_addr\n")
	if len(elems) > 0 {
		fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	b.WriteString("\t\tct status dnat ip saddr . ip daddr @pods masquerade fully-random\n\t}\n}\n")
	return b.String()
}

// applyHairpin loads HairpinTable into the lab network namespace in one
// nft transaction.
func applyHairpin(c *Config) error {
	cmd := exec.Command("nsenter", "--net="+c.Netns, "--", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(HairpinTable(c.NodePodCIDRs))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("load the lab's hairpin rules into %s: %w: %s", c.Netns, err, strings.TrimSpace(out.String()))
	}
	return nil
}
