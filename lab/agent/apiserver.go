package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/lab/addons"
)

// apiServerService works out what every container gets as
// $KUBERNETES_SERVICE_HOST and _PORT: as the kubelet sets them, the
// ClusterIP and https port of the default/kubernetes Service, which
// kube-proxy routes to the endpoint in its EndpointSlice. The API server
// advertises the lab's infra address there (its --advertise-address), where
// the API server forwarder listens inside the lab network namespace on the
// API server's own port. An endpoint elsewhere is an error naming the fix: a
// pod could not reach it.
func apiServerService(ctx context.Context, client kubernetes.Interface, server string, infra netip.Addr) (host, port string, err error) {
	apiPort, err := addons.APIServerPort(server)
	if err != nil {
		return "", "", err
	}
	svc, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read service default/kubernetes: %w", err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", "", fmt.Errorf("service default/kubernetes has no ClusterIP")
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == "https" || len(svc.Spec.Ports) == 1 {
			port = strconv.Itoa(int(p.Port))
		}
	}
	if port == "" {
		return "", "", fmt.Errorf("service default/kubernetes has no https port")
	}
	slices, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err != nil {
		return "", "", fmt.Errorf("read the endpoints of service default/kubernetes: %w", err)
	}
	want := net.JoinHostPort(infra.String(), apiPort)
	var found []string
	for _, s := range slices.Items {
		for _, p := range s.Ports {
			if p.Port == nil || (p.Name != nil && *p.Name != "https") {
				continue
			}
			for _, e := range s.Endpoints {
				for _, a := range e.Addresses {
					ep := net.JoinHostPort(a, strconv.Itoa(int(*p.Port)))
					if ep == want {
						return svc.Spec.ClusterIP, port, nil
					}
					found = append(found, ep)
				}
			}
		}
	}
	if len(found) == 0 {
		return "", "", fmt.Errorf("service default/kubernetes has no https endpoint yet")
	}
	return "", "", fmt.Errorf("service default/kubernetes routes to %v, but the lab forwards the API server at %s: the control plane was made by an older rebound or by hand; run `rebound lab down` and `rebound lab up`", found, want)
}

// resolveAPIServer sets apiHost and apiPort, waiting up to a minute for the
// API server to publish its endpoint (it does so shortly after it starts).
func (a *Agent) resolveAPIServer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		host, port, err := apiServerService(ctx, a.client, a.server, a.cfg.Net.Infra())
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
