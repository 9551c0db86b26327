package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// newTestRepo initialises a repository in a temporary directory.
func newTestRepo(t *testing.T, opts ...Option) (*Repository, string, []byte) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	key := GenerateKey()
	r, err := Init(context.Background(), dir, key, append([]Option{WithWorkers(2)}, opts...)...)
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir, key
}

// newSeededTestRepo opens a repository of the current format whose key
// and repository id, and so its keyed chunker's cut points, follow from
// seed: tests whose figures depend on where the cuts fall give the same
// figures on every run.
func newSeededTestRepo(t *testing.T, seed uint64) *Repository {
	t.Helper()
	return newTestRepoAs(t, content(seed, KeySize, false), content(^seed, repoIDSize, false), newFormat)
}

// newTestRepoAs opens a repository whose config is written as Init would
// with the given key, repository id and format.
func newTestRepoAs(t *testing.T, key, repoID []byte, f repoFormat) *Repository {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := newConfig(key, repoID, time.Now(), f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, configKey), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), dir, key, WithWorkers(2))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// content returns n deterministic bytes: random, or text-like (compressible).
func content(seed uint64, n int, text bool) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	if !text {
		for i := 0; i+8 <= n; i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		for i := n - n%8; i < n; i++ {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	words := []string{"etcd", "raft", "term", "index", "commit", "apply", "leader", "follower", "snapshot", "wal", "revision", "key", "value", "lease", "compact"}
	var buf bytes.Buffer
	for buf.Len() < n {
		fmt.Fprintf(&buf, "%d level=info msg=%q", rng.IntN(1<<30), words[rng.IntN(len(words))])
		for range 1 + rng.IntN(8) {
			buf.WriteString(" " + words[rng.IntN(len(words))] + "=" + fmt.Sprint(rng.IntN(100000)))
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()[:n]
}

type fileSpec struct {
	size int
	text bool
	mode fs.FileMode
}

// writeTree creates files under dir with fixed mtimes.
func writeTree(t *testing.T, dir string, files map[string]fileSpec) {
	t.Helper()
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for name, spec := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(name))
		seed := uint64(h[0]) | uint64(h[1])<<8 | uint64(h[2])<<16 | uint64(h[3])<<24
		mode := spec.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, content(seed, spec.size, spec.text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	mode  fs.FileMode
	mtime time.Time
	sum   [32]byte
	link  string
}

// snapshotDir describes every entry under dir (content hash, mode, mtime).
func snapshotDir(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := make(map[string]entry)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{mode: info.Mode(), mtime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.link, _ = os.Readlink(p)
			e.mtime = time.Time{} // symlink times are not restored
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.sum = sha256.Sum256(b)
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareDirs(t *testing.T, want, got string) {
	t.Helper()
	w, g := snapshotDir(t, want), snapshotDir(t, got)
	var names []string
	for n := range w {
		names = append(names, n)
	}
	for n := range g {
		if _, ok := w[n]; !ok {
			t.Errorf("restored extra entry %q", n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		ge, ok := g[n]
		if !ok {
			t.Errorf("entry %q not restored", n)
			continue
		}
		we := w[n]
		if we.mode != ge.mode || !we.mtime.Equal(ge.mtime) || we.sum != ge.sum || we.link != ge.link {
			t.Errorf("entry %q differs:\n want mode %v mtime %v link %q sum %x\n  got mode %v mtime %v link %q sum %x",
				n, we.mode, we.mtime, we.link, we.sum[:4], ge.mode, ge.mtime, ge.link, ge.sum[:4])
		}
	}
}

// storeState fingerprints every file of a local repository, to prove
// that nothing was written.
func storeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, _ := d.Info()
		b, _ := os.ReadFile(p)
		out[p] = fmt.Sprintf("%x %v", sha256.Sum256(b), info.ModTime())
		return nil
	})
	return out
}

// flipByte flips the bits of one byte of a file at offset off (negative:
// from the end).
func flipByte(t *testing.T, p string, off int) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
