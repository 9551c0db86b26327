package netfault

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// flow is a steady UDP stream from one namespace to another, every
// datagram numbered and its send time kept, so a benchmark can tell when
// the first one was dropped and when the first one passed again.
type flow struct {
	base     time.Time
	sent     []atomic.Int64 // send time of seq i, ns since base; 0 not sent
	got      []atomic.Bool
	next     atomic.Int64
	interval time.Duration
}

const flowCap = 1 << 20

func startFlow(b *testing.B, fromNS, toNS string, to netip.Addr, interval time.Duration) *flow {
	f := &flow{base: time.Now(), sent: make([]atomic.Int64, flowCap), got: make([]atomic.Bool, flowCap), interval: interval}
	var pc net.PacketConn
	var err error
	inNetns(b, toNS, func() { pc, err = net.ListenPacket("udp4", net.JoinHostPort(to.String(), "0")) })
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
			if n >= 8 {
				if seq := binary.BigEndian.Uint64(buf); seq < flowCap {
					f.got[seq].Store(true)
				}
			}
		}
	}()
	var c net.Conn
	inNetns(b, fromNS, func() { c, err = net.Dial("udp4", pc.LocalAddr().String()) })
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop); c.Close() })
	go func() {
		msg := make([]byte, 64)
		for seq := int64(0); seq < flowCap; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			binary.BigEndian.PutUint64(msg, uint64(seq))
			f.sent[seq].Store(max(int64(time.Since(f.base)), 1))
			f.next.Store(seq + 1)
			_, _ = c.Write(msg)
			time.Sleep(interval)
		}
	}()
	return f
}

// firstAfter returns the send time (since t) of the first datagram sent
// at or after t whose arrival is want (false: dropped, true: passed), and
// whether there was one.
func (f *flow) firstAfter(t time.Time, want bool) (time.Duration, bool) {
	from := int64(t.Sub(f.base))
	for seq := range f.next.Load() {
		s := f.sent[seq].Load()
		if s >= from && f.got[seq].Load() == want {
			return time.Duration(s - from), true
		}
	}
	return 0, false
}

// BenchmarkPartitionLatency measures, per partition applied and healed in
// the test's routed namespaces, the time from the call to Apply to the
// first datagram dropped, and from the call to Heal to the first one
// passing again (resolution: the flow's interval, 200 µs). Run it with
// -benchtime 20x for medians over 20.
func BenchmarkPartitionLatency(b *testing.B) {
	tp := newTopo(b, 2)
	p1, p2 := tp.pods[0], tp.pods[1]
	c := New(tp.path(), b.TempDir())
	f := startFlow(b, p1.path(), p2.path(), p2.ip, 200*time.Microsecond)
	ctx := context.Background()
	settle := 50 * time.Millisecond
	time.Sleep(settle)
	var applyLat, healLat []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		id, err := c.Apply(ctx, Fault{Kind: Partition, From: []netip.Prefix{pfx("10.99.1.0/24")}})
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
		if err := c.Heal(ctx, id); err != nil {
			b.Fatal(err)
		}
		time.Sleep(settle)
		d, ok = f.firstAfter(h0, true)
		if !ok {
			b.Fatal("no datagram passed after the heal")
		}
		healLat = append(healLat, d)
	}
	b.StopTimer()
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	b.ReportMetric(float64(med(applyLat).Microseconds())/1000, "apply-ms")
	b.ReportMetric(float64(med(healLat).Microseconds())/1000, "heal-ms")
	b.ReportMetric(float64(slices.Max(applyLat).Microseconds())/1000, "apply-max-ms")
	b.ReportMetric(float64(slices.Max(healLat).Microseconds())/1000, "heal-max-ms")
	b.Logf("apply: %v", applyLat)
	b.Logf("heal:  %v", healLat)
}
