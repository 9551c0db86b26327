package agent

import (
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// kubernetesSlice is the EndpointSlice the API server publishes for the
// default/kubernetes Service: its advertised address and secure port.
func kubernetesSlice(port int32) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.2"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port)}},
	}
}

func TestAPIServerAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, server       string
		objs               []runtime.Object
		wantHost, wantPort string
		wantErr            string
	}{
		{name: "the slice's port, the kubeconfig's loopback address", server: "https://127.0.0.1:32764", objs: []runtime.Object{kubernetesSlice(32764)}, wantHost: "127.0.0.1", wantPort: "32764"},
		{name: "another API server", server: "https://127.0.0.1:6443", objs: []runtime.Object{kubernetesSlice(32764)}, wantErr: "port 32764"},
		{name: "not published yet", server: "https://127.0.0.1:6443", wantErr: "no https endpoint yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port, err := apiServerAddr(t.Context(), fake.NewClientset(tc.objs...), tc.server)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("apiServerAddr = %s:%s, %v; want an error saying %q", host, port, err, tc.wantErr)
				}
				return
			}
			if err != nil || host != tc.wantHost || port != tc.wantPort {
				t.Errorf("apiServerAddr = %q %q %v, want %q %q", host, port, err, tc.wantHost, tc.wantPort)
			}
		})
	}
}
