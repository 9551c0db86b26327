package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestCutOffNodeStopsHeartbeatsWithFakeAPIServer: a fake clientset stands
// in for the API server the node's heartbeats go to.
func TestCutOffNodeStopsHeartbeatsWithFakeAPIServer(t *testing.T) {
	cs := fake.NewClientset()
	n := &node{NodeConfig: NodeConfig{Name: "n1", Zone: "z", PodCIDR: netip.MustParsePrefix("10.1.1.0/24")}, power: PowerOn, wake: make(chan struct{}, 1)}
	a := &Agent{
		cfg:    &Config{Name: "t", Timings: Timings{LeaseRenew: 20 * time.Millisecond, StatusUpdate: 20 * time.Millisecond, LeaseDuration: time.Second}},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		client: cs, nodes: map[string]*node{"n1": n},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.runNode(ctx, n)
	renewed := func() time.Time {
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return time.Time{}
		}
		return l.Spec.RenewTime.Time
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
		}
	}
	waitUntil("the first lease renewal", func() bool { return !renewed().IsZero() })

	if err := a.SetControlPlaneLink("n1", LinkCut); err != nil {
		t.Fatal(err)
	}
	if !n.CutOff() || n.Power() != PowerOn {
		t.Fatalf("after cut: cut off %v, power %s; want cut off, power on", n.CutOff(), n.Power())
	}
	time.Sleep(100 * time.Millisecond) // a heartbeat under way when cut ends
	last := renewed()
	time.Sleep(300 * time.Millisecond) // 15 renewal periods
	if got := renewed(); !got.Equal(last) {
		t.Errorf("a cut-off node renewed its lease (%s after %s)", got, last)
	}
	if st := a.NodeStates(); len(st) != 1 || !st[0].CutOff {
		t.Errorf("node states %+v: want n1 reported cut off", st)
	}

	if err := a.SetControlPlaneLink("n1", LinkResume); err != nil {
		t.Fatal(err)
	}
	waitUntil("a lease renewal after resume", func() bool { return renewed().After(last) })

	if err := a.SetControlPlaneLink("nope", LinkCut); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("unknown node: err = %v, want ErrUnknownNode", err)
	}
	if err := a.SetControlPlaneLink("n1", "sever"); err == nil || n.CutOff() {
		t.Errorf("unknown action: err = %v, cut off %v; want an error and no change", err, n.CutOff())
	}
}
