package addons

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// EndpointSlice the lab keeps for kube-dns; the EndpointSlice controller
// leaves slices of other managers alone.
const ManagedBy = "lab.rebound.dev"

// KubeDNSService is the kube-system/kube-dns Service: a ClusterIP Service
// with the lab's DNS address, ports 53/UDP and 53/TCP, and no selector:
// CoreDNS is no pod but a process of the lab, so its EndpointSlice
// (KubeDNSEndpointSlice) is kept by the lab, and kube-proxy routes the
// Service to it as to any other.
func KubeDNSService(c *Config) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: KubeDNSServiceName, Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "app.kubernetes.io/managed-by": ManagedBy},
		},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  c.DNSServiceIP.String(),
			ClusterIPs: []string{c.DNSServiceIP.String()},
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: DNSPort, TargetPort: intstr.FromInt32(DNSPort)},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: DNSPort, TargetPort: intstr.FromInt32(DNSPort)},
			},
		},
	}
}

// KubeDNSEndpointSlice points kube-dns at CoreDNS on the infra address.
func KubeDNSEndpointSlice(c *Config) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: KubeDNSServiceName + "-lab", Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{discoveryv1.LabelServiceName: KubeDNSServiceName, discoveryv1.LabelManagedBy: ManagedBy},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{c.Infra.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To[int32](DNSPort)},
			{Name: ptr.To("dns-tcp"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](DNSPort)},
		},
	}
}

// ensureKubeDNS creates the kube-dns Service and its EndpointSlice, or
// brings them back to what the lab needs. A kube-dns Service with another
// ClusterIP is an error: the ClusterIP cannot change, and pods' resolv.conf
// name the lab's.
func ensureKubeDNS(ctx context.Context, client kubernetes.Interface, c *Config) error {
	want := KubeDNSService(c)
	svcs := client.CoreV1().Services(metav1.NamespaceSystem)
	got, err := svcs.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := svcs.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create Service kube-system/kube-dns: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read Service kube-system/kube-dns: %w", err)
	case got.Spec.ClusterIP != want.Spec.ClusterIP:
		return fmt.Errorf("Service kube-system/kube-dns has ClusterIP %s, but the lab's DNS address is %s: delete the Service (kubectl -n kube-system delete service kube-dns) and the agent makes it again", got.Spec.ClusterIP, want.Spec.ClusterIP)
	default:
		got.Spec.Ports, got.Spec.Selector = want.Spec.Ports, nil
		if _, err := svcs.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update Service kube-system/kube-dns: %w", err)
		}
	}
	wantSlice := KubeDNSEndpointSlice(c)
	slices := client.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem)
	gotSlice, err := slices.Get(ctx, wantSlice.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := slices.Create(ctx, wantSlice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create EndpointSlice kube-system/%s: %w", wantSlice.Name, err)
		}
	case err != nil:
		return fmt.Errorf("read EndpointSlice kube-system/%s: %w", wantSlice.Name, err)
	default:
		gotSlice.Labels, gotSlice.Endpoints, gotSlice.Ports = wantSlice.Labels, wantSlice.Endpoints, wantSlice.Ports
		if _, err := slices.Update(ctx, gotSlice, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update EndpointSlice kube-system/%s: %w", wantSlice.Name, err)
		}
	}
	return nil
}
