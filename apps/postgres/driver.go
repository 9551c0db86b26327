package postgres

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/reboundhq/rebound/apps"
)

// ClientPort is PostgreSQL's port; PatroniPort is the port of Patroni's
// REST API on every member.
const (
	ClientPort  = 5432
	PatroniPort = 8008
)

func init() {
	apps.Register(apps.App{
		Name: "postgres", ClientPort: ClientPort, Scheme: "postgres",
		RecordsName: TableName,
		Restore:     PlanRestore, RuntimeState: IsRuntimeState,
		New: func(ctx context.Context, cfg apps.Config) (apps.Driver, error) { return New(ctx, cfg) },
	})
}

// maxIdentifier is PostgreSQL's limit on a name (NAMEDATALEN - 1 bytes).
const maxIdentifier = 63

var plainIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// TableName is the probe table of a run's scenario: "rebound_<run>_<scenario>"
// folded to lower case, every character but a-z, 0-9 and _ made _, and, past
// PostgreSQL's 63 bytes, cut short with a hash of the whole so two long
// names stay apart. It never needs quoting.
func TableName(runID, scenario string) string { return identifier("rebound_" + runID + "_" + scenario) }

func identifier(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" || (out[0] >= '0' && out[0] <= '9') {
		out = "rebound_" + out
	}
	if len(out) > maxIdentifier {
		sum := sha256.Sum256([]byte(s))
		out = out[:maxIdentifier-9] + "_" + hex.EncodeToString(sum[:4])
	}
	return out
}

// Driver is a PostgreSQL cluster, connected. It implements apps.Driver,
// apps.EndpointUpdater and apps.Promiser, and is safe for concurrent use.
type Driver struct {
	table    string // the probe table: a plain identifier, never quoted
	user     string
	password string
	cfg      apps.Config // for its TLS settings and their errors
	tls      *tls.Config // nil: plain connections
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	rest     *http.Client

	mu      sync.Mutex
	members []*member
	primary *member // where writes go now; nil: find it again
	// leaderHost is the host of the member Patroni last named leader: of
	// two members that both take writes (a split brain) the driver picks
	// it.
	leaderHost string
	// patroni: 0 not known yet, 1 seen, -1 no member has a REST API.
	patroni int

	findMu   chan struct{} // one primary search at a time
	createMu chan struct{} // one table creation at a time
	created  bool          // guarded by createMu
}

// member is one PostgreSQL server of the cluster.
type member struct {
	url  string
	pod  string // may be empty
	host string // for Patroni's REST API
	pool *pgxpool.Pool
}

func (m *member) name() string {
	if m.pod != "" {
		return m.pod
	}
	return m.host
}

var (
	_ apps.Driver          = (*Driver)(nil)
	_ apps.EndpointUpdater = (*Driver)(nil)
)

// New creates a driver for the cluster at cfg.Endpoints (postgres:// URLs or
// host:port; a URL's path names the database, by default the user's name
// as with libpq), with
// the probe table cfg.Prefix (made a plain identifier as TableName does).
// Credentials come from cfg (the Secret of endpoints.secretRef), or the URL,
// or default to user postgres. With cfg.CACert or a client certificate, or
// sslmode=require, verify-ca or verify-full in a URL, connections use TLS
// as cfg.TLSConfig builds it: the server's certificate checked against
// that CA (or the system's) for cfg.ServerName, else the dialled host. New
// does not connect: the first Health, Write or Read finds the primary and
// creates the table.
func New(ctx context.Context, cfg apps.Config) (*Driver, error) {
	if len(cfg.Endpoints.URLs) == 0 {
		return nil, errors.New("postgres driver: no endpoints; give at least one, e.g. postgres://postgres-0.postgres:5432/postgres")
	}
	d := &Driver{
		cfg: cfg, user: cfg.Username, password: cfg.Password, dial: cfg.Dial,
		findMu: make(chan struct{}, 1), createMu: make(chan struct{}, 1),
	}
	d.table = cfg.Prefix
	if !plainIdentifier.MatchString(d.table) || len(d.table) > maxIdentifier {
		d.table = identifier(cfg.Prefix)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("postgres driver: %w", err)
	}
	if len(cfg.CACert) > 0 || len(cfg.ClientCert) > 0 {
		d.tls = tc
	}
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 5 * time.Second}).DialContext
	}
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	d.rest = &http.Client{Transport: tr}
	members, err := d.newMembers(cfg.Endpoints)
	if err != nil {
		return nil, err
	}
	d.members = members
	return d, nil
}

// Table is the probe table's name.
func (d *Driver) Table() string { return d.table }

