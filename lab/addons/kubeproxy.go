package addons

import (
	"fmt"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	componentbaseconfigv1alpha1 "k8s.io/component-base/config/v1alpha1"
	proxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// KubeProxyConfig is kube-proxy's configuration file for the lab:
//
//   - mode nftables, its rules in the lab network namespace it runs in;
//   - clusterCIDR the pod range, so traffic from outside it to a Service
//     (the lab namespace itself: `rebound lab exec`, hostNetwork pods) is
//     masqueraded, and a pod reaching itself through a Service (hairpin) is
//     too, as kube-proxy always does;
//   - bindAddress the infra address: kube-proxy takes it as its node IP, so
//     NodePorts answer on it inside the lab network namespace;
//   - healthz and metrics on the infra address;
//   - no conntrack sysctls and no OOM score change: those are the host's
//     (nf_conntrack_max cannot be set from a network namespace anyway).
func KubeProxyConfig(c *Config) ([]byte, error) {
	cfg := proxyv1alpha1.KubeProxyConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: proxyv1alpha1.SchemeGroupVersion.String(), Kind: "KubeProxyConfiguration"},
		Mode:     "nftables",
		ClientConnection: componentbaseconfigv1alpha1.ClientConnectionConfiguration{
			Kubeconfig: c.innerKubeconfig(), QPS: 50, Burst: 100,
		},
		HostnameOverride:   c.NodeName,
		BindAddress:        c.Infra.String(),
		HealthzBindAddress: netip.AddrPortFrom(c.Infra, KubeProxyHealthz).String(),
		MetricsBindAddress: netip.AddrPortFrom(c.Infra, KubeProxyMetrics).String(),
		ClusterCIDR:        c.PodCIDR.Masked().String(),
		DetectLocalMode:    "ClusterCIDR",
		NFTables: proxyv1alpha1.KubeProxyNFTablesConfiguration{
			SyncPeriod:    metav1.Duration{Duration: 30 * time.Second},
			MinSyncPeriod: metav1.Duration{Duration: 100 * time.Millisecond},
		},
		OOMScoreAdj: ptr.To[int32](0),
		Conntrack: proxyv1alpha1.KubeProxyConntrackConfiguration{
			MaxPerCore:            ptr.To[int32](0),
			Min:                   ptr.To[int32](0),
			TCPEstablishedTimeout: &metav1.Duration{},
			TCPCloseWaitTimeout:   &metav1.Duration{},
		},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube-proxy configuration: %w", err)
	}
	return out, nil
}
