// Command backup-bench drives rebound's backup repository for the
// benchmark in run.sh: it makes the deterministic dataset, changes 1% of
// it, and runs backup, restore and verify against a repository. It is a
// benchmark harness, not the rebound CLI.
//
//	backup-bench gen -dir DIR [-scale 1.0]
//	backup-bench mutate -dir DIR
//	backup-bench init|backup|restore|verify -repo URL -keyfile FILE [-src DIR] [-dst DIR] [-parent latest]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"

	"github.com/reboundhq/rebound/backup/repo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: backup-bench gen|mutate|init|backup|restore|verify [flags]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "backup-bench:", err)
		os.Exit(1)
	}
}

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", "", "dataset directory (gen, mutate)")
	scale := fs.Float64("scale", 1, "dataset size factor (gen); 1 is ~1.1 GiB")
	repoURL := fs.String("repo", "", "repository URL or path")
	keyFile := fs.String("keyfile", "", "key file (created by init when missing)")
	src := fs.String("src", "", "directory to back up")
	dst := fs.String("dst", "", "directory to restore into")
	parent := fs.String("parent", "", `parent snapshot ("latest" or an id): unchanged files are not re-read`)
	id := fs.String("id", "latest", "snapshot to restore")
	workers := fs.Int("workers", 0, "workers (default GOMAXPROCS)")
	level := fs.Int("level", 0, "zstd level, as zstd's command line (default: the repository's, 1)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile here")
	memProfile := fs.String("memprofile", "", "write an allocation profile here at the end")
	traceFile := fs.String("trace", "", "write an execution trace here (go tool trace): where the workers wait")
	fs.Parse(args)
	ctx := context.Background()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			return err
		}
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	switch cmd {
	case "gen":
		return gen(*dir, *scale)
	case "mutate":
		return mutate(*dir)
	case "init":
		key := repo.GenerateKey()
		if err := os.WriteFile(*keyFile, []byte(repo.EncodeKey(key)+"\n"), 0o600); err != nil {
			return err
		}
		r, err := repo.Init(ctx, *repoURL, key)
		if err != nil {
			return err
		}
		return r.Close()
	}

	key, err := repo.KeyFromFile(*keyFile)
	if err != nil {
		return err
	}
	var opts []repo.Option
	if *workers > 0 {
		opts = append(opts, repo.WithWorkers(*workers))
	}
	if *level > 0 {
		opts = append(opts, repo.WithCompressionLevel(*level))
	}
	r, err := repo.Open(ctx, *repoURL, key, opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	switch cmd {
	case "backup":
		var bo repo.BackupOptions
		if *parent != "" {
			if bo.Parent, err = r.Resolve(ctx, *parent); err != nil {
				return err
			}
		}
		s, err := r.Backup(ctx, *src, bo)
		if err != nil {
			return err
		}
		out, _ := json.Marshal(map[string]any{"id": s.ID.Short(), "summary": s.Summary, "warnings": len(s.Warnings)})
		fmt.Println(string(out))
		return nil
	case "restore":
		sid, err := r.Resolve(ctx, *id)
		if err != nil {
			return err
		}
		return r.Restore(ctx, sid, *dst, repo.RestoreOptions{})
	case "verify":
		rep, err := r.Verify(ctx)
		if rep != nil {
			fmt.Printf("verified %d snapshots, %d chunks, %d bytes, %d unreferenced\n", rep.Snapshots, rep.Chunks, rep.Bytes, rep.Unreferenced)
		}
		return err
	}
	return fmt.Errorf("unknown command %q", cmd)
}

