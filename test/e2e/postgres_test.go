package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/runner"
	"github.com/reboundhq/rebound/scenarios"
	demoapps "github.com/reboundhq/rebound/scenarios/apps"
)

// pgCatalogNamespace holds the demo PostgreSQL the catalog's postgres game
// day runs against in these tests, apart from the suite's etcd.
const pgCatalogNamespace = "rebound-e2e-pgcat"

// runPgCatalog runs one scenario of the catalog's postgres game day, as
// written but for its namespace, against the demo PostgreSQL in
// pgCatalogNamespace, with a backup engine of its own.
func runPgCatalog(t *testing.T, ctx context.Context, name string) reports.Scenario {
	t.Helper()
	sc, err := scenarios.CatalogScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	if sc.GameDay() != "postgres" || sc.Target.Driver != scenarios.DriverPostgres {
		t.Fatalf("%s is not of the postgres game day: %s, driver %s", name, sc.GameDay(), sc.Target.Driver)
	}
	sc.Target.Namespace = pgCatalogNamespace
	dir := t.TempDir()
	e, err := backup.NewEngine(ctx, filepath.Join(dir, "repo"), repo.GenerateKey(), kube(t, ctx), backup.WithInit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	run := runScenarios(t, ctx, []*scenarios.Scenario{sc}, func(o *runner.Options) {
		o.AllowNamespaces, o.Backup = []string{pgCatalogNamespace}, e.ForRunner()
	})
	s := run.Scenarios[0]
	if s.Error != "" {
		t.Fatalf("%s could not run: %s", name, s.Error)
	}
	r := s.Result
	rto := "none"
	if r.RTO != nil {
		rto = r.RTO.Duration().String()
	}
	t.Logf("%s: RTO %s, full redundancy after %v, %d writes acked, %d lost (%d expected, %d before the backup), %d unexpected; breaches %v",
		name, rto, r.TimeToFullRedundancy, r.WritesAcked, r.LostCount, r.ExpectedLossCount, r.LostBeforeBackupCount, r.UnexpectedCount, r.Verdict.Breaches)
	if !r.DataChecked {
		t.Errorf("%s: the probe's records were not read back", name)
	}
	if r.UnexpectedCount != 0 {
		t.Errorf("%s: %d records read back that were never written", name, r.UnexpectedCount)
	}
	if r.WritesAcked < 100 {
		t.Errorf("%s: only %d writes acknowledged: the write probe did not run", name, r.WritesAcked)
	}
	if !r.RedundancyRestored || r.TimeToFullRedundancy == nil {
		t.Errorf("%s: full redundancy not back (every replica streaming); breaches %v", name, r.Verdict.Breaches)
	}
	return s
}

// assertPgFailover checks a fault that takes the primary away: the
// service is down until Patroni's leader lock lapses and a replica is
// promoted (the demo's TTL is 30 s), then back.
func assertPgFailover(t *testing.T, s reports.Scenario) {
	t.Helper()
	r := s.Result
	if !r.ServiceRestored || r.RTO == nil {
		t.Fatalf("%s: service not restored: %v", s.Name, r.Verdict.Breaches)
	}
	if d := r.RTO.Duration(); d <= 0 || d >= time.Minute {
		t.Errorf("%s: RTO %s, want more than 0 (the primary was gone until a replica was promoted) and under a minute (TTL 30 s)", s.Name, d)
	}
	// Asynchronous replication may lose what the primary had not shipped;
	// never more than a failover's worth at the probe's rate.
	if r.LostCount > r.WritesAcked/2 {
		t.Errorf("%s: %d of %d acknowledged writes lost: more than a failover can explain", s.Name, r.LostCount, r.WritesAcked)
	}
}

// TestPostgresCatalog runs every scenario of the catalog's postgres game day
// against the demo PostgreSQL (Patroni, asynchronous replication, 3 members
// over 3 zones) and checks the figures each must show.
func TestPostgresCatalog(t *testing.T) {
	f := features.New("the postgres game day of the catalog on the demo PostgreSQL").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			rc, err := clientcmd.BuildConfigFromFlags("", labFrom(ctx).Kubeconfig())
			if err != nil {
				t.Fatal(err)
			}
			if err := demoapps.DeployVariant(ctx, cs, "postgres", "", pgCatalogNamespace); err != nil {
				t.Fatal(err)
			}
			if err := demoapps.WaitReady(ctx, rc, cs, "postgres", "", pgCatalogNamespace, 5*time.Minute); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("primary node loss: a replica is promoted within the TTL, the old primary rejoins", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			assertPgFailover(t, runPgCatalog(t, ctx, "postgres-node-loss"))
			return ctx
		}).
		Assess("zone outage of the primary's zone: a replica in another zone is promoted", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			assertPgFailover(t, runPgCatalog(t, ctx, "postgres-zone-outage"))
			return ctx
		}).
		Assess("partition of the primary's zone: it keeps the lock and its commits, replicas catch up", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := runPgCatalog(t, ctx, "postgres-partition")
			r := s.Result
			// The primary keeps Patroni's leader lock (it still reaches the
			// API server) and the probe still reaches it: every commit stays.
			if r.LostCount != 0 {
				t.Errorf("%s: %d acknowledged writes lost, though no failover happened", s.Name, r.LostCount)
			}
			if r.RTO != nil && r.RTO.Duration() >= time.Minute {
				t.Errorf("%s: RTO %s: the primary kept serving, any outage should be short", s.Name, r.RTO.Duration())
			}
			return ctx
		}).
		Assess("replica disk loss: the service does not notice, the replica is rebuilt by a base backup", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := runPgCatalog(t, ctx, "postgres-replica-disk-loss")
			r := s.Result
			if r.LostCount != 0 {
				t.Errorf("%s: %d acknowledged writes lost; a replica's disk holds none the primary lacks", s.Name, r.LostCount)
			}
			if r.RTO != nil && r.RTO.Duration() >= 30*time.Second {
				t.Errorf("%s: RTO %s: the primary never went away", s.Name, r.RTO.Duration())
			}
			return ctx
		}).
		Assess("human error: DROP TABLE of the probe's table, restore brings back every row committed before the backup", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := runPgCatalog(t, ctx, "postgres-human-error")
			r := s.Result
			if r.RestoredBackup == "" || r.BackupAge == nil {
				t.Errorf("%s: no backup restored: %+v", s.Name, r)
			}
			if !r.ServiceRestored {
				t.Errorf("%s: service not back after the restore: %v", s.Name, r.Verdict.Breaches)
			}
			if r.LostBeforeBackupCount != 0 {
				t.Errorf("%s: %d writes committed before the backup missing after the restore", s.Name, r.LostBeforeBackupCount)
			}
			if r.LostCount != r.ExpectedLossCount {
				t.Errorf("%s: %d lost, %d of them after the backup: every loss must be one the backup's age explains", s.Name, r.LostCount, r.ExpectedLossCount)
			}
			for _, br := range r.Verdict.Breaches {
				if strings.Contains(br, "restore failed") {
					t.Errorf("breach: %s", br)
				}
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			deleteNamespace(t, context.Background(), kube(t, ctx), pgCatalogNamespace)
			return ctx
		})
	testenv.Test(t, f.Feature())
}
