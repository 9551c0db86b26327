package udpflow

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reboundhq/rebound/lab/labnet"
)

// capacity bounds a flow's datagrams (about 3.5 min at 200 µs).
const capacity = 1 << 20

// Flow is a running stream.
type Flow struct {
	base time.Time
	sent []atomic.Int64 // send time of seq i, ns since base; 0: not sent
	got  []atomic.Bool
	next atomic.Int64
	pc   net.PacketConn
	conn net.Conn
	stop chan struct{}
}

// Start streams a datagram every interval from the namespace at fromNS to
// to (an address in the namespace at toNS), until Stop.
func Start(fromNS, toNS string, to netip.Addr, interval time.Duration) (*Flow, error) {
	f := &Flow{base: time.Now(), sent: make([]atomic.Int64, capacity), got: make([]atomic.Bool, capacity), stop: make(chan struct{})}
	pc, err := labnet.ListenPacket(toNS, "udp4", net.JoinHostPort(to.String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("listen in %s: %w", toNS, err)
	}
	f.pc = pc
	if err := labnet.Do(fromNS, func() (err error) { f.conn, err = net.Dial("udp4", pc.LocalAddr().String()); return err }); err != nil {
		pc.Close()
		return nil, fmt.Errorf("dial from %s: %w", fromNS, err)
	}
	go f.receive()
	go f.send(interval)
	return f, nil
}

func (f *Flow) receive() {
	buf := make([]byte, 64)
	for {
		n, _, err := f.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if seq := binary.BigEndian.Uint64(buf); n >= 8 && seq < capacity {
			f.got[seq].Store(true)
		}
	}
}

func (f *Flow) send(interval time.Duration) {
	msg := make([]byte, 64)
	for seq := int64(0); seq < capacity; seq++ {
		select {
		case <-f.stop:
			return
		default:
		}
		binary.BigEndian.PutUint64(msg, uint64(seq))
		f.sent[seq].Store(max(int64(time.Since(f.base)), 1))
		f.next.Store(seq + 1)
		_, _ = f.conn.Write(msg)
		time.Sleep(interval)
	}
}

// Stop ends the stream.
func (f *Flow) Stop() {
	close(f.stop)
	f.conn.Close()
	f.pc.Close()
}

// FirstAfter is how long after t the first datagram sent since t whose
// arrival is want (false: dropped, true: passed) was sent, and whether
// there was one.
func (f *Flow) FirstAfter(t time.Time, want bool) (time.Duration, bool) {
	from := int64(t.Sub(f.base))
	for seq := range f.next.Load() {
		if s := f.sent[seq].Load(); s >= from && f.got[seq].Load() == want {
			return time.Duration(s - from), true
		}
	}
	return 0, false
}

// Measure applies a fault and heals it n times while f runs, waiting
// settle after each call, and returns the latencies from each apply call
// to the first datagram dropped and from each heal call to the first one
// passing again.
func Measure(n int, f *Flow, settle time.Duration, apply func() (heal func() error, err error)) (applied, healed []time.Duration, err error) {
	time.Sleep(settle)
	if _, ok := f.FirstAfter(f.base, true); !ok {
		return nil, nil, fmt.Errorf("no datagram passes before any fault")
	}
	for range n {
		t0 := time.Now()
		heal, err := apply()
		if err != nil {
			return applied, healed, err
		}
		time.Sleep(settle)
		d, ok := f.FirstAfter(t0, false)
		if !ok {
			return applied, healed, fmt.Errorf("no datagram dropped after the fault was applied")
		}
		applied = append(applied, d)
		h0 := time.Now()
		if err := heal(); err != nil {
			return applied, healed, err
		}
		time.Sleep(settle)
		if d, ok = f.FirstAfter(h0, true); !ok {
			return applied, healed, fmt.Errorf("no datagram passed after the heal")
		}
		healed = append(healed, d)
	}
	return applied, healed, nil
}

// Report puts the medians and maxima on b, in ms, and logs every figure.
func Report(b *testing.B, applied, healed []time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	b.ReportMetric(ms(med(applied)), "apply-ms")
	b.ReportMetric(ms(med(healed)), "heal-ms")
	b.ReportMetric(ms(slices.Max(applied)), "apply-max-ms")
	b.ReportMetric(ms(slices.Max(healed)), "heal-max-ms")
	b.Logf("apply: %v", applied)
	b.Logf("heal:  %v", healed)
}
