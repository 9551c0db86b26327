// Command pg-backup-bench drives rebound's PostgreSQL base backup and its
// restore for the benchmark in backup.sh, without Kubernetes: the base
// backup of a server into a repository (postgres.BaseBackup, as a backup
// of the app calls it), and the restore of that backup into a data
// directory (the data mover's restore-archive). It is a benchmark
// harness, not the rebound CLI.
//
//	pg-backup-bench backup -dsn postgres://... -repo DIR -keyfile FILE
//	pg-backup-bench restore -repo DIR -keyfile FILE -dst DIR
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reboundhq/rebound/apps/postgres"
	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pg-backup-bench backup|restore [flags]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "pg-backup-bench:", err)
		os.Exit(1)
	}
}

// writer is the engine's BackupWriter around a repository snapshot.
type writer struct {
	*repo.SnapshotWriter
	cut time.Time
}

func (w *writer) AddObject(ctx context.Context, name string, r io.Reader) error {
	return w.SnapshotWriter.AddObject(ctx, name, r)
}
func (w *writer) Cut()                                { w.cut = time.Now() }
func (w *writer) Progress(string, int64, int64, bool) {}

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dsn := fs.String("dsn", "", "connection string of the server to back up (backup)")
	repoURL := fs.String("repo", "", "repository path (created by backup when missing)")
	keyFile := fs.String("keyfile", "", "key file (created with the repository)")
	dst := fs.String("dst", "", "data directory to restore into (restore); its parent is the volume")
	fs.Parse(args)
	ctx := context.Background()
	switch cmd {
	case "backup":
		if _, err := os.Stat(*keyFile); errors.Is(err, os.ErrNotExist) {
			key := repo.GenerateKey()
			if err := os.WriteFile(*keyFile, []byte(repo.EncodeKey(key)+"\n"), 0o600); err != nil {
				return err
			}
			r, err := repo.Init(ctx, *repoURL, key)
			if err != nil {
				return err
			}
			r.Close()
		}
		r, err := open(ctx, *repoURL, *keyFile)
		if err != nil {
			return err
		}
		defer r.Close()
		cfg, err := pgconn.ParseConfig(*dsn)
		if err != nil {
			return err
		}
		sw, err := r.NewSnapshot(ctx, repo.BackupOptions{Tags: []string{"pg-bench"}})
		if err != nil {
			return err
		}
		defer sw.Abort()
		start := time.Now()
		w := &writer{SnapshotWriter: sw}
		data, err := postgres.BaseBackup(ctx, cfg, w)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(data)
		if err := sw.AddObject(ctx, "native.json", bytes.NewReader(b)); err != nil {
			return err
		}
		s, err := sw.Commit(ctx)
		if err != nil {
			return err
		}
		out, _ := json.Marshal(map[string]any{"id": s.ID.String(), "bytes": s.Summary.Bytes, "stored": s.Summary.StoredBytes,
			"position": data.Position, "cutAfter": w.cut.Sub(start).Seconds()})
		fmt.Println(string(out))
		return nil
	case "restore":
		r, err := open(ctx, *repoURL, *keyFile)
		if err != nil {
			return err
		}
		defer r.Close()
		id, err := r.Resolve(ctx, "latest")
		if err != nil {
			return err
		}
		abs, err := filepath.Abs(*dst)
		if err != nil {
			return err
		}
		return mover.RestoreArchive(ctx, r, mover.ArchiveOptions{
			Common: mover.Common{Token: "bench"}, Backup: id.String(), VolumeRoot: filepath.Dir(abs), Dir: abs,
			Objects: []mover.ArchiveObject{{Object: postgres.ObjectBase, Into: "."}, {Object: postgres.ObjectWAL, Into: "pg_wal"}},
		})
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func open(ctx context.Context, url, keyFile string) (*repo.Repository, error) {
	key, err := repo.KeyFromFile(keyFile)
	if err != nil {
		return nil, err
	}
	return repo.Open(ctx, url, key)
}
