package agent

import (
	"context"
	"net/netip"
	"path/filepath"

	"github.com/reboundhq/rebound/lab/addons"
	"github.com/reboundhq/rebound/lab/labnet"
)

// addonsConfig is what the lab's add-ons (API server forwarder, kube-proxy,
// CoreDNS) need from the agent's config. kube-proxy runs as the first
// node: one kube-proxy serves every node, as they share the lab namespace.
func (a *Agent) addonsConfig() *addons.Config {
	var ranges []netip.Prefix
	for _, n := range a.cfg.Nodes {
		ranges = append(ranges, n.PodCIDR)
	}
	return &addons.Config{
		Lab: a.cfg.Name, Netns: labnet.NetnsPath(a.cfg.Name),
		Dir: filepath.Join(a.cfg.StateDir, "addons"), LogDir: a.cfg.LogDir(), Bins: a.cfg.LabBins,
		Kubeconfig: a.cfg.Kubeconfig, PodCIDR: a.cfg.Net.PodCIDR, ServiceCIDR: a.cfg.Net.ServiceCIDR, NodePodCIDRs: ranges,
		Infra: a.cfg.Net.Infra(), DNSServiceIP: a.cfg.Net.DNSServiceIP(), NodeName: a.cfg.Nodes[0].Name,
	}
}

// startAddons starts the add-ons; the returned wait blocks until they
// stopped after ctx ended.
func (a *Agent) startAddons(ctx context.Context) (wait func(), err error) {
	return addons.Start(ctx, a.addonsConfig(), a.log)
}
