package lab

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"

	"github.com/reboundhq/rebound/lab/labnet"
)

// Options describe a lab.
type Options struct {
	Name         string // the lab's name; several labs can run side by side
	Nodes        int    // nodes in all
	Zones        int    // zones the nodes are spread over, round robin
	Region       string
	InstanceType string
	StateDir     string // root of all labs' state; the lab's own is StateDir/labs/Name
	BinDir       string // the binaries `make lab-bins` built
	ImagesFile   string // a user's image mapping, read in front of the built-in one
	// PodCIDR and ServiceCIDR override the lab's address ranges (zero:
	// derived from the name, see NetPlan).
	PodCIDR, ServiceCIDR netip.Prefix
	// Binary is the rebound binary the node agent runs as; default this
	// executable ($REBOUND_BINARY overrides, for tests that drive the lab
	// from a test binary).
	Binary string
}

// Defaults for a lab.
const (
	DefaultName   = "rebound"
	DefaultNodes  = 6
	DefaultZones  = 3
	DefaultRegion = "lab-1"
)

// DefaultOptions reads REBOUND_LAB, REBOUND_STATE_DIR and REBOUND_LAB_BINS.
func DefaultOptions() Options {
	home, _ := os.UserHomeDir()
	o := Options{
		Name: envOr("REBOUND_LAB", DefaultName), Nodes: DefaultNodes, Zones: DefaultZones,
		Region: DefaultRegion, InstanceType: "lab.standard-4",
		StateDir: envOr("REBOUND_STATE_DIR", filepath.Join(envOr("XDG_STATE_HOME", filepath.Join(home, ".local", "state")), "rebound")),
		BinDir:   envOr("REBOUND_LAB_BINS", filepath.Join(envOr("XDG_CACHE_HOME", filepath.Join(home, ".cache")), "rebound", "bin")),
		Binary:   os.Getenv("REBOUND_BINARY"),
	}
	return o
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// Validate checks the options and names the fix.
func (o Options) Validate() error {
	switch {
	case !nameRE.MatchString(o.Name):
		return fmt.Errorf("lab name %q: use 1 to 32 lower-case letters, digits and dashes", o.Name)
	case o.Zones < 1 || o.Zones > 26:
		return fmt.Errorf("--zones %d: a lab has 1 to 26 zones", o.Zones)
	case o.Nodes < o.Zones || o.Nodes > 250:
		return fmt.Errorf("--nodes %d: a lab has at least one node per zone (%d) and at most 250", o.Nodes, o.Zones)
	}
	return o.NetPlan().Validate(o.Nodes)
}

// Dir is the lab's own state folder.
func (o Options) Dir() string { return filepath.Join(o.StateDir, "labs", o.Name) }

// ClusterName is the kwokctl cluster behind the lab.
func (o Options) ClusterName() string { return "rebound-" + o.Name }

// KwokWorkdir is kwokctl's work folder for this lab.
func (o Options) KwokWorkdir() string { return filepath.Join(o.Dir(), "kwok") }

// PKIDir is where kwokctl keeps the lab's certificates: the cluster CA
// (ca.crt, ca.key) and the admin's (admin.crt, admin.key).
func (o Options) PKIDir() string {
	return filepath.Join(o.KwokWorkdir(), "clusters", o.ClusterName(), "pki")
}

// Kubeconfig is the path of the lab's kubeconfig.
func (o Options) Kubeconfig() string {
	return filepath.Join(o.KwokWorkdir(), "clusters", o.ClusterName(), "kubeconfig.yaml")
}

// Network is the loopback /16 of this lab: nodes get x.y.0.n (their
// kubelet API listens there). It is derived from the name so labs side by
// side do not clash; so are the default pod and Service ranges.
func (o Options) Network() netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(o.Name))
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(20 + h.Sum32()%200), 0, 0}), 16)
}

// ZoneName is the name of zone i (0-based): lab-1a, lab-1b, …
func (o Options) ZoneName(i int) string { return fmt.Sprintf("%s%c", o.Region, 'a'+i) }

// NetPlan is the lab's pod and Service ranges: --pod-cidr/--service-cidr,
// or by default 10.y.0.0/16 and 10.255.y.0/24 with y of Network.
func (o Options) NetPlan() labnet.Plan {
	p := labnet.DefaultPlan(o.Network().Addr().As4()[1])
	if o.PodCIDR.IsValid() {
		p.PodCIDR = o.PodCIDR.Masked()
	}
	if o.ServiceCIDR.IsValid() {
		p.ServiceCIDR = o.ServiceCIDR.Masked()
	}
	return p
}
