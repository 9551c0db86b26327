package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamage flips one byte of each kind of object, at several places,
// and checks that Verify names the object and Restore refuses with an
// error naming it, leaving no file with wrong content behind.
func TestDamage(t *testing.T) {
	t.Parallel()
	type target struct {
		kind string
		pick func(t *testing.T, r *Repository, s *Snapshot, tree *Tree) (key string, id ID)
	}
	fileChunk := func(t *testing.T, r *Repository, s *Snapshot, tree *Tree) (string, ID) {
		for _, n := range tree.Nodes {
			if n.Path == "b-big" {
				return chunkKey(n.Chunks[1]), n.Chunks[1]
			}
		}
		t.Fatal("b-big not in tree")
		return "", ID{}
	}
	targets := []target{
		{"config", func(*testing.T, *Repository, *Snapshot, *Tree) (string, ID) { return configKey, ID{} }},
		{"snapshot", func(_ *testing.T, _ *Repository, s *Snapshot, _ *Tree) (string, ID) { return snapshotKey(s.ID), s.ID }},
		{"tree chunk", func(_ *testing.T, _ *Repository, s *Snapshot, _ *Tree) (string, ID) {
			return chunkKey(s.Tree[0]), s.Tree[0]
		}},
		{"file chunk", fileChunk},
	}
	offsets := []struct {
		name string
		off  int
	}{{"first byte", 0}, {"header", 5}, {"nonce", 10}, {"middle", -1}, {"last byte", -2}}
	for _, tg := range targets {
		for _, o := range offsets {
			t.Run(tg.kind+"/"+o.name, func(t *testing.T) {
				t.Parallel()
				r, dir, key := newTestRepo(t)
				ctx := context.Background()
				src := t.TempDir()
				writeTree(t, src, map[string]fileSpec{"a-small": {size: 1000, text: true}, "b-big": {size: 6 << 20}, "c-after": {size: 10}})
				snap, err := r.Backup(ctx, src, BackupOptions{})
				if err != nil {
					t.Fatal(err)
				}
				tree, err := r.LoadTree(ctx, snap)
				if err != nil {
					t.Fatal(err)
				}
				k, id := tg.pick(t, r, snap, tree)
				p := filepath.Join(dir, filepath.FromSlash(k))
				off := o.off
				switch off {
				case -1:
					fi, _ := os.Stat(p)
					off = int(fi.Size() / 2)
				case -2:
					off = -1
				}
				flipByte(t, p, off)

				rep, err := r.Verify(ctx)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Verify: %v, want ErrCorrupt", err)
				}
				var found *Problem
				for i := range rep.Problems {
					if rep.Problems[i].Key == k {
						found = &rep.Problems[i]
					}
				}
				if found == nil || found.ID != id || len(rep.Problems) != 1 {
					t.Fatalf("Verify problems %v, want exactly one naming %q", rep.Problems, k)
				}
				if !strings.Contains(err.Error(), k) || (!id.IsZero() && !strings.Contains(err.Error(), id.String())) {
					t.Errorf("Verify error does not name %s %s: %v", k, id, err)
				}
				switch tg.kind {
				case "file chunk":
					if len(found.Affected) != 1 || found.Affected[0].Path != "b-big" || found.Affected[0].Snapshot != snap.ID {
						t.Errorf("affected = %+v, want b-big of %s", found.Affected, snap.ID.Short())
					}
				case "tree chunk":
					if len(found.Affected) != 1 || found.Affected[0].Path != "" {
						t.Errorf("affected = %+v, want the whole snapshot", found.Affected)
					}
				}
				t.Logf("verify: %v", err)

				dst := t.TempDir()
				err = r.Restore(ctx, snap.ID, dst, RestoreOptions{})
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), k) {
					t.Fatalf("Restore: %v, want ErrCorrupt naming %q", err, k)
				}
				t.Logf("restore: %v", err)
				// The restore into an empty directory is all or nothing.
				if entries, _ := os.ReadDir(dst); len(entries) > 0 {
					t.Errorf("failed restore left %q in the empty directory it restored into", entries[0].Name())
				}
				// Over existing files, whatever was written is right and the
				// damaged file is absent.
				err = r.Restore(ctx, snap.ID, dst, RestoreOptions{Overwrite: true})
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Restore with Overwrite: %v, want ErrCorrupt", err)
				}
				entries, _ := os.ReadDir(dst)
				for _, e := range entries {
					got, _ := os.ReadFile(filepath.Join(dst, e.Name()))
					want, _ := os.ReadFile(filepath.Join(src, e.Name()))
					if strings.HasPrefix(e.Name(), ".") || !bytes.Equal(got, want) {
						t.Errorf("restore left %q with wrong content or a temp file", e.Name())
					}
					if e.Name() == "b-big" && tg.kind == "file chunk" {
						t.Errorf("damaged file b-big was restored")
					}
				}
				if tg.kind == "config" {
					if _, err := Open(ctx, dir, key); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), "config") {
						t.Errorf("Open with a damaged config: %v, want ErrCorrupt naming the config", err)
					}
				}
			})
		}
	}
}

// TestSwappedChunk copies one valid chunk over another: authentication
// binds each blob to its key, so the swap is caught.
func TestSwappedChunk(t *testing.T) {
	t.Parallel()
	r, dir, _ := newTestRepo(t)
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]fileSpec{"a": {size: 3 << 20}})
	snap, err := r.Backup(ctx, src, BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tree, _ := r.LoadTree(ctx, snap)
	c := tree.Nodes[0].Chunks
	if len(c) < 2 {
		t.Fatalf("want 2+ chunks, got %d", len(c))
	}
	from, to := filepath.Join(dir, chunkKey(c[0])), filepath.Join(dir, chunkKey(c[1]))
	b, _ := os.ReadFile(from)
	os.WriteFile(to, b, 0o644)
	_, err = r.OpenFile(ctx, snap.ID, "a")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := r.OpenFile(ctx, snap.ID, "a")
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c[1].String()) {
		t.Errorf("reading a swapped chunk: %v, want ErrCorrupt naming %s", err, c[1])
	}
	if buf.Len() > 0 && !bytes.HasPrefix(mustRead(t, filepath.Join(src, "a")), buf.Bytes()) {
		t.Error("reader returned wrong bytes before the error")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
