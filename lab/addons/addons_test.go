package addons

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	proxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"sigs.k8s.io/yaml"
)

func testConfig() *Config {
	return &Config{
		Lab: "t", Netns: "/run/netns/rebound-t", Dir: "/state/addons", LogDir: "/state/logs", Bins: "/bins",
		Kubeconfig: "/state/kubeconfig.yaml", NodeName: "lab-1a-1",
		PodCIDR: netip.MustParsePrefix("10.44.0.0/16"), ServiceCIDR: netip.MustParsePrefix("10.255.44.0/24"),
		Infra: netip.MustParseAddr("10.44.0.1"), DNSServiceIP: netip.MustParseAddr("10.255.44.10"),
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"complete", func(*Config) {}, ""},
		{"no kubeconfig", func(c *Config) { c.Kubeconfig = "" }, "kubeconfig"},
		{"ranges overlap", func(c *Config) { c.ServiceCIDR = netip.MustParsePrefix("10.44.200.0/24") }, "overlaps"},
		{"infra outside the pod range", func(c *Config) { c.Infra = netip.MustParseAddr("10.45.0.1") }, "infra address 10.45.0.1"},
		{"DNS outside the Service range", func(c *Config) { c.DNSServiceIP = netip.MustParseAddr("10.255.45.10") }, "kube-dns address"},
		{"no node", func(c *Config) { c.NodeName = "" }, "node name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.change(c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCorefileServesTheClusterOnlyAndNeverForwards(t *testing.T) {
	t.Parallel()
	cf := Corefile(testConfig())
	for _, want := range []string{
		"cluster.local:53 10.44.0.0/16:53 10.255.44.0/24:53 {\n",
		"    kubernetes cluster.local 10.44.0.0/16 10.255.44.0/24 {\n",
		"        kubeconfig /state/addons/kubeconfig.yaml\n",
		"        pods verified\n",
		"    ready 10.44.0.1:8181\n",
		".:53 {\n",
		"        rcode NXDOMAIN\n",
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("Corefile lacks %q:\n%s", want, cf)
		}
	}
	if n := strings.Count(cf, "    bind 10.44.0.1\n"); n != 2 {
		t.Errorf("every server block must bind the infra address only; %d of 2 do:\n%s", n, cf)
	}
	for _, banned := range []string{"forward", "proxy ", "/etc/resolv.conf", "fallthrough"} {
		for _, line := range strings.Split(cf, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, banned) {
				t.Errorf("Corefile line %q sends queries on (%q): no query may leave the machine", line, banned)
			}
		}
	}
	if strings.Count(cf, "{") != strings.Count(cf, "}") {
		t.Errorf("unbalanced braces:\n%s", cf)
	}
}

