package etcd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/probes"
)

// benchEndpoints returns the etcd to benchmark against: REBOUND_BENCH_ETCD
// (comma-separated URLs, e.g. the lab's demo app), or a single-member etcd
// started from the lab's binary on 127.0.0.1.
func benchEndpoints(b *testing.B) []string {
	if eps := os.Getenv("REBOUND_BENCH_ETCD"); eps != "" {
		return strings.Split(eps, ",")
	}
	bin := filepath.Join(os.Getenv("REBOUND_LAB_BINS"), "etcd")
	if os.Getenv("REBOUND_LAB_BINS") == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "rebound", "bin", "etcd")
	}
	if _, err := os.Stat(bin); err != nil {
		b.Skipf("no etcd to benchmark against: set REBOUND_BENCH_ETCD or run make lab-bins (%v)", err)
	}
	port := func() int {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", port()), fmt.Sprintf("http://127.0.0.1:%d", port())
	cmd := exec.Command(bin, "--data-dir", b.TempDir(), "--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer, "--log-level", "error")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: time.Second, Logger: zap.NewNop()})
	defer cli.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "x")
		cancel()
		if err == nil {
			break
		}
		if i > 100 {
			b.Fatalf("etcd did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return []string{client}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteProbe runs the write probe (Jepsen set bookkeeping on the
// timeline, 8 writers, no rate limit) for the benchmark time and reports
// acknowledged writes per second and the CPU each costs rebound.
func BenchmarkWriteProbe(b *testing.B) {
	eps := benchEndpoints(b)
	d, err := New(context.Background(), apps.Config{Endpoints: apps.Endpoints{URLs: eps}, Prefix: "/rebound-bench/probe"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	tl := measure.NewTimeline(nil)
	cpu0, start := cpuTime(), time.Now()
	b.ResetTimer()
	set := probes.Start(context.Background(), d, tl, probes.Config{Writers: 8, Rate: 1_000_000, Interval: time.Hour}, nil)
	time.Sleep(time.Duration(b.N) * time.Millisecond)
	set.Stop()
	b.StopTimer()
	report(b, tl, cpu0, start)
}

// BenchmarkRawPut is the baseline: 8 goroutines doing clientv3 Puts with
// no probe bookkeeping, on the same etcd.
func BenchmarkRawPut(b *testing.B) {
	eps := benchEndpoints(b)
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	tl := measure.NewTimeline(nil) // only to count acks the same way
	cpu0, start := cpuTime(), time.Now()
	b.ResetTimer()
	deadline := time.Now().Add(time.Duration(b.N) * time.Millisecond)
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; time.Now().Before(deadline); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := cli.Put(ctx, fmt.Sprintf("/rebound-bench/raw/%d-%d", w, i), "1")
				cancel()
				if err == nil {
					tl.RecordWrite("x", measure.OpOK)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	b.StopTimer()
	report(b, tl, cpu0, start)
}

func report(b *testing.B, tl *measure.Timeline, cpu0 time.Duration, start time.Time) {
	acked := 0
	for _, w := range tl.Snapshot().Writes {
		if w.Type == measure.OpOK {
			acked++
		}
	}
	secs := time.Since(start).Seconds()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(acked)/secs, "acked-writes/s")
	if acked > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(acked), "cpu-µs/write")
	}
	// b.N is a duration in milliseconds here, not a count of operations:
	// ns/op would mean nothing, so it is not reported.
	b.ReportMetric(0, "ns/op")
}