func (d *Driver) newMembers(eps apps.Endpoints) ([]*member, error) {
	var out []*member
	for i, raw := range eps.URLs {
		m, err := d.newMember(raw)
		if err != nil {
			for _, m := range out {
				m.pool.Close()
			}
			return nil, fmt.Errorf("postgres driver: endpoint %d %q: %w", i, raw, err)
		}
		if i < len(eps.Pods) {
			m.pod = eps.Pods[i]
		}
		out = append(out, m)
	}
	return out, nil
}

func (d *Driver) newMember(raw string) (*member, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "postgres://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("scheme %q: want postgres://host:port/database", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, errors.New("no host: want postgres://host:port/database")
	}
	if port == "" {
		port = strconv.Itoa(ClientPort)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("port %q is not a port number", port)
	}
	user, password := d.user, d.password
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	if password == "" && u.User != nil {
		password, _ = u.User.Password()
	}
	if user == "" {
		user = "postgres"
	}
	// As libpq: the database defaults to the user's name.
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = user
	}
	q := u.Query()
	sslmode := q.Get("sslmode")
	tlsCfg := d.tls
	switch sslmode {
	case "", "disable", "allow", "prefer":
		// Plain unless a CA was given: then TLS is what was asked for.
	case "require", "verify-ca", "verify-full":
		// Verified as every driver verifies (apps.Config.TLSConfig):
		// unlike libpq's require, rebound never skips the check.
		if tlsCfg == nil {
			c, err := d.cfg.TLSConfig() // the system's CAs
			if err != nil {
				return nil, err
			}
			tlsCfg = c
		}
	default:
		return nil, fmt.Errorf("sslmode %q: want disable, require, verify-ca or verify-full", sslmode)
	}
	// Build the pgx config from parts only: pgx.ParseConfig would also
	// read PG* variables of rebound's own environment.
	connURL := (&url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, port), Path: "/" + db,
		RawQuery: url.Values{"sslmode": {"disable"}, "application_name": {"rebound"}}.Encode()}).String()
	pc, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		return nil, err
	}
	pc.ConnConfig.User, pc.ConnConfig.Password = user, password
	if tlsCfg != nil {
		c := tlsCfg.Clone()
		if c.ServerName == "" {
			c.ServerName = host
		}
		pc.ConnConfig.TLSConfig = c
	}
	pc.ConnConfig.Fallbacks = nil
	if d.dial != nil {
		pc.ConnConfig.DialFunc = pgconn.DialFunc(d.dial)
		// The host is resolved where it is dialled (inside the lab's
		// network namespace), not here.
		pc.ConnConfig.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
	pc.ConnConfig.ConnectTimeout = 0 // each call's context is the limit
	pc.MaxConns = 16
	pc.MinConns = 0
	pc.MaxConnIdleTime = 30 * time.Second
	pc.HealthCheckPeriod = 10 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, err
	}
	return &member{url: raw, host: host, pool: pool}, nil
}

// SetEndpoints points the driver at the members' current addresses: a
// member recreated on another pod has a new IP.
func (d *Driver) SetEndpoints(e apps.Endpoints) {
	d.mu.Lock()
	old := map[string]*member{}
	for _, m := range d.members {
		old[m.url] = m
	}
	var next []*member
	for i, u := range e.URLs {
		m, ok := old[u]
		if ok {
			delete(old, u)
		} else {
			var err error
			if m, err = d.newMember(u); err != nil {
				slog.Warn("postgres driver: ignoring an endpoint", "url", u, "err", err)
				continue
			}
		}
		if i < len(e.Pods) {
			m.pod = e.Pods[i]
		}
		next = append(next, m)
	}
	d.members = next
	if d.primary != nil && old[d.primary.url] == d.primary {
		d.primary = nil
	}
	d.mu.Unlock()
	for _, m := range old {
		go m.pool.Close() // waits for connections in use to come back
	}
}

func (d *Driver) snapshot() (members []*member, primary *member, leaderHost string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*member(nil), d.members...), d.primary, d.leaderHost
}

// forget drops m as the primary, so that the next call looks again.
func (d *Driver) forget(m *member) {
	d.mu.Lock()
	if d.primary == m {
		d.primary = nil
	}
	d.mu.Unlock()
}

// memberAnswer is one member's answer to pg_is_in_recovery().
type memberAnswer struct {
	m          *member
	inRecovery bool
	err        error
}

// ask asks every member at once whether it is in recovery, and returns the
// answers in the members' order. It gives up on members that have not
// answered grace after a writable one did: a dead member holds its call
// until ctx ends.
func ask(ctx context.Context, members []*member, grace time.Duration) []memberAnswer {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan memberAnswer, len(members))
	for _, m := range members {
		go func() {
			var rec bool
			err := m.pool.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec)
			ch <- memberAnswer{m: m, inRecovery: rec, err: err}
		}()
	}
	got := map[*member]memberAnswer{}
	var timer <-chan time.Time
