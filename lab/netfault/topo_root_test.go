package netfault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// testTopo is a small routed lab made of namespaces the test creates: a
// "lab" namespace that routes between pod namespaces over veth pairs, as
// the lab's own network does (pod eth0 with ip/32 and a default route via
// 169.254.1.1; ip/32 routed to the host veth), and an infra address on the
// lab namespace's loopback. All traffic stays in these namespaces.
type testTopo struct {
	lab   string // netns name
	infra netip.Addr
	pods  []testPod
}

type testPod struct {
	ns   string // netns name
	ip   netip.Addr
	veth string // host side, in the lab namespace
}

func (p testPod) path() string { return "/run/netns/" + p.ns }
func (p testPod) link() PodLink {
	return PodLink{Name: p.ns, HostVeth: p.veth, Netns: p.path()}
}
func (tp *testTopo) path() string { return "/run/netns/" + tp.lab }

// needRoot skips a test that makes namespaces unless it runs as root with
// the ip tool.
func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: it creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs the ip tool (iproute2)")
	}
}

func run(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newTopo makes a lab namespace and n pods, pod i (1-based) at
// 10.99.i.2, infra at 10.99.0.1; all removed when the test ends.
func newTopo(tb testing.TB, n int) *testTopo {
	tb.Helper()
	needRoot(tb)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := "rbnf" + hex.EncodeToString(b)
	tp := &testTopo{lab: tag + "-lab", infra: netip.MustParseAddr("10.99.0.1")}
	tb.Cleanup(func() {
		for _, p := range tp.pods {
			_ = exec.Command("ip", "netns", "del", p.ns).Run()
		}
		_ = exec.Command("ip", "netns", "del", tp.lab).Run()
	})
	run(tb, "ip", "netns", "add", tp.lab)
	run(tb, "ip", "-n", tp.lab, "link", "set", "lo", "up")
	run(tb, "ip", "-n", tp.lab, "addr", "add", tp.infra.String()+"/32", "dev", "lo")
	run(tb, "ip", "netns", "exec", tp.lab, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for i := 1; i <= n; i++ {
		p := testPod{ns: fmt.Sprintf("%s-p%d", tag, i), ip: netip.AddrFrom4([4]byte{10, 99, byte(i), 2}), veth: fmt.Sprintf("%sv%d", tag, i)}
		tp.pods = append(tp.pods, p)
		run(tb, "ip", "netns", "add", p.ns)
		run(tb, "ip", "-n", tp.lab, "link", "add", p.veth, "type", "veth", "peer", "name", "eth0", "netns", p.ns)
		run(tb, "ip", "-n", p.ns, "link", "set", "lo", "up")
		run(tb, "ip", "-n", p.ns, "addr", "add", p.ip.String()+"/32", "dev", "eth0")
		run(tb, "ip", "-n", p.ns, "link", "set", "eth0", "up")
		run(tb, "ip", "-n", tp.lab, "link", "set", p.veth, "up")
		run(tb, "ip", "-n", p.ns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
		run(tb, "ip", "-n", p.ns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")
		run(tb, "ip", "-n", tp.lab, "route", "add", p.ip.String()+"/32", "dev", p.veth)
		// Static neighbours: the test is about fault rules, not ARP.
		run(tb, "ip", "-n", p.ns, "neigh", "replace", "169.254.1.1", "lladdr", mac(tb, tp.lab, p.veth), "dev", "eth0", "nud", "permanent")
		run(tb, "ip", "-n", tp.lab, "neigh", "replace", p.ip.String(), "lladdr", mac(tb, p.ns, "eth0"), "dev", p.veth, "nud", "permanent")
	}
	return tp
}

func mac(tb testing.TB, ns, dev string) string {
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(run(tb, "ip", "-n", ns, "-j", "link", "show", dev)), &links); err != nil || len(links) != 1 {
		tb.Fatalf("mac of %s in %s: %v", dev, ns, err)
	}
	return links[0].Address
}

// inNetns runs fn on a thread inside the namespace at path: sockets fn
// opens live there.
func inNetns(tb testing.TB, path string, fn func()) {
	tb.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			done <- err
			return
		}
		fn()
		if err := netns.Set(orig); err != nil {
			done <- err // the thread stays locked and ends with the goroutine
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	if err := <-done; err != nil {
		tb.Fatalf("in netns %s: %v", path, err)
	}
}

// listen starts a TCP server in a namespace that answers each connection
// with "ok" and closes it.
func listen(tb testing.TB, nsPath string, addr netip.Addr) string {
	tb.Helper()
	var l net.Listener
	var err error
	inNetns(tb, nsPath, func() { l, err = net.Listen("tcp4", net.JoinHostPort(addr.String(), "0")) })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			c.Close()
		}
	}()
	return l.Addr().String()
}

// talks tells whether a TCP exchange from a namespace to addr completes
// within the timeout.
func talks(tb testing.TB, nsPath, addr string, timeout time.Duration) bool {
	tb.Helper()
	var c net.Conn
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	inNetns(tb, nsPath, func() {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp4", addr)
	})
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2)
	n, _ := c.Read(buf)
	return n == 2
}

func (tp *testTopo) controller(tb testing.TB) *Controller {
	return New(tp.path(), filepath.Join(tb.TempDir(), "netfaults"))
}

// udpCounter counts the datagrams a namespace's UDP server receives.
type udpCounter struct {
	addr string
	n    atomic.Int64
}

func countUDP(tb testing.TB, nsPath string, addr netip.Addr) *udpCounter {
	tb.Helper()
	var pc net.PacketConn
	var err error
	inNetns(tb, nsPath, func() { pc, err = net.ListenPacket("udp4", net.JoinHostPort(addr.String(), "0")) })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	u := &udpCounter{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			u.n.Add(1)
		}
	}()
	return u
}

// sendUDP sends n datagrams from a namespace to addr, paced so that no
// socket buffer overflows, and returns how many the counter got.
func sendUDP(tb testing.TB, nsPath string, to *udpCounter, n int) int {
	tb.Helper()
	var c net.Conn
	var err error
	inNetns(tb, nsPath, func() { c, err = net.Dial("udp4", to.addr) })
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	before := to.n.Load()
	msg := make([]byte, 64)
	for i := range n {
		if _, err := c.Write(msg); err != nil {
			tb.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	return int(to.n.Load() - before)
}

// tcpRate sends over TCP from one namespace to a sink in another for d
// and returns the bytes per second the sink received.
func tcpRate(tb testing.TB, fromNS, toNS string, to netip.Addr, d time.Duration) float64 {
	tb.Helper()
	var l net.Listener
	var err error
	inNetns(tb, toNS, func() { l, err = net.Listen("tcp4", net.JoinHostPort(to.String(), "0")) })
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	var got atomic.Int64
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			got.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	var c net.Conn
	inNetns(tb, fromNS, func() { c, err = net.DialTimeout("tcp4", l.Addr().String(), probeTimeout) })
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 32<<10)
	// Let the first burst and the queue fill before measuring.
	warm := time.Now().Add(d / 4)
	_ = c.SetWriteDeadline(warm)
	for time.Now().Before(warm) {
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	start, base := time.Now(), got.Load()
	end := start.Add(d)
	_ = c.SetWriteDeadline(end)
	for time.Now().Before(end) {
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	return float64(got.Load()-base) / time.Since(start).Seconds()
}

// kernelOption reads an option from /proc/config.gz: "y", "m", "n" (not
// set) or "" (no config to read).
func kernelOption(tb testing.TB, name string) string {
	out, err := exec.Command("sh", "-c", "zcat /proc/config.gz").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return v
		}
	}
	return "n"
}
