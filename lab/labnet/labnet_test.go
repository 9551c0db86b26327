package labnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// TestPodNetworks builds a real lab network in namespaces of its own (root
// only): two pods listen on 0.0.0.0 on the same port, each sees the other's
// pod IP as the source of a connection, rebound reaches both through Dial,
// and Down leaves nothing.
func TestPodNetworks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	lab := fmt.Sprintf("t%d", os.Getpid())
	plan := DefaultPlan(219)
	if err := Up(Network{Lab: lab, Plan: plan}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Down(lab); err != nil {
			t.Error(err)
		}
		if left := Leftovers(lab); len(left) > 0 {
			t.Errorf("left after Down: %v", left)
		}
		if Guarded(plan.PodCIDR.Addr().Next()) {
			t.Errorf("Down left the guard route of %s in the host's namespace", plan.PodCIDR)
		}
	})
	for _, pfx := range []netip.Prefix{plan.PodCIDR, plan.ServiceCIDR} {
		if !Guarded(pfx.Addr().Next()) {
			t.Errorf("no guard route for %s in the host's namespace: a stray connection there would follow the default route", pfx)
		}
	}
	ips := []netip.Addr{plan.NodePodCIDR(1).Addr().Next().Next(), plan.NodePodCIDR(2).Addr().Next().Next()}
	var links []PodLink
	for i, ip := range ips {
		l, err := SetupPod(lab, types.UID(fmt.Sprintf("uid-%d", i)), ip)
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, l)
	}
	// Each pod: a server on 0.0.0.0:5432 that answers with the peer's address.
	for _, l := range links {
		ln, err := Listen(l.Netns, "tcp", "0.0.0.0:5432")
		if err != nil {
			t.Fatalf("listen in %s: %v", l.Netns, err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
				c.Close()
			}
		}()
	}
	ask := func(dial func(context.Context, string, string) (net.Conn, error), to netip.Addr) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := dial(ctx, "tcp", netip.AddrPortFrom(to, 5432).String())
		if err != nil {
			t.Fatalf("dial %s: %v", to, err)
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return strings.TrimSpace(string(b))
	}
	// Pod 0 to pod 1, from inside pod 0's namespace: the source is pod 0's IP.
	fromPod0 := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := Do(links[0].Netns, func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	if got := ask(fromPod0, ips[1]); got != ips[0].String() {
		t.Errorf("pod 1 saw the connection from %s, want pod 0's IP %s", got, ips[0])
	}
	// rebound itself, through Dial: from the lab namespace's infra address.
	for _, ip := range ips {
		if got := ask(Dial, ip); got != plan.Infra().String() {
			t.Errorf("pod %s saw rebound's connection from %s, want the infra address %s", ip, got, plan.Infra())
		}
	}
	// A torn-down pod is unreachable and its namespace gone.
	if err := TeardownPod(lab, "uid-1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c, err := Dial(ctx, "tcp", netip.AddrPortFrom(ips[1], 5432).String()); err == nil {
		c.Close()
		t.Error("a torn-down pod still answers")
	}
	if _, err := os.Stat(links[1].Netns); !os.IsNotExist(err) {
		t.Errorf("pod namespace %s still there: %v", links[1].Netns, err)
	}
}
