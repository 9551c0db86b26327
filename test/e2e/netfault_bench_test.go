package e2e

import (
	"context"
	"net/netip"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/lab/netfault"
	"github.com/reboundhq/rebound/lab/netfault/udpflow"
)

// BenchmarkLabPartitionLatency applies and heals the catalog's lab zone
// partition (the zone of etcd-0 from the other zones, through
// (*lab.Lab).NetApply and NetHeal, target lookups in the API server
// included) while etcd-0's namespace streams datagrams to etcd-1's, and
// reports the median time from the call to the first datagram dropped and
// from the heal call to the first one passing. Run with -benchtime 20x.
func BenchmarkLabPartitionLatency(b *testing.B) {
	ctx := context.Background()
	l := suiteLab
	cs, err := l.KubeClient()
	if err != nil {
		b.Fatal(err)
	}
	from, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-0", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	to, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-1", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, from.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	zone := node.Labels[agent.LabelZone]
	f, err := udpflow.Start(labnet.PodNetnsPath(l.Name, from.UID), labnet.PodNetnsPath(l.Name, to.UID), netip.MustParseAddr(to.Status.PodIP), 200*time.Microsecond)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Stop)
	b.ResetTimer()
	applied, healed, err := udpflow.Measure(b.N, f, 100*time.Millisecond, func() (func() error, error) {
		id, err := l.NetApply(ctx, lab.NetFault{Kind: netfault.Partition, Target: lab.NetTarget{Zone: zone}, Peers: &lab.NetTarget{ExceptZone: zone}})
		return func() error { return l.NetHeal(ctx, id) }, err
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	udpflow.Report(b, applied, healed)
}
