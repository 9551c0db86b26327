package agent

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodDNS(t *testing.T) {
	t.Parallel()
	dns := netip.MustParseAddr("10.255.44.10")
	base := func(mod func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-0", Namespace: "shop"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
		mod(&p.Spec)
		return p
	}
	cluster := "nameserver 10.255.44.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"ClusterFirst", base(func(*corev1.PodSpec) {}), cluster},
		{"no policy set is ClusterFirst", base(func(s *corev1.PodSpec) { s.DNSPolicy = "" }), cluster},
		{"ClusterFirstWithHostNet on the host network", base(func(s *corev1.PodSpec) {
			s.DNSPolicy, s.HostNetwork = corev1.DNSClusterFirstWithHostNet, true
		}), cluster},
		{"ClusterFirst on the host network falls back to the node's (none)", base(func(s *corev1.PodSpec) { s.HostNetwork = true }), "nameserver 127.0.0.1\n"},
		{"Default is the node's resolver (none)", base(func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSDefault }), "nameserver 127.0.0.1\n"},
		{"None takes dnsConfig alone", base(func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.44.3.7"}, Searches: []string{"corp.example"}, Options: []corev1.PodDNSConfigOption{{Name: "edns0"}}}
		}), "nameserver 10.44.3.7\nsearch corp.example\noptions edns0\n"},
		{"dnsConfig is appended and its options win", base(func(s *corev1.PodSpec) {
			s.DNSConfig = &corev1.PodDNSConfig{
				Nameservers: []string{"10.255.44.10", "10.44.3.7"},
				Searches:    []string{"svc.cluster.local", "corp.example"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "single-request-reopen"}},
			}
		}), "nameserver 10.255.44.10\nnameserver 10.44.3.7\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:2 single-request-reopen\n"},
		{"at most 3 nameservers", base(func(s *corev1.PodSpec) {
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.44.3.1", "10.44.3.2", "10.44.3.3"}}
		}), "nameserver 10.255.44.10\nnameserver 10.44.3.1\nnameserver 10.44.3.2\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(PodDNS(tc.pod, dns))
			_, body, _ := strings.Cut(got, "\n") // the comment line
			if body != tc.want {
				t.Errorf("resolv.conf:\n%s\nwant:\n%s", body, tc.want)
			}
		})
	}
}

func TestHostsFileHasOnlyThePodsOwnEntries(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-0", Namespace: "demo"},
		Spec: corev1.PodSpec{Hostname: "etcd-0", Subdomain: "etcd", HostAliases: []corev1.HostAlias{
			{IP: "10.44.9.9", Hostnames: []string{"legacy", "legacy.corp"}},
		}},
	}
	got := string(HostsFile(pod, "10.44.1.2"))
	for _, want := range []string{
		"127.0.0.1\tlocalhost\n",
		"10.44.1.2\tetcd-0.etcd.demo.svc.cluster.local\tetcd-0\n",
		"# Entries added by HostAliases.\n10.44.9.9\tlegacy\tlegacy.corp\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts lacks %q:\n%s", want, got)
		}
	}
	plain := string(HostsFile(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9", Namespace: "demo"}}, "10.44.2.3"))
	if !strings.Contains(plain, "10.44.2.3\tweb-7d9\n") || strings.Contains(plain, "svc.cluster.local") || strings.Contains(plain, "HostAliases") {
		t.Errorf("a pod without subdomain or aliases:\n%s", plain)
	}
}