func TestKubeProxyConfig(t *testing.T) {
	t.Parallel()
	data, err := KubeProxyConfig(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var got proxyv1alpha1.KubeProxyConfiguration
	if err := yaml.UnmarshalStrict(data, &got); err != nil {
		t.Fatalf("kube-proxy would not read its config: %v\n%s", err, data)
	}
	checks := []struct {
		field, got, want string
	}{
		{"kind", got.Kind, "KubeProxyConfiguration"},
		{"apiVersion", got.APIVersion, "kubeproxy.config.k8s.io/v1alpha1"},
		{"mode", string(got.Mode), "nftables"},
		{"clusterCIDR", got.ClusterCIDR, "10.44.0.0/16"},
		{"detectLocalMode", string(got.DetectLocalMode), "ClusterCIDR"},
		{"hostnameOverride", got.HostnameOverride, "lab-1a-1"},
		{"bindAddress", got.BindAddress, "10.44.0.1"},
		{"healthzBindAddress", got.HealthzBindAddress, "10.44.0.1:10256"},
		{"clientConnection.kubeconfig", got.ClientConnection.Kubeconfig, "/state/addons/kubeconfig.yaml"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if got.NFTables.MasqueradeAll {
		t.Error("masqueradeAll hides pod IPs from servers behind a Service")
	}
	// The host's conntrack table is not the lab's to size; zero leaves it.
	ct := got.Conntrack
	if ct.MaxPerCore == nil || *ct.MaxPerCore != 0 || ct.Min == nil || *ct.Min != 0 ||
		ct.TCPEstablishedTimeout == nil || ct.TCPEstablishedTimeout.Duration != 0 || ct.TCPCloseWaitTimeout == nil || ct.TCPCloseWaitTimeout.Duration != 0 {
		t.Errorf("conntrack = %+v, want every sysctl left alone (zeros)", ct)
	}
	if got.OOMScoreAdj == nil || *got.OOMScoreAdj != 0 {
		t.Errorf("oomScoreAdj = %v, want 0 (kube-proxy's default -999 would make it outlive the user's processes)", got.OOMScoreAdj)
	}
}

func TestInClusterKubeconfig(t *testing.T) {
	t.Parallel()
	admin := &clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"kwok-rebound-t": {Server: "https://127.0.0.1:32764", CertificateAuthority: "/pki/ca.crt"}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"admin": {ClientCertificate: "/pki/admin.crt", ClientKey: "/pki/admin.key"}},
		Contexts:       map[string]*clientcmdapi.Context{"c": {Cluster: "kwok-rebound-t", AuthInfo: "admin"}},
		CurrentContext: "c",
	}
	port, err := APIServerPort(admin.Clusters["kwok-rebound-t"].Server)
	if err != nil || port != "32764" {
		t.Fatalf("APIServerPort = %q, %v", port, err)
	}
	got := InClusterKubeconfig(admin, APIServerURL(netip.MustParseAddr("10.44.0.1"), port))
	if s := got.Clusters["kwok-rebound-t"].Server; s != "https://10.44.0.1:32764" {
		t.Errorf("server = %q, want the forwarder https://10.44.0.1:32764", s)
	}
	if got.Clusters["kwok-rebound-t"].CertificateAuthority != "/pki/ca.crt" || got.AuthInfos["admin"].ClientKey != "/pki/admin.key" {
		t.Errorf("credentials changed: %+v %+v", got.Clusters["kwok-rebound-t"], got.AuthInfos["admin"])
	}
	if admin.Clusters["kwok-rebound-t"].Server != "https://127.0.0.1:32764" {
		t.Error("the admin kubeconfig was changed in place")
	}
}

func TestEnsureKubeDNS(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := testConfig()
	t.Run("made when missing, kept when there", func(t *testing.T) {
		cs := fake.NewClientset()
		for range 2 {
			if err := ensureKubeDNS(ctx, cs, c); err != nil {
				t.Fatal(err)
			}
		}
		svc, err := cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP != "10.255.44.10" || len(svc.Spec.Selector) != 0 || len(svc.Spec.Ports) != 2 {
			t.Errorf("kube-dns = %+v, want ClusterIP 10.255.44.10, no selector, 53/UDP and 53/TCP", svc.Spec)
		}
		slice, err := cs.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns-lab", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if slice.Labels["kubernetes.io/service-name"] != "kube-dns" || slice.Endpoints[0].Addresses[0] != "10.44.0.1" {
			t.Errorf("EndpointSlice = %+v, want kube-dns's endpoint at the infra address", slice)
		}
		names := map[string]corev1.Protocol{}
		for _, p := range slice.Ports {
			names[*p.Name] = *p.Protocol
		}
		for _, p := range svc.Spec.Ports {
			if names[p.Name] != p.Protocol {
				t.Errorf("Service port %s/%s has no EndpointSlice port of that name and protocol: kube-proxy would not route it", p.Name, p.Protocol)
			}
		}
	})
	t.Run("another ClusterIP is refused with the fix", func(t *testing.T) {
		other := KubeDNSService(c)
		other.Spec.ClusterIP, other.Spec.ClusterIPs = "10.255.44.53", []string{"10.255.44.53"}
		err := ensureKubeDNS(ctx, fake.NewClientset(other), c)
		if err == nil || !strings.Contains(err.Error(), "delete service kube-dns") {
			t.Errorf("ensureKubeDNS = %v, want an error naming the fix", err)
		}
	})
}

// TestForwarderSplicesBothWays runs the API server forwarder on loopback
// in front of an echo server standing in for the API server.
func TestForwarderSplicesBothWays(t *testing.T) {
	t.Parallel()
	apiStandIn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer apiStandIn.Close()
	go func() {
		for {
			c, err := apiStandIn.Accept()
			if err != nil {
				return
			}
			go func() {
				// Echo until the client's half close, then say goodbye.
				_, _ = io.Copy(c, c)
				_, _ = c.Write([]byte("bye\n"))
				c.Close()
			}()
		}
	}()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		forwardAPIServer(ctx, front, apiStandIn.Addr().String(), slog.New(slog.DiscardHandler))
		close(done)
	}()

	c, err := net.Dial("tcp", front.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("echo through the forwarder = %q, %v", line, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "bye\n" {
		t.Errorf("after the client's half close: %q, %v; want the server's last words and EOF", rest, err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the forwarder did not stop when its context ended")
	}
	if _, err := net.Dial("tcp", front.Addr().String()); err == nil {
		t.Error("the forwarder still accepts after its context ended")
	}
}

func TestHairpinTableCoversEveryPodAddressOfTheNodes(t *testing.T) {
	t.Parallel()
	tbl := HairpinTable([]netip.Prefix{netip.MustParsePrefix("10.44.1.0/24"), netip.MustParsePrefix("10.44.2.0/24")})
	for _, want := range []string{
		"table ip rebound-hairpin\ndelete table ip rebound-hairpin\n", // replaces itself in one transaction
		"10.44.1.2 . 10.44.1.2, ", "10.44.1.254 . 10.44.1.254, 10.44.2.2 . 10.44.2.2, ", "10.44.2.254 . 10.44.2.254 }",
		"type nat hook postrouting priority srcnat;",
		"ct status dnat ip saddr . ip daddr @pods masquerade fully-random",
	} {
		if !strings.Contains(tbl, want) {
			t.Errorf("hairpin table lacks %q", want)
		}
	}
	for _, never := range []string{"10.44.1.1 ", "10.44.1.255", "10.44.0."} {
		if strings.Contains(tbl, never) {
			t.Errorf("hairpin table holds %q, which no pod gets", never)
		}
	}
	if n := strings.Count(tbl, "10.44.") / 2; n != 2*253 {
		t.Errorf("%d elements, want 253 per node range", n)
	}
}
