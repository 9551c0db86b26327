package e2e

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/lab/netfault"
)

// podFlow is a steady stream of numbered UDP datagrams from one lab pod's
// network namespace to another's, each one's send time kept, to tell when
// the first was dropped and when the first passed again.
type podFlow struct {
	base time.Time
	sent []atomic.Int64 // ns since base; 0: not sent
	got  []atomic.Bool
	next atomic.Int64
}

const podFlowCap = 1 << 20

func startPodFlow(b *testing.B, fromNS, toNS, toIP string) *podFlow {
	f := &podFlow{base: time.Now(), sent: make([]atomic.Int64, podFlowCap), got: make([]atomic.Bool, podFlowCap)}
	pc, err := labnet.ListenPacket(toNS, "udp4", net.JoinHostPort(toIP, "0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if seq := binary.BigEndian.Uint64(buf); n >= 8 && seq < podFlowCap {
				f.got[seq].Store(true)
			}
		}
	}()
	var c net.Conn
	if err := labnet.Do(fromNS, func() (err error) { c, err = net.Dial("udp4", pc.LocalAddr().String()); return err }); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop); c.Close() })
	go func() {
		msg := make([]byte, 64)
		for seq := int64(0); seq < podFlowCap; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			binary.BigEndian.PutUint64(msg, uint64(seq))
			f.sent[seq].Store(max(int64(time.Since(f.base)), 1))
			f.next.Store(seq + 1)
			_, _ = c.Write(msg)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return f
}

// firstAfter is how long after t the first datagram sent since t whose
// arrival is want (false: dropped) was sent.
func (f *podFlow) firstAfter(t time.Time, want bool) (time.Duration, bool) {
	from := int64(t.Sub(f.base))
	for seq := range f.next.Load() {
		if s := f.sent[seq].Load(); s >= from && f.got[seq].Load() == want {
			return time.Duration(s - from), true
		}
	}
	return 0, false
}

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
	f := startPodFlow(b, labnet.PodNetnsPath(l.Name, from.UID), labnet.PodNetnsPath(l.Name, to.UID), to.Status.PodIP)
	settle := 100 * time.Millisecond
	time.Sleep(settle)
	if _, ok := f.firstAfter(f.base, true); !ok {
		b.Fatal("no datagram from etcd-0 reaches etcd-1 before any fault")
	}
	var applyLat, healLat []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		id, err := l.NetApply(ctx, lab.NetFault{Kind: netfault.Partition, Target: lab.NetTarget{Zone: zone}, Peers: &lab.NetTarget{ExceptZone: zone}})
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(settle)
		d, ok := f.firstAfter(t0, false)
		if !ok {
			b.Fatal("no datagram dropped after the partition")
		}
		applyLat = append(applyLat, d)
		h0 := time.Now()
		if err := l.NetHeal(ctx, id); err != nil {
			b.Fatal(err)
		}
		time.Sleep(settle)
		if d, ok = f.firstAfter(h0, true); !ok {
			b.Fatal("no datagram passed after the heal")
		}
		healLat = append(healLat, d)
	}
	b.StopTimer()
	med := func(ds []time.Duration) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(applyLat), "apply-ms")
	b.ReportMetric(med(healLat), "heal-ms")
	b.ReportMetric(float64(slices.Max(applyLat).Microseconds())/1000, "apply-max-ms")
	b.ReportMetric(float64(slices.Max(healLat).Microseconds())/1000, "heal-max-ms")
	b.Logf("apply: %v", applyLat)
	b.Logf("heal:  %v", healLat)
}
