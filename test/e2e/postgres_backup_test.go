package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/lab/labnet"
	demoapps "github.com/reboundhq/rebound/scenarios/apps"
)

// The PostgreSQL backup suite runs its own copy of the demo Patroni
// cluster, backs it up with `rebound backup create`, drops a table and
// restores it in place, then restores into another namespace.
const (
	pgNamespace = "rebound-e2e-pg"
	pgCopy      = "rebound-e2e-pg-copy"
	pgRows      = 2000
	pgWait      = 6 * time.Minute
)

// pgConnect connects to the primary of the demo cluster in ns as the
// demo's rebound user, through the lab's network.
func pgConnect(t *testing.T, ctx context.Context, rc *rest.Config, cs kubernetes.Interface, ns string) *pgx.Conn {
	t.Helper()
	pc, err := demoapps.WaitPatroni(ctx, rc, cs, ns, demoapps.PostgresSelector, 3, false, pgWait)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://rebound:demo-rebound-password@%s:5432/rebound?sslmode=disable&connect_timeout=10", pc.PrimaryIP))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = labnet.Dial
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to the primary %s of %s: %v", pc.Primary, ns, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pgIDs reads the ids of table items; a missing table is no ids.
func pgIDs(t *testing.T, ctx context.Context, c *pgx.Conn) (ids map[int]bool, tableExists bool) {
	t.Helper()
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass('items') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	ids = map[int]bool{}
	if !exists {
		return ids, false
	}
	rows, err := c.Query(ctx, "SELECT id FROM items")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, true
}

// assertPgRows fails unless items holds exactly ids 1..pgRows.
func assertPgRows(t *testing.T, ctx context.Context, rc *rest.Config, cs kubernetes.Interface, ns string) {
	t.Helper()
	c := pgConnect(t, ctx, rc, cs, ns)
	ids, ok := pgIDs(t, ctx, c)
	if !ok {
		t.Fatalf("%s: table items is not there after the restore", ns)
	}
	var missing, extra []int
	for i := 1; i <= pgRows; i++ {
		if !ids[i] {
			missing = append(missing, i)
		}
	}
	for id := range ids {
		if id < 1 || id > pgRows {
			extra = append(extra, id)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: %d of the %d rows committed before the backup missing (e.g. %v), %d rows written after it present (e.g. %v)",
			ns, len(missing), pgRows, missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
	}
}

func reboundCLI(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := cli(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("rebound %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func TestPostgresBackup(t *testing.T) {
	var repoDir, keyFile, id string
	f := features.New("native backup and restore of the demo PostgreSQL (Patroni) cluster").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			if out, err := exec.Command(os.Getenv("REBOUND_BINARY"), "backup", "restore-archive", "--help").CombinedOutput(); err != nil {
				t.Fatalf("the rebound binary %s has no `backup restore-archive` mover: %v\n%s", os.Getenv("REBOUND_BINARY"), err, out)
			}
			cs := kube(t, ctx)
			if err := demoapps.Deploy(ctx, cs, "postgres", pgNamespace); err != nil {
				t.Fatal(err)
			}
			if err := demoapps.WaitReady(ctx, cfg.Client().RESTConfig(), cs, "postgres", "", pgNamespace, pgWait); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			repoDir, keyFile = filepath.Join(dir, "repo"), filepath.Join(dir, "key")
			if err := os.WriteFile(keyFile, []byte(repo.EncodeKey(repo.GenerateKey())), 0o600); err != nil {
				t.Fatal(err)
			}
			reboundCLI(t, ctx, "backup", "init", "--repo", repoDir, "--key-file", keyFile)
			return ctx
		}).
		Assess("backup create, DROP TABLE, backup restore: every row committed before the backup is back, none written after it", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, rc := kube(t, ctx), cfg.Client().RESTConfig()
			c := pgConnect(t, ctx, rc, cs, pgNamespace)
			if _, err := c.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, pad text)"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, $1::int) g", pgRows); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out := reboundCLI(t, ctx, "backup", "create", "--repo", repoDir, "--key-file", keyFile, "-n", pgNamespace,
				"-l", "app.kubernetes.io/name=postgres", "--driver", "postgres", "--secret-ref", "postgres-credentials", "--name", "pg")
			t.Logf("backup took %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
			m := regexp.MustCompile(`backup (\S+) taken: level (\S+),`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no backup id in %q", out)
			}
			id = m[1]
			// Data at db level, with config and metadata: system.
			if m[2] != "system" {
				t.Errorf("backup level %s, want system", m[2])
			}
			show := reboundCLI(t, ctx, "backup", "describe", id, "--repo", repoDir, "--key-file", keyFile, "-o", "json")
			for _, want := range []string{`"postgres-basebackup"`, `"postgres/base.tar"`, `"postgres/pg_wal.tar"`, `"level": "db"`} {
				if !strings.Contains(show, want) {
					t.Errorf("backup describe lacks %s:\n%s", want, show)
				}
			}
			if strings.Contains(show, `"postgres-leader"`) {
				t.Errorf("the backup captured Patroni's leader lock:\n%s", show)
			}
			// Written after the backup: the restore must not bring these.
			c = pgConnect(t, ctx, rc, cs, pgNamespace)
			if _, err := c.Exec(ctx, "INSERT INTO items SELECT g, 'after' FROM generate_series($1::int, $2::int) g", pgRows+1, pgRows+10); err != nil {
				t.Fatal(err)
			}
			// The human error.
			if _, err := c.Exec(ctx, "DROP TABLE items"); err != nil {
				t.Fatal(err)
			}
			c.Close(ctx)

			start = time.Now()
			out = reboundCLI(t, ctx, "backup", "restore", id, "--repo", repoDir, "--key-file", keyFile, "--timeout", pgWait.String())
			t.Logf("restore in place took %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(lastLine(out)))
			assertPgRows(t, ctx, rc, cs, pgNamespace)
			return ctx
		}).
		Assess("restore into another namespace", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs, rc := kube(t, ctx), cfg.Client().RESTConfig()
			start := time.Now()
			out := reboundCLI(t, ctx, "backup", "restore", id, "--repo", repoDir, "--key-file", keyFile, "-n", pgCopy, "--timeout", pgWait.String())
			t.Logf("restore into %s took %s: %s", pgCopy, time.Since(start).Round(time.Millisecond), strings.TrimSpace(lastLine(out)))
			assertPgRows(t, ctx, rc, cs, pgCopy)
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			deleteNamespace(t, ctx, cs, pgCopy)
			deleteNamespace(t, ctx, cs, pgNamespace)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
