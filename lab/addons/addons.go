package addons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/reboundhq/rebound/lab/labnet"
)

// Start writes the add-ons' configuration, routes the Service range in the
// lab network namespace, opens the API server forwarder and makes kube-dns,
// then starts kube-proxy and CoreDNS and keeps them running until ctx ends.
// It returns an error, having started nothing that outlives it, when one of
// those steps fails; otherwise wait, which returns once ctx has ended and
// everything it started has stopped.
func Start(ctx context.Context, c *Config, log *slog.Logger) (wait func(), err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	for _, d := range []string{c.Dir, c.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	admin, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("the lab's kubeconfig %s: %w", c.Kubeconfig, err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*admin, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the lab's kubeconfig %s: %w", c.Kubeconfig, err)
	}
	u, err := url.Parse(rc.Host)
	if err != nil {
		return nil, fmt.Errorf("the lab's kubeconfig %s: server %q: %w", c.Kubeconfig, rc.Host, err)
	}
	port, err := APIServerPort(rc.Host)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}

	// Files first: nothing runs on a half-written configuration.
	inner := InClusterKubeconfig(admin, APIServerURL(c.Infra, port))
	if err := clientcmd.WriteToFile(*inner, c.innerKubeconfig()+".tmp"); err != nil {
		return nil, fmt.Errorf("write %s: %w", c.innerKubeconfig(), err)
	}
	if err := os.Rename(c.innerKubeconfig()+".tmp", c.innerKubeconfig()); err != nil {
		return nil, err
	}
	kp, err := KubeProxyConfig(c)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(c.kubeProxyConfig(), kp); err != nil {
		return nil, err
	}
	if err := writeAtomic(c.corefile(), []byte(Corefile(c))); err != nil {
		return nil, err
	}
	if err := serviceRoute(c); err != nil {
		return nil, err
	}
	if err := applyHairpin(c); err != nil {
		return nil, err
	}

	addr := net.JoinHostPort(c.Infra.String(), port)
	l, err := labnet.Listen(c.Netns, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the API server forwarder cannot listen on %s in %s: %w", addr, c.Netns, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); forwardAPIServer(ctx, l, u.Host, log) }()
	log.Info("API server forwarder", "listen", addr, "netns", c.Netns, "target", u.Host)

	// kube-dns before CoreDNS and kube-proxy start; the API server has
	// been up for a while (lab up waits for it), so a failure is final
	// after a few tries.
	for i := 0; ; i++ {
		err = ensureKubeDNS(ctx, client, c)
		if err == nil || i == 10 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		l.Close()
		wg.Wait()
		return nil, err
	}

	s := &supervisor{cfg: c, log: log}
	for _, p := range []process{
		{name: "kube-proxy", path: filepath.Join(c.Bins, "kube-proxy"), args: []string{"--config", c.kubeProxyConfig()}},
		{name: "coredns", path: filepath.Join(c.Bins, "coredns"), args: []string{"-conf", c.corefile()}},
	} {
		wg.Add(1)
		go func() { defer wg.Done(); s.run(ctx, p) }()
	}
	return wg.Wait, nil
}

// APIServerURL is the API server's address inside the lab network
// namespace: the forwarder on the infra address.
func APIServerURL(infra netip.Addr, port string) string {
	return "https://" + net.JoinHostPort(infra.String(), port)
}

// InClusterKubeconfig is the admin kubeconfig with every cluster's server
// set to server (the forwarder): for kube-proxy and CoreDNS, which run
// inside the lab network namespace. The API server's certificate names the
// infra address, so TLS verifies as it does on the host's loopback.
func InClusterKubeconfig(admin *clientcmdapi.Config, server string) *clientcmdapi.Config {
	out := admin.DeepCopy()
	for _, cl := range out.Clusters {
		cl.Server = server
		cl.TLSServerName = ""
	}
	return out
}

// serviceRoute routes the Service range to lo inside the lab network
// namespace, from the infra address. Packets that pods send to a ClusterIP
// are forwarded there and DNATed by kube-proxy before any route lookup,
// but a connection opened in the lab namespace itself (`rebound lab exec`,
// hostNetwork pods, rebound's own dialer) is looked up before kube-proxy's
// output hook DNATs it: without a route it fails with "network is
// unreachable". The route goes with the namespace.
func serviceRoute(c *Config) error {
	ns, err := netns.GetFromPath(c.Netns)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", c.Netns, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", c.Netns, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo in %s: %w", c.Netns, err)
	}
	dst := c.ServiceCIDR.Masked()
	r := &netlink.Route{
		LinkIndex: lo.Attrs().Index,
		Dst:       &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Src:       c.Infra.AsSlice(),
	}
	if err := h.RouteReplace(r); err != nil {
		return fmt.Errorf("route the Service range %s in %s: %w", dst, c.Netns, err)
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Ready tells whether the add-ons serve: kube-proxy's healthz (it has
// programmed the Services) and CoreDNS's ready endpoint (its kubernetes
// plugin has synced), both asked inside the lab network namespace through
// dial. The error names what is not ready and where its log is.
func Ready(ctx context.Context, dial labnet.DialFunc, infra netip.Addr, logDir string) error {
	hc := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	var errs []error
	for _, chk := range []struct {
		name string
		port int
		path string
	}{
		{"kube-proxy", KubeProxyHealthz, "/healthz"},
		{"coredns", CoreDNSReadyPort, "/ready"},
	} {
		u := "http://" + net.JoinHostPort(infra.String(), strconv.Itoa(chk.port)) + chk.path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("%s answers %s", u, resp.Status)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is not ready (%v); see %s", chk.name, err, filepath.Join(logDir, chk.name+".log")))
		}
	}
	return errors.Join(errs...)
}
