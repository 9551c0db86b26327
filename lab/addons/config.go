package addons

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
)

// ClusterDomain is the lab's DNS domain, as on most clusters.
const ClusterDomain = "cluster.local"

// Ports of the add-ons inside the lab network namespace, on the infra
// address. The API server forwarder listens on the API server's own port.
const (
	DNSPort            = 53
	CoreDNSReadyPort   = 8181  // CoreDNS's ready plugin: 200 once its kubernetes plugin has synced
	KubeProxyHealthz   = 10256 // kube-proxy's healthz: 200 once it has programmed the Services
	KubeProxyMetrics   = 10249
	KubeDNSServiceName = "kube-dns"
)

// Config is what the add-ons need to know about the lab.
type Config struct {
	// Lab is the lab's name; processes carry REBOUND_LAB=Lab so `lab down`
	// finds them.
	Lab string
	// Netns is the path of the lab network namespace (/run/netns/…).
	Netns string
	// Dir holds the add-ons' configuration files; LogDir their logs.
	Dir, LogDir string
	// Bins is the folder with kube-proxy and coredns (`make lab-bins`).
	Bins string
	// Kubeconfig is the lab's admin kubeconfig; its server is the API server
	// on the host's loopback (https://127.0.0.1:PORT).
	Kubeconfig string
	// PodCIDR and ServiceCIDR are the cluster's ranges; NodePodCIDRs the
	// nodes' parts of PodCIDR, where pods get their addresses.
	PodCIDR, ServiceCIDR netip.Prefix
	NodePodCIDRs         []netip.Prefix
	// Infra is the lab's infra address inside the lab network namespace:
	// the API server's advertised address and CoreDNS's.
	Infra netip.Addr
	// DNSServiceIP is the kube-dns Service's ClusterIP.
	DNSServiceIP netip.Addr
	// NodeName is the node kube-proxy runs as (--hostname-override): the
	// lab runs one kube-proxy for all its nodes, in their shared namespace.
	NodeName string
}

// Validate names the first field that is missing or inconsistent.
func (c *Config) Validate() error {
	switch {
	case c.Lab == "" || c.Netns == "" || c.Dir == "" || c.LogDir == "" || c.Bins == "" || c.Kubeconfig == "":
		return fmt.Errorf("add-ons config of lab %q: lab, netns, folders, binaries and kubeconfig are all required", c.Lab)
	case !c.PodCIDR.IsValid() || !c.ServiceCIDR.IsValid():
		return fmt.Errorf("add-ons config of lab %q: pod CIDR %q and Service CIDR %q must both be set", c.Lab, c.PodCIDR, c.ServiceCIDR)
	case c.PodCIDR.Overlaps(c.ServiceCIDR):
		return fmt.Errorf("add-ons config of lab %q: pod CIDR %s overlaps Service CIDR %s", c.Lab, c.PodCIDR, c.ServiceCIDR)
	case !c.PodCIDR.Contains(c.Infra):
		return fmt.Errorf("add-ons config of lab %q: infra address %s is not in the pod CIDR %s", c.Lab, c.Infra, c.PodCIDR)
	case !c.ServiceCIDR.Contains(c.DNSServiceIP):
		return fmt.Errorf("add-ons config of lab %q: kube-dns address %s is not in the Service CIDR %s", c.Lab, c.DNSServiceIP, c.ServiceCIDR)
	case c.NodeName == "":
		return fmt.Errorf("add-ons config of lab %q: kube-proxy needs a node name", c.Lab)
	}
	return nil
}

// Paths of the generated files.
func (c *Config) innerKubeconfig() string { return filepath.Join(c.Dir, "kubeconfig.yaml") }
func (c *Config) kubeProxyConfig() string { return filepath.Join(c.Dir, "kube-proxy.yaml") }
func (c *Config) corefile() string        { return filepath.Join(c.Dir, "Corefile") }

// APIServerPort is the port of the server in an admin kubeconfig's URL.
func APIServerPort(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("API server URL %q: %w", server, err)
	}
	if u.Port() != "" {
		return u.Port(), nil
	}
	if u.Scheme == "https" {
		return "443", nil
	}
	return "", fmt.Errorf("API server URL %q names no port", server)
}
