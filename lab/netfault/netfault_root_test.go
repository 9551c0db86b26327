package netfault

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// probeTimeout bounds one TCP exchange: generous, the machine is shared.
const probeTimeout = 2 * time.Second

// blocked bounds one TCP exchange that must fail; a dropped SYN fails it.
const blocked = 300 * time.Millisecond

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestPartitionDropsTCPAndHealsRoot(t *testing.T) {
	tp := newTopo(t, 3)
	p1, p2, p3 := tp.pods[0], tp.pods[1], tp.pods[2]
	srv2 := listen(t, p2.path(), p2.ip)
	srv1 := listen(t, p1.path(), p1.ip)
	srv3 := listen(t, p3.path(), p3.ip)
	infra := listen(t, tp.path(), tp.infra)
	for _, c := range []struct{ from, to string }{{p1.path(), srv2}, {p2.path(), srv1}, {p2.path(), srv3}, {p1.path(), infra}} {
		if !talks(t, c.from, c.to, probeTimeout) {
			t.Fatalf("before any fault, %s cannot reach %s: the test topology is broken", c.from, c.to)
		}
	}
	ctx := context.Background()
	c := tp.controller(t)
	// Pod 1's node CIDR against everything else.
	id, err := c.Apply(ctx, Fault{Kind: Partition, From: []netip.Prefix{pfx("10.99.1.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	if talks(t, p1.path(), srv2, blocked) {
		t.Error("partitioned pod 1 still reaches pod 2")
	}
	if talks(t, p2.path(), srv1, blocked) {
		t.Error("pod 2 still reaches partitioned pod 1")
	}
	if talks(t, p1.path(), infra, blocked) {
		t.Error("partitioned pod 1 still reaches the infra address (input/output hooks)")
	}
	if !talks(t, p2.path(), srv3, probeTimeout) {
		t.Error("pods 2 and 3, both outside the partition, no longer talk")
	}
	if err := c.Heal(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !talks(t, p1.path(), srv2, probeTimeout) || !talks(t, p2.path(), srv1, probeTimeout) || !talks(t, p1.path(), infra, probeTimeout) {
		t.Error("after heal, pod 1 still cut off")
	}
	if list, _ := c.List(ctx); len(list) != 0 {
		t.Errorf("after heal, List = %v, want none", list)
	}
}

func TestFaultsCoexistAndHealAloneRoot(t *testing.T) {
	tp := newTopo(t, 3)
	p1, p2, p3 := tp.pods[0], tp.pods[1], tp.pods[2]
	srv2 := listen(t, p2.path(), p2.ip)
	srv3 := listen(t, p3.path(), p3.ip)
	ctx := context.Background()
	c := tp.controller(t)
	// Pod-level partitions from chosen peers: 1 from 2, and 1 from 3.
	a, err := c.Apply(ctx, Fault{Kind: Partition, ID: "one-two", From: []netip.Prefix{pfx("10.99.1.2/32")}, To: []netip.Prefix{pfx("10.99.2.2/32")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, Fault{Kind: Partition, ID: "one-two", From: []netip.Prefix{pfx("10.99.3.2/32")}}); !errors.Is(err, ErrExists) {
		t.Errorf("a second fault with a taken ID: err = %v, want ErrExists", err)
	}
	b, err := c.Apply(ctx, Fault{Kind: Partition, From: []netip.Prefix{pfx("10.99.1.2/32")}, To: []netip.Prefix{pfx("10.99.3.2/32")}})
	if err != nil {
		t.Fatal(err)
	}
	if talks(t, p1.path(), srv2, blocked) || talks(t, p1.path(), srv3, blocked) {
		t.Fatal("pod 1 still reaches a peer it is partitioned from")
	}
	if !talks(t, p2.path(), srv3, probeTimeout) {
		t.Error("pods 2 and 3 are in no fault, yet do not talk")
	}
	if err := c.Heal(ctx, a); err != nil {
		t.Fatal(err)
	}
	if !talks(t, p1.path(), srv2, probeTimeout) {
		t.Error("after healing 1–2, pod 1 does not reach pod 2")
	}
	if talks(t, p1.path(), srv3, blocked) {
		t.Error("healing 1–2 also healed 1–3")
	}
	// A new controller (another process) heals by ID from the records.
	if err := New(tp.path(), c.dir).Heal(ctx, b); err != nil {
		t.Fatal(err)
	}
	if !talks(t, p1.path(), srv3, probeTimeout) {
		t.Error("after healing 1–3, pod 1 does not reach pod 3")
	}
	if err := c.Heal(ctx, b); !errors.Is(err, ErrUnknownFault) {
		t.Errorf("healing a healed fault: err = %v, want ErrUnknownFault", err)
	}
}

func TestHealWithoutRecordAndHealAllRoot(t *testing.T) {
	tp := newTopo(t, 2)
	p1, p2 := tp.pods[0], tp.pods[1]
	srv2 := listen(t, p2.path(), p2.ip)
	ctx := context.Background()
	c := tp.controller(t)
	id, err := c.Apply(ctx, Fault{Kind: Partition, ID: "lost-record", From: []netip.Prefix{pfx("10.99.1.2/32")}})
	if err != nil {
		t.Fatal(err)
	}
	// The record is lost (a process died between the kernel and the file).
	if err := exec.Command("rm", c.recordPath(id)).Run(); err != nil {
		t.Fatal(err)
	}
	if err := c.Heal(ctx, id); err != nil {
		t.Fatalf("heal by ID without a record: %v", err)
	}
	if !talks(t, p1.path(), srv2, probeTimeout) {
		t.Fatal("after heal by ID, pod 1 does not reach pod 2")
	}
	for _, pct := range []int{100, 50} {
		if _, err := c.Apply(ctx, Fault{Kind: Loss, Percent: pct, From: []netip.Prefix{pfx("10.99.1.2/32")}}); err != nil {
			t.Fatal(err)
		}
	}
	// And one whose record is lost.
	if _, err := c.Apply(ctx, Fault{Kind: Partition, ID: "orphan", From: []netip.Prefix{pfx("10.99.1.2/32")}}); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("rm", c.recordPath("orphan")).Run(); err != nil {
		t.Fatal(err)
	}
	ids, err := c.HealAll(ctx)
	if err != nil || len(ids) != 3 {
		t.Fatalf("HealAll = %v, %v; want the 3 faults", ids, err)
	}
	if left, err := c.ruleIDs(); err != nil || len(left) != 0 {
		t.Errorf("after HealAll, fault chains %v (%v) are left in the lab namespace", left, err)
	}
	if !talks(t, p1.path(), srv2, probeTimeout) {
		t.Fatal("after HealAll, pod 1 does not reach pod 2")
	}
}

func TestLossDropsAShareRoot(t *testing.T) {
	tp := newTopo(t, 2)
	p1, p2 := tp.pods[0], tp.pods[1]
	to2 := countUDP(t, p2.path(), p2.ip)
	to1 := countUDP(t, p1.path(), p1.ip)
	const n = 2000
	if got := sendUDP(t, p1.path(), to2, n); got < n*95/100 {
		t.Fatalf("before any fault %d of %d datagrams arrive: the test topology loses packets", got, n)
	}
	ctx := context.Background()
	c := tp.controller(t)
	cases := []struct {
		dir             Direction
		wantOut, wantIn [2]int // bounds on the share (%) that arrives
	}{
		// Wide bounds: 30% loss lets about 70% through.
		{Both, [2]int{55, 85}, [2]int{55, 85}},
		{Egress, [2]int{55, 85}, [2]int{95, 100}},
	}
	for _, tc := range cases {
		id, err := c.Apply(ctx, Fault{Kind: Loss, Percent: 30, Direction: tc.dir, From: []netip.Prefix{pfx("10.99.1.2/32")}})
		if err != nil {
			t.Fatal(err)
		}
		out := sendUDP(t, p1.path(), to2, n) * 100 / n
		in := sendUDP(t, p2.path(), to1, n) * 100 / n
		t.Logf("30%% loss %s: %d%% of pod 1's datagrams arrive, %d%% of those to it", tc.dir, out, in)
		if out < tc.wantOut[0] || out > tc.wantOut[1] {
			t.Errorf("30%% loss %s: %d%% of pod 1's datagrams arrive, want %d–%d%%", tc.dir, out, tc.wantOut[0], tc.wantOut[1])
		}
		if in < tc.wantIn[0] || in > tc.wantIn[1] {
			t.Errorf("30%% loss %s: %d%% of the datagrams to pod 1 arrive, want %d–%d%%", tc.dir, in, tc.wantIn[0], tc.wantIn[1])
		}
		if err := c.Heal(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := sendUDP(t, p1.path(), to2, n); got < n*95/100 {
		t.Errorf("after heal %d of %d datagrams arrive", got, n)
	}
}

func TestBandwidthLimitsThroughputRoot(t *testing.T) {
	tp := newTopo(t, 2)
	p1, p2 := tp.pods[0], tp.pods[1]
	ctx := context.Background()
	c := tp.controller(t)
	const rate = 8_000_000 // bit/s: 1 MB/s
	id, err := c.Apply(ctx, Fault{Kind: Bandwidth, Rate: rate, Links: []PodLink{p2.link()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, Fault{Kind: Bandwidth, Rate: rate, Links: []PodLink{p2.link()}}); !errors.Is(err, ErrBusyLink) {
		t.Errorf("a second bandwidth fault on the same link: err = %v, want ErrBusyLink", err)
	}
	// Wide bounds: within a factor of 2 of 1 MB/s, each way.
	in := tcpRate(t, p1.path(), p2.path(), p2.ip, 2*time.Second)
	out := tcpRate(t, p2.path(), p1.path(), p1.ip, 2*time.Second)
	t.Logf("8mbit: %.0f B/s to the pod, %.0f B/s from it", in, out)
	for _, r := range []struct {
		dir string
		bps float64
	}{{"to", in}, {"from", out}} {
		if r.bps < rate/8/2 || r.bps > rate/8*2 {
			t.Errorf("8mbit limit: %.0f bytes/s %s the pod, want 0.5–2 MB/s", r.bps, r.dir)
		}
	}
	if err := c.Heal(ctx, id); err != nil {
		t.Fatal(err)
	}
	if free := tcpRate(t, p1.path(), p2.path(), p2.ip, time.Second); free < 4*rate/8 {
		t.Errorf("after heal only %.0f bytes/s reach the pod, want well above the 1 MB/s limit", free)
	}
}

func TestDelayNeedsNetemRoot(t *testing.T) {
	tp := newTopo(t, 1)
	c := tp.controller(t)
	_, err := c.Apply(context.Background(), Fault{Kind: Delay, Latency: 100 * time.Millisecond, Links: []PodLink{tp.pods[0].link()}})
	hasNetem := kernelOption(t, "CONFIG_NET_SCH_NETEM")
	switch {
	case hasNetem == "":
		t.Skip("no /proc/config.gz: cannot tell whether the kernel has netem")
	case hasNetem == "n":
		if !errors.Is(err, ErrNoNetem) || !strings.Contains(err.Error(), "CONFIG_NET_SCH_NETEM") {
			t.Fatalf("delay on a kernel without netem: err = %v, want ErrNoNetem naming CONFIG_NET_SCH_NETEM", err)
		}
		if list, _ := c.List(context.Background()); len(list) != 0 {
			t.Errorf("a refused delay left records: %v", list)
		}
	default:
		if err != nil {
			t.Fatalf("delay on a kernel with netem: %v", err)
		}
	}
}
