package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/postgres/internal/pgtest"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/probes"
)

// benchWriters is how many goroutines write at once, in both benchmarks.
const benchWriters = 8

// benchTarget is the PostgreSQL to benchmark against: REBOUND_BENCH_POSTGRES
// (comma-separated postgres:// URLs of the members, e.g. the lab's pod IPs,
// dialled through labnet.Dial; credentials in REBOUND_BENCH_POSTGRES_USER
// and REBOUND_BENCH_POSTGRES_PASSWORD), or a single PostgreSQL started on
// 127.0.0.1 from the Debian binaries.
func benchTarget(b *testing.B) apps.Config {
	if eps := os.Getenv("REBOUND_BENCH_POSTGRES"); eps != "" {
		return apps.Config{
			Endpoints: apps.Endpoints{URLs: strings.Split(eps, ",")},
			Username:  os.Getenv("REBOUND_BENCH_POSTGRES_USER"), Password: os.Getenv("REBOUND_BENCH_POSTGRES_PASSWORD"),
			Dial: labnet.Dial,
		}
	}
	s := pgtest.Start(b, pgtest.Options{})
	return apps.Config{Endpoints: apps.Endpoints{URLs: []string{s.URL()}}, Username: pgtest.Superuser, Password: pgtest.Password}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteProbe runs rebound's write probe (unique ids, invoke/ok/
// fail/info on the timeline, 8 writers, no rate limit) through the driver
// for b.N milliseconds, and reports acknowledged writes per second and the
// CPU of rebound's process per acknowledged write.
func BenchmarkWriteProbe(b *testing.B) {
	cfg := benchTarget(b)
	cfg.Prefix = TableName("bench", fmt.Sprintf("probe_%d", time.Now().UnixNano()))
	d, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.ensureTable(ctx); err != nil {
		b.Fatal(err)
	}
	defer d.DeleteData(ctx, d.Table())
	tl := measure.NewTimeline(nil)
	cpu0, start := cpuTime(), time.Now()
	b.ResetTimer()
	set := probes.Start(ctx, d, tl, probes.Config{Writers: benchWriters, Rate: 1_000_000, Interval: time.Hour}, nil)
	time.Sleep(time.Duration(b.N) * time.Millisecond)
	set.Stop()
	b.StopTimer()
	acked := 0
	for _, w := range tl.Snapshot().Writes {
		if w.Type == measure.OpOK {
			acked++
		}
	}
	report(b, acked, cpu0, start)
}

// BenchmarkPlainPgxInsert is the baseline: 8 goroutines inserting unique
// ids with a plain pgxpool into a table of the same shape, on the same
// PostgreSQL, recording nothing.
func BenchmarkPlainPgxInsert(b *testing.B) {
	cfg := benchTarget(b)
	d, err := New(context.Background(), cfg) // only for the primary's address and settings
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	cc, err := d.PrimaryConfig(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pc, _ := pgxpool.ParseConfig("")
	pc.ConnConfig.Config = *cc
	pc.MaxConns = benchWriters
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	table := TableName("bench", fmt.Sprintf("plain_%d", time.Now().UnixNano()))
	if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT clock_timestamp())"); err != nil {
		b.Fatal(err)
	}
	defer pool.Exec(ctx, "DROP TABLE "+table)
	cpu0, start := cpuTime(), time.Now()
	b.ResetTimer()
	deadline := time.Now().Add(time.Duration(b.N) * time.Millisecond)
	var mu sync.Mutex
	acked := 0
	var wg sync.WaitGroup
	for w := range benchWriters {
		wg.Go(func() {
			n := 0
			for i := 0; time.Now().Before(deadline); i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := pool.Exec(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", fmt.Sprintf("%d-%d", w, i))
				cancel()
				if err == nil {
					n++
				}
			}
			mu.Lock()
			acked += n
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	report(b, acked, cpu0, start)
}

func report(b *testing.B, acked int, cpu0 time.Duration, start time.Time) {
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
