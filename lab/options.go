package lab

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/reboundhq/rebound/lab/agent"
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

var regionRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// Running returns o shaped like the lab of its name as it was brought up
// (its nodes, zones and region, read from the state the agent runs on),
// and whether that lab is up; o unchanged and false when it is not. A
// command that acts on a lab by name (a second lab standing for a DR
// region) uses it, so it need not repeat how the lab was made.
func (o Options) Running() (Options, bool) {
	cfg, err := agent.LoadConfig(o.Dir())
	if err != nil || len(cfg.Nodes) == 0 {
		return o, false
	}
	zones := map[string]bool{}
	for _, n := range cfg.Nodes {
		zones[n.Zone] = true
	}
	o.Nodes, o.Zones, o.Region = len(cfg.Nodes), len(zones), cfg.Nodes[0].Region
	o.PodCIDR, o.ServiceCIDR = cfg.Net.PodCIDR, cfg.Net.ServiceCIDR
	return o, true
}

// Validate checks the options and names the fix.
func (o Options) Validate() error {
	switch {
	case !nameRE.MatchString(o.Name):
		return fmt.Errorf("lab name %q: use 1 to 32 lower-case letters, digits and dashes", o.Name)
	case o.Zones < 1 || o.Zones > 26:
		return fmt.Errorf("--zones %d: a lab has 1 to 26 zones", o.Zones)
	case o.Nodes < o.Zones || o.Nodes > 250:
		return fmt.Errorf("--nodes %d: a lab has at least one node per zone (%d) and at most 250", o.Nodes, o.Zones)
	case !regionRE.MatchString(o.Region):
		return fmt.Errorf("--region %q: use 1 to 32 lower-case letters, digits and dashes, like lab-2 (its zones are lab-2a, lab-2b, …)", o.Region)
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
// side do not clash; so are the default pod and Service ranges. Two names
// that hash alike are refused (Preflight, for labs of the same state
// folder; Up, through NetworkInUse, for any), naming the fix: another
// --name.
func (o Options) Network() netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(o.Name))
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(20 + h.Sum32()%200), 0, 0}), 16)
}

// NetworkInUse names an address of the lab's loopback range that something
// already listens on (a lab of another state folder whose name hashes
// alike, which Preflight cannot see), read from /proc/net/tcp; empty when
// the range is free or that cannot be read. Up checks it for a lab that is
// not up yet.
func (o Options) NetworkInUse() string {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return ""
	}
	return listenerIn(string(data), o.Network())
}

// listenerIn returns the first listening address of a /proc/net/tcp table
// that lies in p.
func listenerIn(table string, p netip.Prefix) string {
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
			continue
		}
		host, port, ok := strings.Cut(f[1], ":")
		if !ok || len(host) != 8 {
			continue
		}
		b, err := hex.DecodeString(host)
		if err != nil {
			continue
		}
		// The kernel writes the address as a little-endian word.
		addr := netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]})
		if p.Contains(addr) {
			n, _ := strconv.ParseUint(port, 16, 16)
			return netip.AddrPortFrom(addr, uint16(n)).String()
		}
	}
	return ""
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
