package netfault

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/reboundhq/rebound/lab/netfault/udpflow"
)

// BenchmarkPartitionLatency measures, per partition applied and healed in
// the test's routed namespaces, the time from the call to Apply to the
// first datagram dropped, and from the call to Heal to the first one
// passing again (resolution: the flow's interval, 200 µs). Run it with
// -benchtime 20x for medians over 20.
func BenchmarkPartitionLatency(b *testing.B) {
	tp := newTopo(b, 2)
	p1, p2 := tp.pods[0], tp.pods[1]
	c := New(tp.path(), b.TempDir())
	f, err := udpflow.Start(p1.path(), p2.path(), p2.ip, 200*time.Microsecond)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Stop)
	ctx := context.Background()
	b.ResetTimer()
	applied, healed, err := udpflow.Measure(b.N, f, 50*time.Millisecond, func() (func() error, error) {
		id, err := c.Apply(ctx, Fault{Kind: Partition, From: []netip.Prefix{pfx("10.99.1.0/24")}})
		return func() error { return c.Heal(ctx, id) }, err
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	udpflow.Report(b, applied, healed)
}
