package netfault

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of a network fault.
type Kind string

// Fault kinds.
const (
	// Partition drops every packet between From and To, both ways.
	Partition Kind = "partition"
	// Loss drops Percent of the packets between From and To, both ways.
	Loss Kind = "loss"
	// Bandwidth limits the rate of the pod links in Links, both ways.
	Bandwidth Kind = "bandwidth"
	// Delay delays the packets of the pod links in Links. It needs the
	// kernel's netem qdisc; without it Apply returns ErrNoNetem.
	Delay Kind = "delay"
)

// Kinds lists the fault kinds.
var Kinds = []Kind{Partition, Loss, Bandwidth, Delay}

// Direction is which way a fault acts.
type Direction string

// Directions. Chaos Mesh's "to" (from the target pods to the others) is
// Egress; its "from" is Ingress.
const (
	// Both acts on packets both ways; the default.
	Both Direction = "both"
	// Egress acts on packets leaving From for To (a pod's outgoing
	// traffic on a pod link).
	Egress Direction = "egress"
	// Ingress acts on packets entering From from To (a pod's incoming
	// traffic on a pod link).
	Ingress Direction = "ingress"
)

func (d Direction) egress() bool  { return d != Ingress }
func (d Direction) ingress() bool { return d != Egress }

// ID names an applied fault.
type ID string

// Errors callers branch on.
var (
	// ErrNoNetem is a delay fault on a kernel built without netem.
	ErrNoNetem = errors.New("this kernel has no netem qdisc (kernel option CONFIG_NET_SCH_NETEM), so the lab cannot delay packets; use a kernel built with CONFIG_NET_SCH_NETEM=y or =m, or a loss or bandwidth fault instead")
	// ErrUnknownFault is an ID no applied fault has.
	ErrUnknownFault = errors.New("no such network fault")
	// ErrExists is an ID already taken by an applied fault.
	ErrExists = errors.New("a network fault with this ID is already applied")
	// ErrBusyLink is a pod link that already carries a bandwidth or delay fault.
	ErrBusyLink = errors.New("the pod link already carries a bandwidth or delay fault")
)

// Fault describes one network fault. Partition and loss act on addresses
// (From, To); bandwidth and delay act on pod links (Links).
type Fault struct {
	Kind Kind `json:"kind"`
	// ID names the fault: 1 to 40 lower-case letters, digits and dashes,
	// starting with a letter or digit. Empty: Apply picks one. A caller
	// that journals the fault before applying it (to heal it after a
	// crash) sets it.
	ID ID `json:"id,omitempty"`
	// From is one side of a partition or loss: pod addresses (/32), a
	// node's pod CIDR, a zone's nodes' pod CIDRs. IPv4 only.
	From []netip.Prefix `json:"from,omitempty"`
	// To is the other side; empty means every address not in From (the
	// lab's infra address and the other pods included).
	To []netip.Prefix `json:"to,omitempty"`
	// Direction is which way the fault acts; empty is Both. A round trip
	// through a Both loss of p% fails with 1-(1-p)² odds (51% for 30%).
	Direction Direction `json:"direction,omitempty"`
	// Percent of the packets a loss fault drops, 1 to 100.
	Percent int `json:"percent,omitempty"`
	// Rate is a bandwidth fault's rate in bits per second.
	Rate uint64 `json:"rate,omitempty"`
	// Burst is the bytes a bandwidth fault lets through at once (the
	// token bucket's size); 0 picks one from Rate.
	Burst uint32 `json:"burst,omitempty"`
	// Limit is the bytes a bandwidth fault queues before dropping; 0
	// picks one from Rate.
	Limit uint32 `json:"limit,omitempty"`
	// Latency is a delay fault's added delay.
	Latency time.Duration `json:"latency,omitempty"`
	// Links are the pod links a bandwidth or delay fault shapes.
	Links []PodLink `json:"links,omitempty"`
	// Labels are the caller's notes, kept with the fault and returned by
	// List and Get (the lab notes there which nodes' heartbeats it cut).
	Labels map[string]string `json:"labels,omitempty"`
}

// PodLink is a pod's link pair: the host side in the lab namespace and
// eth0 inside the pod's namespace.
type PodLink struct {
	// Name says whose link it is (namespace/pod), for messages.
	Name string `json:"name"`
	// HostVeth is the pod's veth in the lab namespace; a qdisc there
	// shapes the traffic to the pod.
	HostVeth string `json:"hostVeth"`
	// Netns is the path of the pod's network namespace; a qdisc on its
	// eth0 shapes the traffic from the pod.
	Netns string `json:"netns"`
}