var mtime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// gen writes the mixed dataset: text-like logs, incompressible files,
// many small files and a few large database- and image-like files. The
// same -scale always gives the same bytes.
func gen(dir string, scale float64) error {
	if dir == "" {
		return fmt.Errorf("gen: -dir is required")
	}
	sz := func(n int) int { return int(float64(n) * scale) }
	rng := rand.New(rand.NewPCG(1, 2))
	write := func(name string, b []byte) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	}
	// 40 logs, 2-16 MiB each (~360 MiB): compressible.
	for i := range 40 {
		if err := write(fmt.Sprintf("logs/app-%02d.log", i), text(rng, sz((2+rng.IntN(15))<<20))); err != nil {
			return err
		}
	}
	// 12 incompressible files, 10-40 MiB (~300 MiB): media, compressed dumps.
	for i := range 12 {
		if err := write(fmt.Sprintf("blobs/obj-%02d.bin", i), random(rng, sz((10+rng.IntN(31))<<20))); err != nil {
			return err
		}
	}
	// 10,000 small files, 0-16 KiB (~80 MiB), half text, half random.
	for i := range int(10000 * scale) {
		n := rng.IntN(16 << 10)
		b := random(rng, n)
		if i%2 == 0 {
			b = text(rng, n)
		}
		if err := write(fmt.Sprintf("small/%02d/f%05d", i%100, i), b); err != nil {
			return err
		}
	}
	// A 256 MiB database-like file: 8 KiB pages, 60% text-like, 40% random.
	db := make([]byte, 0, sz(256<<20))
	for len(db) < cap(db) {
		if rng.IntN(10) < 6 {
			db = append(db, text(rng, 8192)...)
		} else {
			db = append(db, random(rng, 8192)...)
		}
	}
	if err := write("large/db.dat", db[:cap(db)]); err != nil {
		return err
	}
	// A 128 MiB image-like file: runs of zeros between random extents.
	img := make([]byte, sz(128<<20))
	for off := 0; off < len(img); off += 1 << 20 {
		if rng.IntN(3) > 0 {
			end := min(off+(1<<20), len(img))
			copy(img[off:end], random(rng, end-off))
		}
	}
	return write("large/disk.img", img)
}

// mutate changes ~1% of the dataset the way a day of use would: appends
// to some logs, rewrites 1% of the small files, rewrites four hot regions
// of the database file and adds one new file.
func mutate(dir string) error {
	rng := rand.New(rand.NewPCG(3, 4))
	later := mtime.Add(24 * time.Hour)
	touch := func(p string) error { return os.Chtimes(p, later, later) }
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("logs/app-%02d.log", i*10))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		f.Write(text(rng, 1<<20))
		f.Close()
		touch(p)
	}
	for i := 0; i < 10000; i += 100 {
		p := filepath.Join(dir, fmt.Sprintf("small/%02d/f%05d", i%100, i))
		if err := os.WriteFile(p, text(rng, 8192), 0o644); err != nil {
			return err
		}
		touch(p)
	}
	p := filepath.Join(dir, "large/db.dat")
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, _ := f.Stat()
	for i := range 4 {
		off := fi.Size() / 5 * int64(i+1)
		f.WriteAt(random(rng, 640<<10), off)
	}
	f.Close()
	touch(p)
	p = filepath.Join(dir, "blobs/new-upload.bin")
	if err := os.WriteFile(p, random(rng, 4<<20), 0o644); err != nil {
		return err
	}
	return touch(p)
}

func random(rng *rand.Rand, n int) []byte {
	b := make([]byte, n+8)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b[:n]
}

var words = []string{"GET", "PUT", "/api/v1/namespaces", "pods", "status=200", "status=404", "latency_ms",
	"user=system:serviceaccount", "etcd", "raft", "commit", "apply", "leader", "compaction", "revision",
	"lease", "watch", "INFO", "WARN", "ERROR", "request", "response", "bytes", "trace_id"}

// text is log-like: timestamps, levels, words and numbers; zstd -3
// compresses it about 3-4x, like real logs.
func text(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+256)
	ts := int64(1735689600000) + rng.Int64N(1e9)
	for len(b) < n {
		ts += rng.Int64N(5000)
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, ' ')
		for range 3 + rng.IntN(8) {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, '=')
			b = strconv.AppendUint(b, rng.Uint64N(1<<uint(4+rng.IntN(28))), 16)
			b = append(b, ' ')
		}
		b = append(b, '\n')
	}
	return b[:n]
}
