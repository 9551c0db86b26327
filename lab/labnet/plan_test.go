package labnet

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPlanAddresses(t *testing.T) {
	p := DefaultPlan(44)
	for _, c := range []struct{ name, got, want string }{
		{"pod CIDR", p.PodCIDR.String(), "10.44.0.0/16"},
		{"service CIDR", p.ServiceCIDR.String(), "10.255.44.0/24"},
		{"node 1", p.NodePodCIDR(1).String(), "10.44.1.0/24"},
		{"node 250", p.NodePodCIDR(250).String(), "10.44.250.0/24"},
		{"infra", p.Infra().String(), "10.44.0.1"},
		{"kubernetes Service", p.KubernetesServiceIP().String(), "10.255.44.1"},
		{"kube-dns Service", p.DNSServiceIP().String(), "10.255.44.10"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
		}
	}
	wide := Plan{PodCIDR: netip.MustParsePrefix("172.16.0.0/12"), ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12")}
	if got := wide.NodePodCIDR(300).String(); got != "172.17.44.0/24" {
		t.Errorf("node 300 of a /12: got %s", got)
	}
}

func TestPlanValidate(t *testing.T) {
	for _, c := range []struct {
		name    string
		pod     string
		svc     string
		nodes   int
		wantErr string
	}{
		{"default", "10.44.0.0/16", "10.255.44.0/24", 6, ""},
		{"too small for the nodes", "10.44.0.0/22", "10.255.44.0/24", 6, "holds 3 node /24s"},
		{"a /24 holds no node", "10.44.0.0/24", "10.255.44.0/24", 1, "use a larger prefix"},
		{"overlap", "10.0.0.0/8", "10.255.44.0/24", 6, "overlap"},
		{"IPv6", "fd00::/48", "10.255.44.0/24", 6, "IPv4"},
		{"service range too small", "10.44.0.0/16", "10.255.44.0/30", 6, "/12 to /28"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Plan{PodCIDR: netip.MustParsePrefix(c.pod), ServiceCIDR: netip.MustParsePrefix(c.svc)}
			err := p.Validate(c.nodes)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}

func TestNextPodIP(t *testing.T) {
	cidr := netip.MustParsePrefix("10.44.3.0/24")
	taken := map[netip.Addr]bool{netip.MustParseAddr("10.44.3.2"): true}
	got, err := NextPodIP(cidr, func(a netip.Addr) bool { return taken[a] })
	if err != nil || got.String() != "10.44.3.3" {
		t.Fatalf("got %v %v, want 10.44.3.3", got, err)
	}
	all := func(netip.Addr) bool { return true }
	if _, err := NextPodIP(cidr, all); !errors.Is(err, ErrExhausted) {
		t.Fatalf("full range: got %v", err)
	}
	// .255 is broadcast and never handed out.
	last, _ := NextPodIP(cidr, func(a netip.Addr) bool { return a.As4()[3] < 254 })
	if last.String() != "10.44.3.254" {
		t.Fatalf("last address: got %v", last)
	}
}

func TestConflicts(t *testing.T) {
	p := DefaultPlan(44)
	host := []HostRange{
		{Prefix: netip.MustParsePrefix("192.168.1.0/24"), What: "route 192.168.1.0/24 dev eth0"},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), What: "route 10.0.0.0/8 via 192.168.1.1 dev eth0"},
	}
	err := p.Conflicts(host)
	if err == nil {
		t.Fatal("a 10/8 route overlaps both ranges, got no error")
	}
	for _, want := range []string{"pod-cidr 10.44.0.0/16 overlaps route 10.0.0.0/8 via 192.168.1.1 dev eth0", "with --pod-cidr", "with --service-cidr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if err := p.Conflicts(host[:1]); err != nil {
		t.Errorf("disjoint ranges: %v", err)
	}
}