// Applied is a fault in effect.
type Applied struct {
	Fault
	Since time.Time `json:"since"`
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Validate checks a fault and names every problem with its field and fix.
func (f Fault) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if f.ID != "" && !idRE.MatchString(string(f.ID)) {
		bad("id %q: use 1 to 40 lower-case letters, digits and dashes, starting with a letter or digit", f.ID)
	}
	checkPrefixes := func(field string, ps []netip.Prefix) {
		for i, p := range ps {
			if !p.IsValid() || !p.Addr().Is4() {
				bad("%s[%d] %v: want an IPv4 address or prefix such as 10.20.1.0/24 (the lab is IPv4)", field, i, p)
			}
		}
	}
	addrFault := func() {
		if len(f.From) == 0 {
			bad("from: a %s needs at least one address or prefix to act on", f.Kind)
		}
		checkPrefixes("from", f.From)
		checkPrefixes("to", f.To)
		if len(f.Links) > 0 {
			bad("links: a %s acts on addresses (from, to), not on pod links", f.Kind)
		}
	}
	linkFault := func() {
		if len(f.Links) == 0 {
			bad("links: a %s needs at least one pod link to shape", f.Kind)
		}
		for i, l := range f.Links {
			if l.HostVeth == "" && l.Netns == "" {
				bad("links[%d] (%s): give the pod's host veth, its netns path or both", i, l.Name)
			}
		}
		if len(f.From) > 0 || len(f.To) > 0 {
			bad("from, to: a %s acts on pod links, not on addresses", f.Kind)
		}
	}
	switch f.Direction {
	case "", Both, Egress, Ingress:
	default:
		bad("direction %q: want %s, %s or %s", f.Direction, Both, Egress, Ingress)
	}
	switch f.Kind {
	case Partition:
		addrFault()
		if f.Percent != 0 {
			bad("percent: a partition drops every packet; for a share of them use a loss fault")
		}
	case Loss:
		addrFault()
		if f.Percent < 1 || f.Percent > 100 {
			bad("percent %d: want 1 to 100", f.Percent)
		}
	case Bandwidth:
		linkFault()
		if f.Rate < 8 {
			bad("rate %d bit/s: want at least 8 bit/s, e.g. 1mbit", f.Rate)
		}
		if f.Rate/8 >= 1<<32 {
			bad("rate %d bit/s: want under 32 Gbit/s", f.Rate)
		}
	case Delay:
		linkFault()
		if f.Latency <= 0 {
			bad("latency %s: want a positive delay such as 100ms", f.Latency)
		}
	default:
		bad("kind %q: want one of %v", f.Kind, Kinds)
	}
	return errors.Join(errs...)
}

// rateUnits are tc's rate units: bit-based and byte-based ("bps" is bytes
// per second, as in tc and Chaos Mesh).
var rateUnits = []struct {
	suffix string
	bits   uint64
}{
	{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
	{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
}

// ParseRate reads a rate as tc writes it ("1mbit", "500kbit", "2mbps";
// bps is bytes per second) and returns bits per second.
func ParseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, u := range rateUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v <= 0 {
				break
			}
			return uint64(v * float64(u.bits)), nil
		}
	}
	return 0, fmt.Errorf("rate %q: want a number and a unit, such as 1mbit, 500kbit or 2mbps (bit, kbit, mbit, gbit, tbit; bps, kbps, mbps, gbps, tbps are bytes per second)", s)
}

// FormatRate writes bits per second as tc would.
func FormatRate(bits uint64) string {
	for _, u := range rateUnits[:5] {
		if bits >= u.bits && bits%u.bits == 0 {
			return strconv.FormatUint(bits/u.bits, 10) + u.suffix
		}
	}
	return strconv.FormatUint(bits, 10) + "bit"
}

// String describes a fault in one line.
func (f Fault) String() string {
	side := func(ps []netip.Prefix) string {
		if len(ps) == 0 {
			return "everything else"
		}
		s := make([]string, len(ps))
		for i, p := range ps {
			s[i] = p.String()
		}
		return strings.Join(s, ",")
	}
	links := func() string {
		s := make([]string, len(f.Links))
		for i, l := range f.Links {
			s[i] = l.Name
		}
		return strings.Join(s, ",")
	}
	dir := ""
	if f.Direction == Egress || f.Direction == Ingress {
		dir = " (" + string(f.Direction) + " only)"
	}
	switch f.Kind {
	case Partition:
		return fmt.Sprintf("partition %s from %s%s", side(f.From), side(f.To), dir)
	case Loss:
		return fmt.Sprintf("drop %d%% between %s and %s%s", f.Percent, side(f.From), side(f.To), dir)
	case Bandwidth:
		return fmt.Sprintf("limit %s to %s%s", links(), FormatRate(f.Rate), dir)
	case Delay:
		return fmt.Sprintf("delay %s by %s%s", links(), f.Latency, dir)
	}
	return string(f.Kind)
}
