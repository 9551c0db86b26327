package agent

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// kubernetesService is the default/kubernetes Service the API server keeps.
func kubernetesService(ip string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}},
	}
}

// kubernetesSlice is the EndpointSlice the API server publishes for the
// default/kubernetes Service: its advertised address and secure port.
func kubernetesSlice(addr string, port int32) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port)}},
	}
}

func TestAPIServerService(t *testing.T) {
	t.Parallel()
	infra := netip.MustParseAddr("10.44.0.1")
	for _, tc := range []struct {
		name, server       string
		objs               []runtime.Object
		wantHost, wantPort string
		wantErr            string
	}{
		{name: "the Service's ClusterIP and port, as the kubelet sets them", server: "https://127.0.0.1:32764",
			objs: []runtime.Object{kubernetesService("10.255.44.1"), kubernetesSlice("10.44.0.1", 32764)}, wantHost: "10.255.44.1", wantPort: "443"},
		{name: "an endpoint the forwarder does not serve", server: "https://127.0.0.1:32764",
			objs: []runtime.Object{kubernetesService("10.255.44.1"), kubernetesSlice("192.0.2.2", 32764)}, wantErr: "rebound lab down"},
		{name: "another API server's port", server: "https://127.0.0.1:6443",
			objs: []runtime.Object{kubernetesService("10.255.44.1"), kubernetesSlice("10.44.0.1", 32764)}, wantErr: "10.44.0.1:6443"},
		{name: "endpoint not published yet", server: "https://127.0.0.1:6443",
			objs: []runtime.Object{kubernetesService("10.255.44.1")}, wantErr: "no https endpoint yet"},
		{name: "no Service yet", server: "https://127.0.0.1:6443", wantErr: "default/kubernetes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port, err := apiServerService(t.Context(), fake.NewClientset(tc.objs...), tc.server, infra)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("apiServerService = %s:%s, %v; want an error saying %q", host, port, err, tc.wantErr)
				}
				return
			}
			if err != nil || host != tc.wantHost || port != tc.wantPort {
				t.Errorf("apiServerService = %q %q %v, want %q %q", host, port, err, tc.wantHost, tc.wantPort)
			}
		})
	}
}
