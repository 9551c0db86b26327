package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/postgres/internal/pgtest"
)

func TestTableName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 80)
	for _, tc := range []struct {
		run, scenario, want string
	}{
		{"20261203-1", "primary-node-loss", "rebound_20261203_1_primary_node_loss"},
		{"R1", "Zone Outage/Primary", "rebound_r1_zone_outage_primary"},
		{"r1", long, "rebound_r1_" + long[:maxIdentifier-9-len("rebound_r1_")] + "_"},
	} {
		got := TableName(tc.run, tc.scenario)
		if !strings.HasPrefix(got, tc.want) || len(got) > maxIdentifier || !plainIdentifier.MatchString(got) {
			t.Errorf("TableName(%q, %q) = %q, want a plain identifier of at most 63 bytes starting %q", tc.run, tc.scenario, got, tc.want)
		}
	}
	if a, b := TableName("r1", long+"a"), TableName("r1", long+"b"); a == b {
		t.Errorf("two long scenario names share the table %q", a)
	}
}

// newDriver connects a driver to s with the superuser's credentials.
func newDriver(t *testing.T, s *pgtest.Server, mod func(*apps.Config)) *Driver {
	t.Helper()
	cfg := apps.Config{
		Endpoints: apps.Endpoints{URLs: []string{s.URL()}, Pods: []string{"pg-0"}},
		Prefix:    TableName("run1", t.Name()),
		Username:  pgtest.Superuser, Password: pgtest.Password,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWriteReadAllDelete(t *testing.T) {
	s := pgtest.Start(t, pgtest.Options{})
	d := newDriver(t, s, nil)
	ctx := ctxT(t)

	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 4 {
		for i := range 50 {
			id := fmt.Sprintf("w%d-%03d", w, i)
			want = append(want, id)
			wg.Go(func() { errs <- d.Write(ctx, id) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if err := d.Read(ctx); err != nil {
		t.Fatalf("read: %v", err)
	}
	got, err := d.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ReadAll = %d ids, want the %d written", len(got), len(want))
	}

	// An id is written once: writing it again is certainly refused.
	err = d.Write(ctx, want[0])
	if err == nil || errors.Is(err, apps.ErrIndeterminate) || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("writing %s again: %v, want a certain duplicate-key error", want[0], err)
	}

	if leader, err := d.Leader(ctx); err != nil || leader != "pg-0" {
		t.Errorf("Leader() = %q, %v; want the primary's pod pg-0", leader, err)
	}

	n, err := d.DeleteData(ctx, d.Table())
	if err != nil || n != len(want) {
		t.Fatalf("DeleteData = %d, %v; want %d", n, err, len(want))
	}
	if got, err := d.ReadAll(ctx); err != nil || len(got) != 0 {
		t.Errorf("ReadAll after DROP TABLE = %v, %v; want none", got, err)
	}
	// The driver never re-creates the table it made: the human error stays
	// visible to the probes.
	if err := d.Write(ctx, "after-drop"); err == nil || errors.Is(err, apps.ErrIndeterminate) {
		t.Errorf("write after DROP TABLE: %v, want a certain error", err)
	}
	if err := d.Read(ctx); err == nil {
		t.Error("read after DROP TABLE succeeded")
	}
	if n, err := d.DeleteData(ctx, d.Table()); err != nil || n != 0 {
		t.Errorf("DeleteData of a dropped table = %d, %v; want 0, nil", n, err)
	}
}

func TestNotPatroniManaged(t *testing.T) {
	s := pgtest.Start(t, pgtest.Options{})
	d := newDriver(t, s, nil)
	ctx := ctxT(t)
	h, err := d.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Serving || !h.Full || h.Members != 1 || h.Healthy != 1 {
		t.Errorf("health of a lone primary = %+v, want serving and full, 1/1", h)
	}
	for _, want := range []string{"primary pg-0", "0/0 replicas streaming", "not managed by Patroni", "cannot see failovers"} {
		if !strings.Contains(h.Detail, want) {
			t.Errorf("health detail %q does not say %q", h.Detail, want)
		}
	}
	p, err := d.Promise(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !p.MayLoseAcknowledged || !strings.Contains(p.Why, "asynchronous") {
		t.Errorf("promise without synchronous_standby_names = %+v, want acknowledged writes may be lost (asynchronous)", p)
	}
	s.Exec(t, "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (pg1)'")
	s.Exec(t, "SELECT pg_reload_conf()")
	// Backends reread the configuration when the reload signal reaches
	// them, which takes a moment.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if p, err = d.Promise(ctx); err != nil {
			t.Fatal(err)
		}
		if !p.MayLoseAcknowledged || time.Now().After(deadline) {
			break
		}
	}
	if p.MayLoseAcknowledged || !strings.Contains(p.Why, "synchronous replication") {
		t.Errorf("promise with synchronous_standby_names = %+v, want none lost", p)
	}
}

func TestWriteOutcomeWhenTheConnectionDies(t *testing.T) {
	s := pgtest.Start(t, pgtest.Options{})
	d := newDriver(t, s, nil)
	ctx := ctxT(t)
	if err := d.Write(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	// Hold the table so the next INSERT waits inside the server, then end
	// that backend: the statement was sent and no answer came.
	admin := s.Connect(t)
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+d.Table()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Write(ctx, "second") }()
	var pid int
	for pid == 0 {
		select {
		case err := <-done:
			t.Fatalf("write returned while the table was locked: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		_ = s.Connect(t).QueryRow(ctx, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'rebound' AND wait_event_type = 'Lock'").Scan(&pid)
	}
	if _, err := s.Connect(t).Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	err = <-done
	if !errors.Is(err, apps.ErrIndeterminate) {
		t.Errorf("write whose connection was killed after the INSERT was sent: %v, want ErrIndeterminate", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The driver connects again.
	if err := d.Write(ctx, "third"); err != nil {
		t.Errorf("write after the killed connection: %v", err)
	}

	// Nothing listens: nothing was sent, so the write certainly failed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	d.SetEndpoints(apps.Endpoints{URLs: []string{"postgres://" + closed + "/postgres"}})
	err = d.Write(ctx, "fourth")
	if err == nil || errors.Is(err, apps.ErrIndeterminate) {
		t.Errorf("write to a port nobody listens on: %v, want a certain error", err)
	}
}

func TestWrongPassword(t *testing.T) {
	s := pgtest.Start(t, pgtest.Options{})
	d := newDriver(t, s, func(c *apps.Config) { c.Password = "wrong" })
	err := d.Write(ctxT(t), "a")
	if err == nil || errors.Is(err, apps.ErrIndeterminate) {
		t.Fatalf("write with a wrong password: %v, want a certain error", err)
	}
	for _, want := range []string{"password", `"postgres"`, "target.endpoints.secretRef"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestProbeTablePermissionDenied(t *testing.T) {
	s := pgtest.Start(t, pgtest.Options{})
	s.Exec(t, "CREATE ROLE prober LOGIN PASSWORD 'prober-pw'")
	d := newDriver(t, s, func(c *apps.Config) { c.Username, c.Password = "prober", "prober-pw" })
	ctx := ctxT(t)
	err := d.Write(ctx, "a")
	if err == nil {
		t.Fatal("write as a user who may not create tables succeeded")
	}
	for _, want := range []string{"permission denied", "GRANT CREATE ON SCHEMA public TO prober", "target.endpoints.secretRef"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Once granted, it works.
	s.Exec(t, "GRANT CREATE ON SCHEMA public TO prober")
	if err := d.Write(ctx, "a"); err != nil {
		t.Errorf("write after the GRANT: %v", err)
	}
}

func TestTLSWithServerName(t *testing.T) {
	ca := pgtest.NewCA(t)
	cert, key := ca.Issue(t, "pg.demo.svc")
	s := pgtest.Start(t, pgtest.Options{CertPEM: cert, KeyPEM: key,
		HBA: []string{"hostssl all all 127.0.0.1/32 scram-sha-256"}})
	withCA := func(c *apps.Config) { c.CACert = ca.CertPEM }
	ctx := ctxT(t)

	d := newDriver(t, s, func(c *apps.Config) { withCA(c); c.ServerName = "pg.demo.svc" })
	if err := d.Write(ctx, "over-tls"); err != nil {
		t.Fatalf("write over TLS with the server name the certificate holds: %v", err)
	}
	var ssl bool
	if err := d.members[0].pool.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Errorf("driver's connection uses TLS: %v, %v", ssl, err)
	}

	d = newDriver(t, s, withCA) // dials 127.0.0.1, checks 127.0.0.1
	err := d.Write(ctx, "no-name")
	if err == nil {
		t.Fatal("write to a server whose certificate is not for 127.0.0.1 succeeded without a server name")
	}
	for _, want := range []string{"target.endpoints.tls.serverName", "pg.demo.svc"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	other := pgtest.NewCA(t)
	d = newDriver(t, s, func(c *apps.Config) { c.CACert, c.ServerName = other.CertPEM, "pg.demo.svc" })
	if err := d.Write(ctx, "wrong-ca"); err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Errorf("write with a CA that did not sign the certificate: %v, want an error naming ca.crt", err)
	}
}

// waitFor polls cond until it holds, failing the test after 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
	}
}

// A primary and its streaming replica, no manager: the driver writes to
// the primary, reads on the replica while no member takes writes, and
// follows the replica once it is promoted.
func TestFollowsThePrimaryAcrossAPromotion(t *testing.T) {
	p := pgtest.Start(t, pgtest.Options{})
	s := pgtest.StartStandby(t, p)
	d := newDriver(t, p, func(c *apps.Config) {
		c.Endpoints = apps.Endpoints{URLs: []string{p.URL(), s.URL()}, Pods: []string{"pg-0", "pg-1"}}
	})
	ctx := ctxT(t)

	var h apps.Health
	waitFor(t, "the replica streams", func() bool {
		var err error
		h, err = d.Health(ctx)
		return err == nil && h.Full
	})
	if h.Members != 2 || h.Healthy != 2 || !strings.Contains(h.Detail, "primary pg-0, 1/1 replicas streaming (lag ") {
		t.Errorf("health of a primary with its streaming replica = %+v", h)
	}
	var acked []string
	for i := range 20 {
		id := fmt.Sprintf("before-%02d", i)
		if err := d.Write(ctx, id); err != nil {
			t.Fatalf("write to the primary: %v", err)
		}
		acked = append(acked, id)
	}
	if l, err := d.Leader(ctx); err != nil || l != "pg-0" {
		t.Errorf("Leader() = %q, %v; want pg-0", l, err)
	}
	standby := s.Connect(t)
	waitFor(t, "the replica has every acknowledged row", func() bool {
		var n int
		return standby.QueryRow(ctx, "SELECT count(*) FROM "+d.Table()).Scan(&n) == nil && n == len(acked)
	})

	p.Stop()
	if err := d.Write(ctx, "while-no-primary"); err == nil {
		t.Fatal("a write succeeded with the primary stopped and the replica not promoted")
	}
	if err := d.Read(ctx); err != nil {
		t.Errorf("read with the primary stopped: %v; want the replica to answer", err)
	}
	h, err := d.Health(ctx)
	if err != nil || h.Serving || h.Full {
		t.Errorf("health with no primary = %+v, %v; want not serving", h, err)
	}

	if _, err := standby.Exec(ctx, "SELECT pg_promote()"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a write through the promoted replica", func() bool { return d.Write(ctx, "after-00") == nil })
	acked = append(acked, "after-00")
	if l, err := d.Leader(ctx); err != nil || l != "pg-1" {
		t.Errorf("Leader() after the promotion = %q, %v; want pg-1", l, err)
	}
	got, err := d.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if !slices.Contains(got, id) {
			t.Errorf("acknowledged %s missing after the promotion", id)
		}
	}
}

// A server that asks for a client certificate gets the one of Config.
func TestTLSClientCertificate(t *testing.T) {
	ca := pgtest.NewCA(t)
	cert, key := ca.Issue(t, "pg.demo.svc")
	s := pgtest.Start(t, pgtest.Options{CertPEM: cert, KeyPEM: key, ClientCAPEM: ca.CertPEM,
		HBA: []string{"hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-full"}})
	ctx := ctxT(t)
	clientCert, clientKey := ca.IssueClient(t, pgtest.Superuser)
	d := newDriver(t, s, func(c *apps.Config) {
		c.CACert, c.ServerName, c.ClientCert, c.ClientKey = ca.CertPEM, "pg.demo.svc", clientCert, clientKey
	})
	if err := d.Write(ctx, "with-client-cert"); err != nil {
		t.Fatalf("write with the client certificate the server asks for: %v", err)
	}
	d = newDriver(t, s, func(c *apps.Config) { c.CACert, c.ServerName = ca.CertPEM, "pg.demo.svc" })
	if err := d.Write(ctx, "without"); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Errorf("write without a client certificate: %v, want an error naming tls.crt", err)
	}
}