wait:
	for len(got) < len(members) {
		select {
		case a := <-ch:
			got[a.m] = a
			if a.err == nil && !a.inRecovery && timer == nil {
				timer = time.After(grace)
			}
		case <-timer:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	out := make([]memberAnswer, len(members))
	for i, m := range members {
		a, ok := got[m]
		if !ok {
			a = memberAnswer{m: m, err: fmt.Errorf("no answer in time: %w", context.DeadlineExceeded)}
		}
		out[i] = a
	}
	return out
}

// primaryMember returns the member writes go to, looking for it when it
// is not known: the one member that is not in recovery; of several (a
// split brain), Patroni's leader, else the first.
func (d *Driver) primaryMember(ctx context.Context) (*member, error) {
	if _, p, _ := d.snapshot(); p != nil {
		return p, nil
	}
	select {
	case d.findMu <- struct{}{}:
		defer func() { <-d.findMu }()
	case <-ctx.Done():
		return nil, fmt.Errorf("find the primary: %w", ctx.Err())
	}
	members, p, leaderHost := d.snapshot()
	if p != nil {
		return p, nil // found while this call waited
	}
	if len(members) == 0 {
		return nil, errors.New("find the primary: no endpoints")
	}
	answers := ask(ctx, members, 300*time.Millisecond)
	var writable []*member
	var errs []string
	var authErr error
	for _, a := range answers {
		switch {
		case a.err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", a.m.name(), a.err))
			if authErr == nil && isConfigError(a.err) {
				authErr = a.err
			}
		case !a.inRecovery:
			writable = append(writable, a.m)
		}
	}
	if len(writable) == 0 {
		if authErr != nil {
			return nil, d.explain(authErr)
		}
		msg := "no member is a primary"
		if len(errs) > 0 {
			msg += " (" + strings.Join(errs, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	pick := writable[0]
	for _, m := range writable {
		if m.host == leaderHost {
			pick = m
		}
	}
	d.mu.Lock()
	if d.primary == nil {
		d.primary = pick
	}
	pick = d.primary
	d.mu.Unlock()
	return pick, nil
}

// ensureTable creates the probe table on the primary unless it exists,
// once: after that nothing creates it again, so that a table dropped by a
// human-error fault stays dropped and the probes see it.
func (d *Driver) ensureTable(ctx context.Context) error {
	select {
	case d.createMu <- struct{}{}:
		defer func() { <-d.createMu }()
	case <-ctx.Done():
		return fmt.Errorf("create the probe table %s: %w", d.table, ctx.Err())
	}
	if d.created {
		return nil
	}
	m, err := d.primaryMember(ctx)
	if err != nil {
		return fmt.Errorf("create the probe table %s: %w", d.table, err)
	}
	var exists bool
	if err := m.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", d.table).Scan(&exists); err != nil {
		d.forgetOnConnError(m, err)
		return fmt.Errorf("create the probe table %s: %w", d.table, d.explain(err))
	}
	if !exists {
		_, err := m.pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+d.table+" (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT clock_timestamp())")
		if err != nil {
			d.forgetOnConnError(m, err)
			return d.createError(ctx, m, err)
		}
	}
	d.created = true
	return nil
}

func (d *Driver) createError(ctx context.Context, m *member, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" {
		schema := "public"
		var s *string
		if m.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&s) == nil && s != nil {
			schema = *s
		}
		return fmt.Errorf("create the probe table %s in schema %s as user %q: permission denied: run `GRANT CREATE ON SCHEMA %s TO %s;` as the schema's owner (PostgreSQL 15 no longer lets every user create tables in public), or give target.endpoints.secretRef a user who may: %w",
			d.table, schema, d.userName(m), schema, sqlName(d.userName(m)), err)
	}
	return fmt.Errorf("create the probe table %s: %w", d.table, d.explain(err))
}

// sqlName quotes a name for SQL shown to people, only where needed.
func sqlName(s string) string {
	if plainIdentifier.MatchString(s) {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}

func (d *Driver) userName(m *member) string { return m.pool.Config().ConnConfig.User }

// forgetOnConnError drops m as the primary when err says the connection,
// not the statement, failed, or that m no longer takes writes.
func (d *Driver) forgetOnConnError(m *member, err error) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code == "25006" || connectionClass(pe) {
		d.forget(m)
	}
}

