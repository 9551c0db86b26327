package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/postgres/internal/pgtest"
	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
)

// repoWriter is the engine's BackupWriter as a test sees it: a real
// repository snapshot, with the cut and progress recorded.
type repoWriter struct {
	*repo.SnapshotWriter
	cut     func()
	cuts    int
	objects []string
}

func (w *repoWriter) AddObject(ctx context.Context, name string, r io.Reader) error {
	w.objects = append(w.objects, name)
	return w.SnapshotWriter.AddObject(ctx, name, r)
}
func (w *repoWriter) Cut()                                { w.cuts++; w.cut() }
func (w *repoWriter) Progress(string, int64, int64, bool) {}

func newRepo(t *testing.T) *repo.Repository {
	ctx := context.Background()
	r, err := repo.Init(ctx, t.TempDir(), repo.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestBaseBackupRoundTrip backs a real PostgreSQL up while a client keeps
// committing, restores the backup with the data mover into a new data
// directory, starts PostgreSQL on it, and checks that every row committed
// before the cut is there.
func TestBaseBackupRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src := pgtest.Start(t, pgtest.Options{})
	src.Exec(t, "CREATE TABLE probe (id bigint PRIMARY KEY, pad text); INSERT INTO probe SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g")
	d := newDriver(t, src, nil)

	// A client commits one row at a time until told to stop; acked holds
	// the ids whose COMMIT returned.
	var mu sync.Mutex
	var acked []int64
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		c, err := pgconn.Connect(ctx, src.SuperuserURL())
		if err != nil {
			writerDone <- err
			return
		}
		defer c.Close(context.Background())
		for id := int64(1_000_001); ; id++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := c.Exec(ctx, "INSERT INTO probe VALUES ("+strconv.FormatInt(id, 10)+", 'w')").ReadAll(); err != nil {
				writerDone <- err
				return
			}
			mu.Lock()
			acked = append(acked, id)
			mu.Unlock()
		}
	}()

	r := newRepo(t)
	sw, err := r.NewSnapshot(ctx, repo.BackupOptions{Tags: []string{"test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Abort()
	var beforeCut []int64
	w := &repoWriter{SnapshotWriter: sw, cut: func() {
		mu.Lock()
		beforeCut = append([]int64(nil), acked...)
		mu.Unlock()
	}}
	// Through the driver, as the backup engine calls it.
	data, err := d.NativeBackup(ctx, w, nil)
	close(stop)
	if err != nil {
		t.Fatalf("BaseBackup: %v", err)
	}
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	snap, err := sw.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if w.cuts != 1 {
		t.Fatalf("Cut called %d times, want once", w.cuts)
	}
	if len(beforeCut) == 0 {
		t.Fatal("no write was acknowledged before the cut: the test proves nothing")
	}
	var p BackupParams
	if err := json.Unmarshal(data.Params, &p); err != nil {
		t.Fatal(err)
	}
	t.Logf("backup: %d bytes, objects %v, params %+v, %d writes acked before the cut", data.Size, data.Objects, p, len(beforeCut))
	if data.Kind != KindBaseBackup || p.SystemID == "" || p.Timeline != 1 || p.ServerVersion < 150000 || p.WALSegmentSize != 16<<20 {
		t.Fatalf("native data %+v, params %+v", data, p)
	}
	for _, o := range []string{ObjectBase, ObjectWAL, ObjectManifest} {
		if !contains(data.Objects, o) {
			t.Fatalf("objects %v lack %s", data.Objects, o)
		}
	}

	// Restore with the mover into a volume holding an old data directory.
	vol := filepath.Join(pgTempDir(t), "vol")
	pgdata := filepath.Join(vol, "pgdata")
	if err := os.MkdirAll(filepath.Join(pgdata, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mover.RestoreArchive(ctx, r, mover.ArchiveOptions{
		Common: mover.Common{Token: "t1"}, Backup: snap.ID.String(), VolumeRoot: vol, Dir: pgdata,
		Objects: []mover.ArchiveObject{{Object: ObjectBase, Into: "."}, {Object: ObjectWAL, Into: "pg_wal"}},
	}); err != nil {
		t.Fatalf("RestoreArchive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pgdata, "old")); !os.IsNotExist(err) {
		t.Fatalf("the old data directory's contents survived the restore: %v", err)
	}
	if entries, _ := os.ReadDir(vol); len(entries) != 1 {
		t.Fatalf("volume holds %d entries after the restore, want the data directory alone", len(entries))
	}
	chownPG(t, vol)
	dst := startPG(t, pgdata)
	res := dst.exec(t, "SELECT id FROM probe WHERE id > 1000000 UNION ALL SELECT count(*) FROM probe WHERE id <= 200000")
	rows := res[0].Rows
	have := map[int64]bool{}
	for _, row := range rows[:len(rows)-1] {
		id, _ := strconv.ParseInt(string(row[0]), 10, 64)
		have[id] = true
	}
	if n := string(rows[len(rows)-1][0]); n != "200000" {
		t.Fatalf("restored cluster has %s of the 200000 bulk rows", n)
	}
	var missing []int64
	for _, id := range beforeCut {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d rows committed before the cut are missing after the restore, e.g. %v", len(missing), len(beforeCut), missing[:min(5, len(missing))])
	}
	t.Logf("restored cluster has all %d rows committed before the cut (%d written in all, %d present)", len(beforeCut), len(acked), len(have))
	sysid := string(dst.exec(t, "SELECT system_identifier::text FROM pg_control_system()")[0].Rows[0][0])
	if sysid != p.SystemID {
		t.Fatalf("restored system identifier %s, backup recorded %s", sysid, p.SystemID)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestBaseBackupBadSetup: a server that cannot give a base backup is
// refused with the setting to change, before anything is written.
func TestBaseBackupBadSetup(t *testing.T) {
	tests := []struct {
		name     string
		settings []string
		user     string
		want     []string
	}{
		{name: "wal_level minimal", settings: []string{"wal_level = minimal", "max_wal_senders = 0"}, user: "postgres", want: []string{"wal_level is minimal", "set wal_level = replica"}},
		{name: "no wal senders", settings: []string{"max_wal_senders = 0"}, user: "postgres", want: []string{"max_wal_senders is 0", "at least the number of replicas + 2"}},
		{name: "role without REPLICATION", user: "plain", want: []string{`role "plain" has no REPLICATION`, `ALTER ROLE "plain" REPLICATION`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := pgtest.Start(t, pgtest.Options{Conf: tc.settings})
			s.Exec(t, "CREATE ROLE plain LOGIN PASSWORD '"+pgtest.Password+"'")
			r := newRepo(t)
			sw, err := r.NewSnapshot(ctx, repo.BackupOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer sw.Abort()
			w := &repoWriter{SnapshotWriter: sw, cut: func() {}}
			cfg, err := pgconn.ParseConfig("postgres://" + tc.user + ":" + pgtest.Password + "@" + s.Addr() + "/postgres?sslmode=disable")
			if err != nil {
				t.Fatal(err)
			}
			_, err = BaseBackup(ctx, cfg, w)
			if !errors.Is(err, ErrBackupSetup) {
				t.Fatalf("err = %v, want ErrBackupSetup", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if len(w.objects) > 0 || w.cuts > 0 {
				t.Errorf("the refused backup wrote %v (cuts %d)", w.objects, w.cuts)
			}
		})
	}
}

var _ apps.BackupWriter = (*repoWriter)(nil)

// backupAndRestore backs cfg's server up into a new repository and
// restores it with the mover into a new data directory, owned by the
// PostgreSQL user, returning the directory and the backup's parameters.
func backupAndRestore(t *testing.T, ctx context.Context, cfg *pgconn.Config) (string, BackupParams) {
	t.Helper()
	r := newRepo(t)
	sw, err := r.NewSnapshot(ctx, repo.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Abort()
	data, err := BaseBackup(ctx, cfg, &repoWriter{SnapshotWriter: sw, cut: func() {}})
	if err != nil {
		t.Fatalf("BaseBackup: %v", err)
	}
	snap, err := sw.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p BackupParams
	if err := json.Unmarshal(data.Params, &p); err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(pgTempDir(t), "vol")
	pgdata := filepath.Join(vol, "pgdata")
	if err := os.MkdirAll(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mover.RestoreArchive(ctx, r, mover.ArchiveOptions{
		Backup: snap.ID.String(), VolumeRoot: vol, Dir: pgdata,
		Objects: []mover.ArchiveObject{{Object: ObjectBase, Into: "."}, {Object: ObjectWAL, Into: "pg_wal"}},
	}); err != nil {
		t.Fatalf("RestoreArchive: %v", err)
	}
	chownPG(t, vol)
	return pgdata, p
}

// TestBaseBackupAfterPromotion backs up a server on timeline 2 (a
// restored copy, promoted, as Patroni promotes a restored cluster): the
// WAL must come with the timeline's history, and the copy of the copy
// must hold the rows written after the promotion.
func TestBaseBackupAfterPromotion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src := pgtest.Start(t, pgtest.Options{})
	src.Exec(t, "CREATE TABLE probe (id int PRIMARY KEY); INSERT INTO probe SELECT generate_series(1, 100)")
	cfg, err := pgconn.ParseConfig(src.SuperuserURL())
	if err != nil {
		t.Fatal(err)
	}
	dir1, p1 := backupAndRestore(t, ctx, cfg)
	if p1.Timeline != 1 {
		t.Fatalf("first backup on timeline %d", p1.Timeline)
	}
	// As Patroni starts a restored member: a standby replaying what it
	// has, then promoted.
	if err := os.WriteFile(filepath.Join(dir1, "standby.signal"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	chownPG(t, dir1)
	copy1 := startPG(t, dir1)
	copy1.exec(t, "SELECT pg_promote()")
	copy1.exec(t, "INSERT INTO probe SELECT generate_series(101, 150)")

	dir2, p2 := backupAndRestore(t, ctx, copy1.config(t, "postgres"))
	if p2.Timeline != 2 {
		t.Fatalf("backup of the promoted copy on timeline %d, want 2", p2.Timeline)
	}
	if _, err := os.Stat(filepath.Join(dir2, "pg_wal", "00000002.history")); err != nil {
		t.Fatalf("timeline 2's history file is not in the restored pg_wal: %v", err)
	}
	copy2 := startPG(t, dir2)
	res := copy2.exec(t, "SELECT count(*), max(id) FROM probe")
	if got := string(res[0].Rows[0][0]) + "/" + string(res[0].Rows[0][1]); got != "150/150" {
		t.Fatalf("copy of the promoted copy holds count/max %s, want 150/150", got)
	}
}
