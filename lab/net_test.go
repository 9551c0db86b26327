package lab

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/lab/netfault"
)

// TestNetApplyRefusesBadFaults: each is refused before the lab is looked
// at (this lab is not up), naming what to fix.
func TestNetApplyRefusesBadFaults(t *testing.T) {
	l := New(Options{Name: "net-test", StateDir: t.TempDir()}, nil)
	zone := NetTarget{Zone: "lab-1a"}
	tests := []struct {
		name string
		f    NetFault
		want string
	}{
		{"no target", NetFault{Kind: netfault.Partition}, "target: name exactly one"},
		{"two targets", NetFault{Kind: netfault.Partition, Target: NetTarget{Zone: "a", Node: "b"}}, "target: name exactly one"},
		{"bad selector", NetFault{Kind: netfault.Partition, Target: NetTarget{Namespace: "d", Selector: "a=(b"}}, `selector "a=(b"`},
		{"bad peers", NetFault{Kind: netfault.Partition, Target: zone, Peers: &NetTarget{}}, "peers (--from)"},
		{"peers of a bandwidth", NetFault{Kind: netfault.Bandwidth, Target: zone, Peers: &NetTarget{Zone: "b"}}, "acts on pod links"},
		{"cut-off pods", NetFault{Kind: netfault.Partition, Target: NetTarget{Namespace: "d"}, CutControlPlane: true}, "--cut-control-plane goes with a zone or node partition"},
		{"cut-off loss", NetFault{Kind: netfault.Loss, Target: zone, Percent: 5, CutControlPlane: true}, "--cut-control-plane goes with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.NetApply(context.Background(), tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
	// A good fault on a lab without its network namespace names the fix.
	_, err := l.NetApply(context.Background(), NetFault{Kind: netfault.Partition, Target: zone})
	if !errors.Is(err, ErrNoLabNetwork) || !strings.Contains(err.Error(), "rebound lab up") {
		t.Errorf("lab not up: err = %v, want ErrNoLabNetwork naming rebound lab up", err)
	}
}
