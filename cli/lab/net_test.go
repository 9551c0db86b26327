package lab

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/netfault"
)

func TestNetFlags(t *testing.T) {
	both := string(netfault.Both)
	tests := []struct {
		name    string
		kind    netfault.Kind
		flags   netFlags
		want    rlab.NetFault // checked when wantErr is empty
		wantErr string
	}{
		{"zone partition cut off", netfault.Partition, netFlags{zone: "lab-1a", cut: true, direction: both},
			rlab.NetFault{Kind: netfault.Partition, Target: rlab.NetTarget{Zone: "lab-1a"}, CutControlPlane: true, Direction: netfault.Both}, ""},
		{"pods from pods", netfault.Partition, netFlags{pods: "demo/app=etcd,role=leader", fromPods: "demo/app=etcd", direction: both},
			rlab.NetFault{Kind: netfault.Partition, Target: rlab.NetTarget{Namespace: "demo", Selector: "app=etcd,role=leader"},
				Peers: &rlab.NetTarget{Namespace: "demo", Selector: "app=etcd"}, Direction: netfault.Both}, ""},
		{"all pods of a namespace", netfault.Partition, netFlags{pods: "demo", fromNode: "lab-1b-1", direction: both},
			rlab.NetFault{Kind: netfault.Partition, Target: rlab.NetTarget{Namespace: "demo"}, Peers: &rlab.NetTarget{Node: "lab-1b-1"}, Direction: netfault.Both}, ""},
		{"loss one way", netfault.Loss, netFlags{node: "lab-1a-1", percent: 30, direction: "egress", id: "my-loss"},
			rlab.NetFault{Kind: netfault.Loss, ID: "my-loss", Target: rlab.NetTarget{Node: "lab-1a-1"}, Percent: 30, Direction: netfault.Egress}, ""},
		{"bandwidth", netfault.Bandwidth, netFlags{pods: "demo/app=etcd", rate: "2mbps", burst: 9000, direction: both},
			rlab.NetFault{Kind: netfault.Bandwidth, Target: rlab.NetTarget{Namespace: "demo", Selector: "app=etcd"}, Rate: 16e6, Burst: 9000, Direction: netfault.Both}, ""},
		{"delay", netfault.Delay, netFlags{zone: "z", latency: time.Second, direction: both},
			rlab.NetFault{Kind: netfault.Delay, Target: rlab.NetTarget{Zone: "z"}, Latency: time.Second, Direction: netfault.Both}, ""},
		{"no target", netfault.Partition, netFlags{direction: both}, rlab.NetFault{}, "name the target"},
		{"two targets", netfault.Partition, netFlags{zone: "a", node: "b", direction: both}, rlab.NetFault{}, "not several"},
		{"pods without namespace", netfault.Partition, netFlags{pods: "/app=x", direction: both}, rlab.NetFault{}, "want NAMESPACE/SELECTOR"},
		{"two peers", netfault.Partition, netFlags{zone: "a", fromZone: "b", fromNode: "c", direction: both}, rlab.NetFault{}, "--from, --from-zone, --from-node"},
		{"loss without percent", netfault.Loss, netFlags{zone: "a", direction: both}, rlab.NetFault{}, "--percent 0"},
		{"bandwidth without rate", netfault.Bandwidth, netFlags{zone: "a", direction: both}, rlab.NetFault{}, "--rate: give the rate"},
		{"bad rate", netfault.Bandwidth, netFlags{zone: "a", rate: "fast", direction: both}, rlab.NetFault{}, `--rate "fast"`},
		{"delay without latency", netfault.Delay, netFlags{zone: "a", direction: both}, rlab.NetFault{}, "--latency"},
		{"bad direction", netfault.Partition, netFlags{zone: "a", direction: "up"}, rlab.NetFault{}, `--direction "up"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.flags.fault(tt.kind)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Target != tt.want.Target || (got.Peers == nil) != (tt.want.Peers == nil) || got.Peers != nil && *got.Peers != *tt.want.Peers {
				t.Errorf("targets %+v / %+v, want %+v / %+v", got.Target, got.Peers, tt.want.Target, tt.want.Peers)
			}
			got.Target, got.Peers, tt.want.Target, tt.want.Peers = rlab.NetTarget{}, nil, rlab.NetTarget{}, nil
			if got != tt.want {
				t.Errorf("fault %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	pod := []netip.Prefix{netip.MustParsePrefix("10.20.1.2/32")}
	tests := []struct {
		a    netfault.Applied
		want string
	}{
		{netfault.Applied{Fault: netfault.Fault{Kind: netfault.Partition, From: pod, Labels: map[string]string{"target": "zone lab-1a", "peers": "the zones other than lab-1a"}}},
			"partition zone lab-1a from the zones other than lab-1a"},
		{netfault.Applied{Fault: netfault.Fault{Kind: netfault.Loss, Percent: 30, Direction: netfault.Egress, From: pod, Labels: map[string]string{"target": "pods demo/app=etcd"}}},
			"drop 30% of the packets between pods demo/app=etcd and everything else (egress only)"},
		{netfault.Applied{Fault: netfault.Fault{Kind: netfault.Partition, From: pod, Labels: map[string]string{"by": "demo/netchaos"}}},
			"partition 10.20.1.2/32 from everything else (by demo/netchaos)"},
	}
	for _, tt := range tests {
		if got := describe(tt.a); got != tt.want {
			t.Errorf("describe = %q, want %q", got, tt.want)
		}
	}
}