// Write inserts the row id into the probe table through the primary, in
// its own transaction: nil means PostgreSQL reported the commit. An error
// wrapping apps.ErrIndeterminate means the outcome is unknown: the
// statement was sent and the connection then failed or the call's time ran
// out (it may have committed, a commit waiting for a synchronous standby
// may have committed locally). Any other error means it was certainly not
// committed: nothing was sent (no primary, no connection), or PostgreSQL
// refused it (read-only member, the table dropped). A failed connection or
// a member turned read-only makes the next call look for the primary
// again.
func (d *Driver) Write(ctx context.Context, id string) error {
	if err := d.ensureTable(ctx); err != nil {
		return fmt.Errorf("write %s: %w", id, err)
	}
	m, err := d.primaryMember(ctx)
	if err != nil {
		return fmt.Errorf("write %s: %w", id, err)
	}
	c, err := m.pool.Acquire(ctx)
	if err != nil { // nothing sent
		d.forget(m)
		return fmt.Errorf("write %s: connect to %s: %w", id, m.name(), d.explain(err))
	}
	defer c.Release()
	_, err = c.Exec(ctx, "INSERT INTO "+d.table+" (id) VALUES ($1)", id)
	if err == nil {
		return nil
	}
	d.forgetOnConnError(m, err)
	if indeterminate(err) {
		return fmt.Errorf("write %s on %s: %w: %w", id, m.name(), apps.ErrIndeterminate, err)
	}
	return fmt.Errorf("write %s on %s: %w", id, m.name(), d.explain(err))
}

// Read reads the probe table, which needs a member that serves queries:
// the primary when it answers, else any member (a replica serves reads
// while no primary does).
func (d *Driver) Read(ctx context.Context) error {
	if err := d.ensureTable(ctx); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	q := "SELECT count(*) FROM (SELECT 1 FROM " + d.table + " LIMIT 1) t"
	members, p, _ := d.snapshot()
	if p != nil {
		var n int
		err := p.pool.QueryRow(ctx, q).Scan(&n)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read on %s: %w", p.name(), d.explain(err))
		}
		d.forgetOnConnError(p, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(members))
	for _, m := range members {
		go func() {
			var n int
			err := m.pool.QueryRow(ctx, q).Scan(&n)
			if err != nil {
				err = fmt.Errorf("%s: %w", m.name(), d.explain(err))
			}
			errs <- err
		}()
	}
	var all []error
	for range members {
		err := <-errs
		if err == nil {
			return nil
		}
		all = append(all, err)
	}
	return fmt.Errorf("read: no member answered: %w", errors.Join(all...))
}

// ReadAll returns the ids in the probe table, read on the primary: a
// replica of an asynchronous cluster may not have replayed the last
// commits yet, and reading there would count writes as lost that the
// primary has. Only when no member is a primary does it read on the first
// member that answers. A table that does not exist (dropped, or never
// written) holds no ids.
func (d *Driver) ReadAll(ctx context.Context) ([]string, error) {
	m, err := d.primaryMember(ctx)
	if err != nil {
		members, _, _ := d.snapshot()
		answers := ask(ctx, members, 0)
		m = nil
		for _, a := range answers {
			if a.err == nil {
				m = a.m
				break
			}
		}
		if m == nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
	}
	rows, err := m.pool.Query(ctx, "SELECT id FROM "+d.table)
	if err != nil {
		return nil, d.readAllError(m, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, d.readAllError(m, err)
	}
	return ids, nil
}

func (d *Driver) readAllError(m *member, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return nil
	}
	d.forgetOnConnError(m, err)
	return fmt.Errorf("read all of %s on %s: %w", d.table, m.name(), d.explain(err))
}

// DeleteData is the human error: DROP TABLE target on the primary,
// returning how many rows it held (counted in the same transaction). A
// table that does not exist deletes nothing and is not an error. target
// is a table name, or schema.table.
func (d *Driver) DeleteData(ctx context.Context, target string) (int, error) {
	if target == "" {
		return 0, errors.New("postgres app-delete: no table named")
	}
	ident := pgx.Identifier(strings.SplitN(target, ".", 2)).Sanitize()
	m, err := d.primaryMember(ctx)
	if err != nil {
		return 0, fmt.Errorf("drop table %s: %w", target, err)
	}
	var n int
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DROP TABLE "+ident)
		return err
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" {
			return 0, nil
		}
		d.forgetOnConnError(m, err)
		return 0, fmt.Errorf("drop table %s on %s: %w", target, m.name(), d.explain(err))
	}
	return n, nil
}

// Close closes every connection.
func (d *Driver) Close() error {
	d.mu.Lock()
	members := d.members
	d.members, d.primary = nil, nil
	d.mu.Unlock()
	for _, m := range members {
		m.pool.Close()
	}
	return nil
}

// PrimaryConfig returns the connection settings of the member that takes
// writes now (address, credentials, TLS, dialer), for the base backup,
// which speaks the replication protocol on a connection of its own.
func (d *Driver) PrimaryConfig(ctx context.Context) (*pgconn.Config, error) {
	m, err := d.primaryMember(ctx)
	if err != nil {
		return nil, err
	}
	return m.pool.Config().ConnConfig.Config.Copy(), nil
}
