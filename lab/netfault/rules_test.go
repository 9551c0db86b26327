package netfault

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// render writes a rule's expressions the way `nft list` would, field by
// field, so a test can compare whole rules.
func render(t *testing.T, exprs []expr.Any) string {
	t.Helper()
	var out []string
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.Key != expr.MetaKeyNFPROTO {
				t.Fatalf("meta key %d", e.Key)
			}
			out = append(out, "meta nfproto")
		case *expr.Payload:
			if e.Base != expr.PayloadBaseNetworkHeader || e.Len != 4 {
				t.Fatalf("payload %+v", e)
			}
			out = append(out, map[uint32]string{12: "ip saddr", 16: "ip daddr"}[e.Offset])
		case *expr.Lookup:
			op := "@"
			if e.Invert {
				op = "!= @"
			}
			out[len(out)-1] += " " + op + e.SetName
		case *expr.Cmp:
			ops := map[expr.CmpOp]string{expr.CmpOpEq: "==", expr.CmpOpLt: "<"}
			val := fmt.Sprint(e.Data)
			if len(e.Data) == 4 {
				val = fmt.Sprint(binary.BigEndian.Uint32(e.Data))
			} else if len(e.Data) == 1 && e.Data[0] == unix.NFPROTO_IPV4 {
				val = "ipv4"
			}
			out[len(out)-1] += " " + ops[e.Op] + " " + val
		case *expr.Numgen:
			if e.Type != unix.NFT_NG_RANDOM {
				t.Fatalf("numgen type %d", e.Type)
			}
			out = append(out, fmt.Sprintf("numgen random mod %d", e.Modulus))
		case *expr.Byteorder:
			if e.Op != expr.ByteorderHton || e.Len != 4 || e.Size != 4 {
				t.Fatalf("byteorder %+v", e)
			}
			out[len(out)-1] += " (hton)"
		case *expr.Counter:
			out = append(out, "counter")
		case *expr.Verdict:
			out = append(out, map[expr.VerdictKind]string{expr.VerdictDrop: "drop", expr.VerdictJump: "jump " + e.Chain}[e.Kind])
		default:
			t.Fatalf("unexpected expression %T", e)
		}
	}
	return strings.Join(out, "; ")
}

func TestFaultRules(t *testing.T) {
	from := &nftables.Set{Name: "f-x-from", ID: 1}
	to := &nftables.Set{Name: "f-x-to", ID: 2}
	const v4 = "meta nfproto == ipv4; "
	tests := []struct {
		name  string
		fault Fault
		to    *nftables.Set
		want  []string
	}{
		{"partition from everything else", Fault{Kind: Partition}, nil, []string{
			v4 + "ip saddr @f-x-from; ip daddr != @f-x-from; counter; drop",
			v4 + "ip saddr != @f-x-from; ip daddr @f-x-from; counter; drop",
		}},
		{"partition between two sets", Fault{Kind: Partition}, to, []string{
			v4 + "ip saddr @f-x-from; ip daddr @f-x-to; counter; drop",
			v4 + "ip saddr @f-x-to; ip daddr @f-x-from; counter; drop",
		}},
		{"egress partition", Fault{Kind: Partition, Direction: Egress}, to, []string{
			v4 + "ip saddr @f-x-from; ip daddr @f-x-to; counter; drop",
		}},
		{"ingress partition from everything else", Fault{Kind: Partition, Direction: Ingress}, nil, []string{
			v4 + "ip saddr != @f-x-from; ip daddr @f-x-from; counter; drop",
		}},
		{"30% loss both ways", Fault{Kind: Loss, Percent: 30}, nil, []string{
			v4 + "ip saddr @f-x-from; ip daddr != @f-x-from; numgen random mod 100 (hton) < 30; counter; drop",
			v4 + "ip saddr != @f-x-from; ip daddr @f-x-from; numgen random mod 100 (hton) < 30; counter; drop",
		}},
		{"loss between two sets, one way", Fault{Kind: Loss, Percent: 5, Direction: Egress}, to, []string{
			v4 + "ip saddr @f-x-from; ip daddr @f-x-to; numgen random mod 100 (hton) < 5; counter; drop",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := faultRules(tt.fault, from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				got = append(got, render(t, r))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("rules:\n got  %q\n want %q", got, tt.want)
			}
			for _, r := range rules {
				for _, e := range r {
					if l, ok := e.(*expr.Lookup); ok && l.SetID != map[string]uint32{"f-x-from": 1, "f-x-to": 2}[l.SetName] {
						t.Errorf("lookup of %s carries set ID %d", l.SetName, l.SetID)
					}
				}
			}
		})
	}
	if _, err := faultRules(Fault{Kind: Bandwidth}, from, nil); err == nil {
		t.Error("a bandwidth fault got nftables rules")
	}
}

func TestJumpRule(t *testing.T) {
	tb := table()
	base := baseChain(tb, "forward", nftables.ChainHookForward)
	r := jumpRule(base, "zone-a")
	if got := render(t, r.Exprs); got != "jump f-zone-a" {
		t.Errorf("jump rule = %q", got)
	}
	if string(r.UserData) != "zone-a" || r.Chain != base || r.Table.Name != TableName || r.Table.Family != nftables.TableFamilyINet {
		t.Errorf("jump rule %+v: want user data zone-a in %s/forward", r, TableName)
	}
	if *base.Hooknum != *nftables.ChainHookForward || base.Type != nftables.ChainTypeFilter || *base.Priority != basePriority {
		t.Errorf("base chain %+v", base)
	}
}

func TestSetElements(t *testing.T) {
	el := func(s string, end bool) string {
		if end {
			return s + "(end)"
		}
		return s
	}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"one pod", []string{"10.20.1.2/32"}, []string{el("10.20.1.2", false), el("10.20.1.3", true)}},
		{"a node's pod CIDR, unmasked", []string{"10.20.1.7/24"}, []string{"10.20.1.0", el("10.20.2.0", true)}},
		{"a zone's CIDRs, out of order", []string{"10.20.4.0/24", "10.20.1.0/24"}, []string{"10.20.1.0", el("10.20.2.0", true), "10.20.4.0", el("10.20.5.0", true)}},
		{"adjacent CIDRs merge", []string{"10.20.1.0/24", "10.20.2.0/24"}, []string{"10.20.1.0", el("10.20.3.0", true)}},
		{"a pod inside a listed CIDR", []string{"10.20.1.0/24", "10.20.1.9/32"}, []string{"10.20.1.0", el("10.20.2.0", true)}},
		{"up to the last address: no end", []string{"255.255.255.0/24"}, []string{"255.255.255.0"}},
		{"everything", []string{"0.0.0.0/0"}, []string{"0.0.0.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []netip.Prefix
			for _, s := range tt.in {
				ps = append(ps, netip.MustParsePrefix(s))
			}
			var got []string
			for _, e := range setElements(ps) {
				a, _ := netip.AddrFromSlice(e.Key)
				got = append(got, el(a.String(), e.IntervalEnd))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("elements of %v = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
