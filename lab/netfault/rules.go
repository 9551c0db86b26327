package netfault

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is rebound's own nftables table (family inet) in the lab
// namespace. It holds nothing but fault rules; deleting it heals them all.
const TableName = "rebound-faults"

// basePriority puts the fault chains just before the filter chains of
// other tables (kube-proxy's). A drop anywhere is final, so the order only
// matters for counters.
const basePriority = -5

// baseChains are rebound's base chains: forward sees the routed traffic
// between pods, input and output the traffic of the lab namespace itself
// (the infra address's DNS and API forwarders, hostNetwork pods).
var baseChains = []struct {
	name string
	hook *nftables.ChainHook
}{
	{"forward", nftables.ChainHookForward},
	{"input", nftables.ChainHookInput},
	{"output", nftables.ChainHookOutput},
}

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

func baseChain(t *nftables.Table, name string, hook *nftables.ChainHook) *nftables.Chain {
	return &nftables.Chain{
		Name: name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: hook,
		Priority: nftables.ChainPriorityRef(basePriority),
	}
}

// Names of a fault's own chain and sets.
func chainName(id ID) string   { return "f-" + string(id) }
func fromSetName(id ID) string { return "f-" + string(id) + "-from" }
func toSetName(id ID) string   { return "f-" + string(id) + "-to" }

// addrRange is [lo, hi], both inclusive.
type addrRange struct{ lo, hi netip.Addr }

// ranges turns prefixes into sorted, merged ranges: an interval set
// refuses overlapping elements.
func ranges(ps []netip.Prefix) []addrRange {
	var rs []addrRange
	for _, p := range ps {
		p = p.Masked()
		lo := p.Addr()
		hi := lo.As4()
		n := binary.BigEndian.Uint32(hi[:]) | (1<<(32-p.Bits()) - 1)
		binary.BigEndian.PutUint32(hi[:], n)
		rs = append(rs, addrRange{lo, netip.AddrFrom4(hi)})
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return a.lo.Compare(b.lo) })
	var out []addrRange
	for _, r := range rs {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if next := last.hi.Next(); !next.IsValid() || r.lo.Compare(next) <= 0 {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// setElements are the interval set elements of prefixes: each range's
// first address, and the address after its last flagged as an interval
// end (none for a range that reaches 255.255.255.255).
func setElements(ps []netip.Prefix) []nftables.SetElement {
	var els []nftables.SetElement
	for _, r := range ranges(ps) {
		els = append(els, nftables.SetElement{Key: r.lo.AsSlice()})
		if end := r.hi.Next(); end.IsValid() {
			els = append(els, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return els
}

// addrSet is a fault's set of IPv4 prefixes.
func addrSet(t *nftables.Table, name string, id uint32) *nftables.Set {
	return &nftables.Set{Table: t, Name: name, ID: id, KeyType: nftables.TypeIPAddr, Interval: true}
}

// IPv4 header offsets of the source and destination addresses.
const (
	offSaddr = 12
	offDaddr = 16
)

// ipv4 matches IPv4 packets (the table is inet).
func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

// inSet matches the packet's address at off (in or not in) set s.
func inSet(off uint32, s *nftables.Set, in bool) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: !in},
	}
}

// chance passes percent of the packets: a random number mod 100, turned
// big-endian (cmp compares bytes), below percent.
func chance(percent int) []expr.Any {
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(uint32(percent))},
	}
}

// faultRules are the rules of a partition or loss fault's own chain, one
// per direction the fault acts in. With a To set: from→to (egress) and
// to→from (ingress). Without: packets
// that cross the edge of From, leaving it or entering it (traffic inside
// From passes). A loss rule adds its chance; each packet meets at most
// one rule, so it draws once.
func faultRules(f Fault, from, to *nftables.Set) ([][]expr.Any, error) {
	var dirs [][2][]expr.Any
	if to == nil {
		dirs = [][2][]expr.Any{
			{inSet(offSaddr, from, true), inSet(offDaddr, from, false)},
			{inSet(offSaddr, from, false), inSet(offDaddr, from, true)},
		}
	} else {
		dirs = [][2][]expr.Any{
			{inSet(offSaddr, from, true), inSet(offDaddr, to, true)},
			{inSet(offSaddr, to, true), inSet(offDaddr, from, true)},
		}
	}
	var rules [][]expr.Any
	for i, d := range dirs {
		if i == 0 && !f.Direction.egress() || i == 1 && !f.Direction.ingress() {
			continue
		}
		r := slices.Concat(ipv4(), d[0], d[1])
		switch f.Kind {
		case Partition:
		case Loss:
			r = append(r, chance(f.Percent)...)
		default:
			return nil, fmt.Errorf("a %s fault has no nftables rules", f.Kind)
		}
		r = append(r, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
		rules = append(rules, r)
	}
	return rules, nil
}

// jumpRule is a base chain's rule sending packets to a fault's chain; its
// user data is the fault's ID, so healing finds it.
func jumpRule(base *nftables.Chain, id ID) *nftables.Rule {
	return &nftables.Rule{
		Table: base.Table, Chain: base, UserData: []byte(id),
		Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainName(id)}},
	}
}
