package mover

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/reboundhq/rebound/backup/repo"
)

type tarEntry struct {
	name, body, link string
	dir              bool
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o700, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// archiveBackup stores tars as objects of one snapshot.
func archiveBackup(t *testing.T, objects map[string][]byte) (*repo.Repository, string) {
	ctx := context.Background()
	r, err := repo.Init(ctx, t.TempDir(), repo.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	w, err := r.NewSnapshot(ctx, repo.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range objects {
		if err := w.AddObject(ctx, name, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r, s.ID.String()
}

func TestRestoreArchive(t *testing.T) {
	base := makeTar(t, []tarEntry{{name: "PG_VERSION", body: "15\n"}, {name: "global", dir: true}, {name: "global/pg_control", body: "ctl"}, {name: "pg_wal", dir: true}, {name: "pg_tblspc/16400", link: "/ts"}})
	wal := makeTar(t, []tarEntry{{name: "000000010000000000000003", body: strings.Repeat("w", 1000)}})
	evil := makeTar(t, []tarEntry{{name: "../escape", body: "x"}})
	r, id := archiveBackup(t, map[string][]byte{"base.tar": base, "wal.tar": wal, "evil.tar": evil})
	ctx := context.Background()

	vol := t.TempDir()
	dir := filepath.Join(vol, "pgroot", "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old"), []byte("old data"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("refused entries leave the old data", func(t *testing.T) {
		for _, o := range []ArchiveOptions{
			{Common: Common{Token: "a"}, Backup: id, VolumeRoot: vol, Dir: dir, Objects: []ArchiveObject{{Object: "base.tar", Into: "."}, {Object: "evil.tar", Into: "."}}},
			{Common: Common{Token: "a"}, Backup: id, VolumeRoot: vol, Dir: dir, Objects: []ArchiveObject{{Object: "base.tar", Into: "."}, {Object: "missing.tar", Into: "."}}},
			{Common: Common{Token: "a"}, Backup: id, VolumeRoot: vol, Dir: dir, Objects: []ArchiveObject{{Object: "base.tar", Into: "../x"}}},
			{Common: Common{Token: "a"}, Backup: id, VolumeRoot: vol, Dir: "/elsewhere", Objects: []ArchiveObject{{Object: "base.tar", Into: "."}}},
		} {
			if err := RestoreArchive(ctx, r, o); err == nil {
				t.Fatalf("RestoreArchive(%+v) succeeded", o.Objects)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "old")); err != nil || string(b) != "old data" {
				t.Fatalf("old data gone after a failed restore: %q %v", b, err)
			}
			if _, err := os.Stat(filepath.Join(vol, "escape")); err == nil {
				t.Fatal("an entry escaped the directory")
			}
			if entries, _ := os.ReadDir(vol); len(entries) != 1 {
				t.Fatalf("staging left behind: %v", entries)
			}
		}
	})

	t.Run("extract and swap", func(t *testing.T) {
		o := ArchiveOptions{Common: Common{Token: "b"}, Backup: id, VolumeRoot: vol, Dir: dir,
			Objects: []ArchiveObject{{Object: "base.tar", Into: "."}, {Object: "wal.tar", Into: "pg_wal"}}}
		if err := RestoreArchive(ctx, r, o); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "old")); !os.IsNotExist(err) {
			t.Fatalf("old file survived: %v", err)
		}
		for p, want := range map[string]string{"PG_VERSION": "15\n", "global/pg_control": "ctl", "pg_wal/000000010000000000000003": strings.Repeat("w", 1000)} {
			if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != want {
				t.Errorf("%s = %q, %v", p, b, err)
			}
		}
		if l, err := os.Readlink(filepath.Join(dir, "pg_tblspc/16400")); err != nil || l != "/ts" {
			t.Errorf("symlink %q %v", l, err)
		}
		if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("data directory mode %v %v, want 0700 (PostgreSQL refuses others)", st.Mode(), err)
		}
	})

	t.Run("owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("giving files to another user needs root")
		}
		o := ArchiveOptions{Common: Common{Token: "o"}, Backup: id, VolumeRoot: vol, Dir: dir, Owner: "12345:23456", VolumeGroup: "34567",
			Objects: []ArchiveObject{{Object: "base.tar", Into: "."}}}
		if err := RestoreArchive(ctx, r, o); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dir, filepath.Join(dir, "global/pg_control")} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if s := st.Sys().(*syscall.Stat_t); s.Uid != 12345 || s.Gid != 23456 {
				t.Errorf("%s owned by %d:%d, want 12345:23456", p, s.Uid, s.Gid)
			}
		}
		st, err := os.Stat(vol)
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscall.Stat_t); s.Gid != 34567 || st.Mode()&os.ModeSetgid == 0 || st.Mode().Perm()&0o070 != 0o070 {
			t.Errorf("volume root %v group %d, want group 34567 with rwx and setgid", st.Mode(), s.Gid)
		}
		if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
			t.Errorf("data directory %v, want 0700", st.Mode())
		}
		if err := RestoreArchive(ctx, r, ArchiveOptions{Backup: id, VolumeRoot: vol, Dir: dir, Owner: "postgres"}); err == nil || !strings.Contains(err.Error(), "want UID:GID") {
			t.Errorf("owner by name: %v", err)
		}
	})

	t.Run("no objects empties the directory", func(t *testing.T) {
		if err := RestoreArchive(ctx, r, ArchiveOptions{Common: Common{Token: "c"}, VolumeRoot: vol, Dir: dir}); err != nil {
			t.Fatal(err)
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Fatalf("directory holds %v (%v), want it empty", entries, err)
		}
		if entries, _ := os.ReadDir(vol); len(entries) != 1 {
			t.Fatalf("volume holds %v, want the data's parent alone", entries)
		}
	})

	o := ArchiveOptions{Common: Common{Repo: "/r", KeyFile: "/k", Token: "t", Target: "pvc"}, Backup: "x", VolumeRoot: "/v", Dir: "/v/d", Objects: []ArchiveObject{{Object: "a.tar"}}}
	if got := strings.Join(o.Args(), " "); got != "backup restore-archive --repo=/r --key-file=/k --token=t --target=pvc --backup=x --object=a.tar=. --volume-root=/v --dir=/v/d" {
		t.Errorf("Args = %q", got)
	}
	if got := strings.Join(o.OwnArgs(), " "); got != "restore-archive --backup=x --object=a.tar=. --volume-root=/v --dir=/v/d" {
		t.Errorf("OwnArgs = %q", got)
	}
}
