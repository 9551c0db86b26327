package agent

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// apiServerAddr works out the address every container gets as
// $KUBERNETES_SERVICE_HOST and _PORT. On a cluster these name the
// default/kubernetes Service, whose ClusterIP kube-proxy routes to the
// endpoint in its EndpointSlice. The lab has no kube-proxy, so the
// containers get the endpoint itself. Its port is the EndpointSlice's; its
// address is the one the agent reaches the API server on (server, from the
// lab's kubeconfig): the slice names the address the API server advertises,
// the machine's own interface, where the lab's API server does not listen
// (it binds 127.0.0.1, and the lab's traffic stays on loopback). A slice
// whose port differs from server's is an error: the two would not be the
// same API server.
func apiServerAddr(ctx context.Context, client kubernetes.Interface, server string) (host, port string, err error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", "", fmt.Errorf("API server URL %q: %w", server, err)
	}
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	slices, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil {
		return "", "", fmt.Errorf("read the endpoints of service default/kubernetes: %w", err)
	}
	for _, s := range slices.Items {
		for _, p := range s.Ports {
			if p.Port == nil || (p.Name != nil && *p.Name != "https") {
				continue
			}
			if sp := strconv.Itoa(int(*p.Port)); sp != port {
				return "", "", fmt.Errorf("service default/kubernetes has its endpoint on port %s, but the agent reaches the API server at %s: not the same API server", sp, net.JoinHostPort(host, port))
			}
			return host, port, nil
		}
	}
	return "", "", fmt.Errorf("service default/kubernetes has no https endpoint yet")
}

// resolveAPIServer sets apiHost and apiPort, waiting up to a minute for the
// API server to publish its endpoint (it does so shortly after it starts).
func (a *Agent) resolveAPIServer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		host, port, err := apiServerAddr(ctx, a.client, a.server)
		if err == nil {
			a.apiHost, a.apiPort = host, port
			a.log.Info("containers reach the API server at", "KUBERNETES_SERVICE_HOST", host, "KUBERNETES_SERVICE_PORT", port)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the address containers reach the API server at: %w", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
