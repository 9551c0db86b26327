package chaos

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"

	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/lab/netfault"
)

func TestToNetfault(t *testing.T) {
	t.Parallel()
	pod := newPod("db", "etcd-0").ip("10.20.1.2").p
	p32 := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, a := range s {
			out = append(out, netip.MustParsePrefix(a+"/32"))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   NetFault
		want netfault.Fault
		err  string
	}{
		{"partition from everything", NetFault{Action: v1alpha1.PartitionAction, Egress: true, Ingress: true},
			netfault.Fault{Kind: netfault.Partition, Direction: netfault.Both, From: p32("10.20.1.2")}, ""},
		{"partition what it sends to peers", NetFault{Action: v1alpha1.PartitionAction, Egress: true, Peers: []string{"10.20.2.2", "10.20.3.2"}},
			netfault.Fault{Kind: netfault.Partition, Direction: netfault.Egress, From: p32("10.20.1.2"), To: p32("10.20.2.2", "10.20.3.2")}, ""},
		{"partition what it receives", NetFault{Action: v1alpha1.PartitionAction, Ingress: true, Peers: []string{"10.20.2.2"}},
			netfault.Fault{Kind: netfault.Partition, Direction: netfault.Ingress, From: p32("10.20.1.2"), To: p32("10.20.2.2")}, ""},
		{"loss", NetFault{Action: v1alpha1.LossAction, Egress: true, LossPercent: 30},
			netfault.Fault{Kind: netfault.Loss, Direction: netfault.Egress, Percent: 30, From: p32("10.20.1.2")}, ""},
		{"bandwidth on the pod's link", NetFault{Action: v1alpha1.BandwidthAction, Egress: true, RateBits: 8e6, LimitBytes: 1 << 20, BufferBytes: 1 << 14},
			netfault.Fault{Kind: netfault.Bandwidth, Direction: netfault.Egress, Rate: 8e6, Limit: 1 << 20, Burst: 1 << 14,
				Links: []netfault.PodLink{{Name: "db/etcd-0", HostVeth: labnet.HostVeth(pod.UID), Netns: labnet.PodNetnsPath("lab1", pod.UID)}}}, ""},
		{"bandwidth towards chosen pods", NetFault{Action: v1alpha1.BandwidthAction, Egress: true, RateBits: 8e6, Peers: []string{"10.20.2.2"}}, netfault.Fault{}, "leave spec.target out"},
		{"no direction", NetFault{Action: v1alpha1.PartitionAction}, netfault.Fault{}, "no direction"},
	} {
		got, err := toNetfault("lab1", "chaos-x", "NetworkChaos db/x source", pod, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want one saying %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		tc.want.ID = "chaos-x"
		if got.String() != tc.want.String() || got.Kind != tc.want.Kind || got.Direction != tc.want.Direction || !slices.Equal(got.From, tc.want.From) ||
			!slices.Equal(got.To, tc.want.To) || got.Percent != tc.want.Percent || got.Rate != tc.want.Rate || got.Burst != tc.want.Burst ||
			got.Limit != tc.want.Limit || !slices.Equal(got.Links, tc.want.Links) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestFaultIDIsStablePerRecordAndPod(t *testing.T) {
	t.Parallel()
	a, b := newPod("db", "etcd-0").p, newPod("db", "etcd-1").p
	id := faultID("uid-x/source", a)
	if err := (netfault.Fault{ID: id, Kind: netfault.Partition, From: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}}).Validate(); err != nil {
		t.Errorf("fault ID %q is not one netfault takes: %v", id, err)
	}
	if faultID("uid-x/source", a) != id {
		t.Error("the same record and pod get two IDs")
	}
	for _, other := range []netfault.ID{faultID("uid-x/target", a), faultID("uid-x/source", b), faultID("uid-y/source", a)} {
		if other == id {
			t.Errorf("two records or pods share the ID %s", id)
		}
	}
	var re *refusedError
	if _, err := toNetfault("lab1", id, "x", a, NetFault{Action: v1alpha1.DelayAction, Egress: true}); !errors.As(err, &re) {
		t.Errorf("delay: %v, want a refusal", err)
	}
}
