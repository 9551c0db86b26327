package agent

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pod(name, ip string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: map[string]string{"app": "etcd"}},
		Spec:       corev1.PodSpec{Hostname: name, Subdomain: "etcd"},
		Status:     corev1.PodStatus{PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func TestHostsFileResolvesLikeClusterDNS(t *testing.T) {
	t.Parallel()
	pods := []*corev1.Pod{pod("etcd-0", "127.30.1.1", true), pod("etcd-1", "127.30.1.2", false)}
	headless := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: "demo"},
		Spec:       corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true, Selector: map[string]string{"app": "etcd"}},
	}
	client := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-client", Namespace: "demo"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.0.0.1", Selector: map[string]string{"app": "etcd"}},
	}
	entries := HostsEntries(pods, []*corev1.Service{headless, client})
	same := string(HostsFile(pods[0], "127.30.1.1", entries))
	other := string(HostsFile(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "elsewhere"}}, "127.30.1.9", entries))
	for _, tc := range []struct {
		name, file, line string
		want             bool
	}{
		{"own FQDN", same, "127.30.1.1\tetcd-0.etcd.demo.svc.cluster.local etcd-0\n", true},
		{"not-ready peer behind a publishNotReadyAddresses headless service", same, "127.30.1.2\tetcd-1.etcd.demo.svc.cluster.local etcd-1.etcd.demo.svc etcd-1.etcd.demo etcd-1.etcd\n", true},
		{"ready pod behind the client service", same, "127.30.1.1\tetcd-client.demo.svc.cluster.local etcd-client.demo.svc etcd-client.demo etcd-client\n", true},
		{"not-ready pod is not behind the client service", same, "127.30.1.2\tetcd-client.demo", false},
		{"short names only in the same namespace", other, "etcd-client.demo.svc etcd-client.demo etcd-client\n", false},
		{"FQDN from another namespace", other, "127.30.1.1\tetcd-client.demo.svc.cluster.local etcd-client.demo.svc etcd-client.demo\n", true},
	} {
		if got := strings.Contains(tc.file, tc.line); got != tc.want {
			t.Errorf("%s: contains %q = %v, want %v; file:\n%s", tc.name, tc.line, got, tc.want, tc.file)
		}
	}
}

func TestResolvConfNamesTheClusterDNS(t *testing.T) {
	t.Parallel()
	conf := string(ResolvConf(pod("etcd-0", "10.30.1.2", true), netip.MustParseAddr("10.255.30.10")))
	if !strings.Contains(conf, "nameserver 10.255.30.10\n") || !strings.Contains(conf, "options ndots:5") {
		t.Errorf("nameserver must be the cluster DNS Service, with ndots:5:\n%s", conf)
	}
	if strings.Count(conf, "nameserver") != 1 || !strings.Contains(conf, "search demo.svc.cluster.local") {
		t.Errorf("resolv.conf:\n%s", conf)
	}
}
