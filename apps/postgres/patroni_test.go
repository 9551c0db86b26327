package postgres

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/postgres/internal/pgtest"
)

// patroniRESTStandIn stands in for Patroni's REST API (GET /cluster and
// /config, answered as Patroni 3.0 does), reached through the driver's
// Dial in place of port 8008 of the member.
type patroniRESTStandIn struct {
	mu      sync.Mutex
	cluster string
	config  string
	srv     *httptest.Server
}

func newPatroniRESTStandIn(t *testing.T) *patroniRESTStandIn {
	p := &patroniRESTStandIn{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.URL.Path {
		case "/cluster":
			_, _ = w.Write([]byte(p.cluster))
		case "/config":
			_, _ = w.Write([]byte(p.config))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *patroniRESTStandIn) set(cluster, config string) {
	p.mu.Lock()
	p.cluster, p.config = cluster, config
	p.mu.Unlock()
}

// dial sends connections to port 8008 to the stand-in and the rest where
// they were going.
func (p *patroniRESTStandIn) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, port, _ := net.SplitHostPort(addr); port == strconv.Itoa(PatroniPort) {
		addr = p.srv.Listener.Addr().String()
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func clusterJSON(t *testing.T, members ...patroniMember) string {
	b, err := json.Marshal(patroniCluster{Members: members})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPatroniManagedHealthLeaderPromise(t *testing.T) {
	s := pgtest.Start(t, pgtest.Options{})
	rest := newPatroniRESTStandIn(t)
	d := newDriver(t, s, func(c *apps.Config) { c.Dial = rest.dial })
	ctx := ctxT(t)

	// The real server is the leader; two replicas Patroni knows of do not
	// stream from it (the test runs no replica).
	rest.set(clusterJSON(t,
		patroniMember{Name: "postgres-0", Role: "leader", State: "running", Host: "127.0.0.1", Port: s.Port},
		patroniMember{Name: "postgres-1", Role: "replica", State: "running", Host: "10.0.0.2", Port: 5432},
		patroniMember{Name: "postgres-2", Role: "replica", State: "starting", Host: "10.0.0.3", Port: 5432},
	), `{"ttl": 30, "loop_wait": 10, "synchronous_mode": true}`)
	h, err := d.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Serving || h.Full || h.Members != 3 || h.Healthy != 1 {
		t.Errorf("health = %+v, want serving, not full, 1 of 3 healthy", h)
	}
	for _, want := range []string{"primary postgres-0, 0/2 replicas streaming", "postgres-1 running, not streaming", "postgres-2 starting, not streaming"} {
		if !strings.Contains(h.Detail, want) {
			t.Errorf("health detail %q does not say %q", h.Detail, want)
		}
	}
	if strings.Contains(h.Detail, "not managed by Patroni") {
		t.Errorf("health detail %q says not managed by Patroni", h.Detail)
	}
	if l, err := d.Leader(ctx); err != nil || l != "postgres-0" {
		t.Errorf("Leader() = %q, %v; want Patroni's leader postgres-0", l, err)
	}
	p, err := d.Promise(ctx)
	if err != nil || p.MayLoseAcknowledged || !strings.Contains(p.Why, "synchronous_mode") {
		t.Errorf("promise with synchronous_mode = %+v, %v; want none lost", p, err)
	}

	// Failover in progress: no leader; asynchronous configuration.
	rest.set(clusterJSON(t,
		patroniMember{Name: "postgres-0", Role: "replica", State: "stopped", Host: "127.0.0.1", Port: s.Port},
		patroniMember{Name: "postgres-1", Role: "replica", State: "running", Host: "10.0.0.2", Port: 5432},
	), `{"ttl": 30}`)
	h, err = d.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Full || !strings.Contains(h.Detail, "Patroni has no leader") {
		t.Errorf("health without a leader = %+v, want not full, saying there is no leader", h)
	}
	if _, err := d.Leader(ctx); err == nil || !strings.Contains(err.Error(), "no leader") {
		t.Errorf("Leader() without a leader: %v", err)
	}
	p, err = d.Promise(ctx)
	if err != nil || !p.MayLoseAcknowledged || !strings.Contains(p.Why, "asynchronous") {
		t.Errorf("promise without synchronous_mode = %+v, %v; want acknowledged writes may be lost", p, err)
	}
}

func TestPatroniHealth(t *testing.T) {
	t.Parallel()
	lag := func(n int64) *int64 { return &n }
	prim := &member{host: "10.0.0.1", pod: "postgres-0"}
	three := []patroniMember{
		{Name: "postgres-0", Role: "leader", State: "running", Host: "10.0.0.1"},
		{Name: "postgres-1", Role: "sync_standby", State: "running", Host: "10.0.0.2"},
		{Name: "postgres-2", Role: "replica", State: "running", Host: "10.0.0.3"},
	}
	for _, tc := range []struct {
		name    string
		members []patroniMember
		prim    *member
		reps    []replication
		full    bool
		healthy int
		detail  string
	}{{
		name: "all streaming", members: three, prim: prim,
		reps:    []replication{{name: "postgres-1", state: "streaming", lag: lag(0)}, {name: "postgres-2", state: "streaming", lag: lag(16 << 10)}},
		full:    true,
		healthy: 3,
		detail:  "primary postgres-0, 2/2 replicas streaming (lag 0 B, 16 KiB)",
	}, {
		name: "one replica catching up", members: three, prim: prim,
		reps:    []replication{{name: "postgres-1", state: "streaming", lag: lag(0)}, {name: "postgres-2", state: "catchup", lag: lag(3 << 20)}},
		healthy: 2,
		detail:  "primary postgres-0, 1/2 replicas streaming (lag 0 B); postgres-2 running, not streaming",
	}, {
		name: "writes go to a member Patroni does not lead", members: three, prim: &member{host: "10.0.0.3", pod: "postgres-2"},
		reps:    []replication{{name: "postgres-0", state: "streaming", lag: lag(0)}},
		healthy: 1,
		detail:  "primary postgres-2, but Patroni's leader is postgres-0",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := patroniHealth(&patroniCluster{Members: tc.members}, tc.prim, nil, tc.reps)
			if h.Full != tc.full || h.Healthy != tc.healthy || !h.Serving || h.Members != len(tc.members) {
				t.Errorf("health = %+v, want full %v, %d healthy of %d, serving", h, tc.full, tc.healthy, len(tc.members))
			}
			if !strings.Contains(h.Detail, tc.detail) {
				t.Errorf("detail %q does not say %q", h.Detail, tc.detail)
			}
		})
	}
}

func TestLagText(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 16 << 10: "16 KiB", 3 << 19: "1.5 MiB", 5 << 30: "5 GiB"} {
		if got := lagText(&n); got != want {
			t.Errorf("lagText(%d) = %q, want %q", n, got, want)
		}
	}
	if got := lagText(nil); got != "unknown" {
		t.Errorf("lagText(nil) = %q", got)
	}
}
