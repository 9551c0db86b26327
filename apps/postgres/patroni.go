package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/reboundhq/rebound/apps"
)

// patroniCluster is Patroni's GET /cluster answer (patroni/utils.py,
// cluster_as_json): every member with its role and state, from the DCS.
type patroniCluster struct {
	Members []patroniMember `json:"members"`
	Pause   bool            `json:"pause"`
}

type patroniMember struct {
	Name string `json:"name"`
	// Role is leader, standby_leader, sync_standby or replica.
	Role string `json:"role"`
	// State is running, starting, stopped, "crashed", … (Patroni 3.0
	// reports a replica that streams as running; later versions as
	// streaming).
	State string `json:"state"`
	Host  string `json:"host"`
	Port  int    `json:"port"`
}

func (c *patroniCluster) leader() *patroniMember {
	for i, m := range c.Members {
		if m.Role == "leader" || m.Role == "standby_leader" {
			return &c.Members[i]
		}
	}
	return nil
}

// maxRESTBody bounds what is read of a REST answer.
const maxRESTBody = 1 << 20

// restGet asks one member's Patroni REST API for path and decodes the
// JSON answer into out.
func (d *Driver) restGet(ctx context.Context, host, path string, out any) error {
	u := "http://" + net.JoinHostPort(host, strconv.Itoa(PatroniPort)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := d.rest.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxRESTBody))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: not Patroni's answer: %w", u, err)
	}
	return nil
}

// restFirst asks every member's REST API for path at once and decodes the
// answer of the first member, in endpoint order, that gave one; ok is
// false when none did.
func restFirst[T any](ctx context.Context, d *Driver, members []*member, path string, valid func(*T) bool) (out *T, ok bool) {
	answers := make([]*T, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() {
			var v T
			if d.restGet(ctx, m.host, path, &v) == nil && valid(&v) {
				answers[i] = &v
			}
		})
	}
	wg.Wait()
	for _, a := range answers {
		if a != nil {
			return a, true
		}
	}
	return nil, false
}

// cluster asks Patroni for the cluster's state through any member; ok is
// false when no member's REST API answered.
func (d *Driver) cluster(ctx context.Context, members []*member) (*patroniCluster, bool) {
	c, ok := restFirst(ctx, d, members, "/cluster", func(c *patroniCluster) bool { return len(c.Members) > 0 })
	d.mu.Lock()
	defer d.mu.Unlock()
	if ok {
		d.patroni = 1
		if l := c.leader(); l != nil && l.Host != "" {
			d.leaderHost = l.Host
		}
	} else if d.patroni == 0 && ctx.Err() == nil {
		d.patroni = -1
		slog.Warn("postgres driver: no member answers Patroni's REST API on port " + strconv.Itoa(PatroniPort) +
			": the cluster is taken as not managed by Patroni; rebound writes to whichever member takes writes, but cannot see failovers, name the primary's pod from Patroni, or know which replicas should exist")
	}
	return c, ok
}

// replication is one row of the primary's pg_stat_replication.
type replication struct {
	name, state, syncState string
	lag                    *int64 // bytes the replica has yet to replay; nil when unknown
}

func (d *Driver) replication(ctx context.Context, m *member) ([]replication, error) {
	rows, err := m.pool.Query(ctx, `SELECT application_name, coalesce(state, ''), coalesce(sync_state, ''),
		pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication ORDER BY application_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []replication
	for rows.Next() {
		var r replication
		if err := rows.Scan(&r.name, &r.state, &r.syncState, &r.lag); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Health is Patroni's view of the cluster (members, roles, states, from
// /cluster of any member) checked against the primary's own
// pg_stat_replication (which replica streams, and its replay lag in
// bytes). Serving: a member takes writes. Full: Patroni has a running
// leader that takes writes and every other member streams from it.
// Members counts Patroni's members; Healthy the primary and the replicas
// that stream. A cluster without Patroni is judged by its endpoints: every
// other endpoint should stream from the primary.
func (d *Driver) Health(ctx context.Context) (apps.Health, error) {
	members, _, _ := d.snapshot()
	var (
		wg      sync.WaitGroup
		pc      *patroniCluster
		managed bool
		prim    *member
		primErr error
	)
	wg.Go(func() { pc, managed = d.cluster(ctx, members) })
	wg.Go(func() { prim, primErr = d.primaryMember(ctx) })
	wg.Wait()
	var reps []replication
	if primErr == nil {
		var err error
		if reps, err = d.replication(ctx, prim); err != nil {
			d.forgetOnConnError(prim, err)
			prim, primErr = nil, d.explain(err)
		} else if err := d.ensureTable(ctx); err != nil {
			return apps.Health{Detail: err.Error()}, fmt.Errorf("health: %w", err)
		}
	}
	if managed {
		return patroniHealth(pc, prim, primErr, reps), nil
	}
	h := apps.Health{Members: len(members), Serving: primErr == nil}
	d.mu.Lock()
	seen := d.patroni == 1
	d.mu.Unlock()
	note := "not managed by Patroni (no REST API on port 8008): rebound cannot see failovers"
	if seen {
		note = "Patroni's REST API answers on no member"
	}
	if primErr != nil {
		h.Detail = "no primary: " + primErr.Error() + "; " + note
		return h, nil
	}
	streaming, lags := 0, []string(nil)
	for _, r := range reps {
		if r.state == "streaming" {
			streaming++
			lags = append(lags, lagText(r.lag))
		}
	}
	h.Healthy = 1 + streaming
	h.Full = !seen && streaming >= len(members)-1
	h.Detail = fmt.Sprintf("primary %s, %d/%d replicas streaming%s; %s", prim.name(), streaming, len(members)-1, lagList(lags), note)
	return h, nil
}

// patroniHealth judges Patroni's view with the primary's replication rows.
func patroniHealth(pc *patroniCluster, prim *member, primErr error, reps []replication) apps.Health {
	h := apps.Health{Members: len(pc.Members), Serving: primErr == nil}
	leader := pc.leader()
	streams := map[string]replication{}
	for _, r := range reps {
		if r.state == "streaming" {
			streams[r.name] = r
		}
	}
	var parts, lags, behind []string
	switch {
	case leader == nil:
		parts = append(parts, "Patroni has no leader")
	case primErr != nil:
		parts = append(parts, fmt.Sprintf("leader %s (%s) takes no writes", leader.Name, leader.State))
	case prim.host != leader.Host && leader.Host != "":
		parts = append(parts, fmt.Sprintf("primary %s, but Patroni's leader is %s", prim.name(), leader.Name))
	default:
		parts = append(parts, "primary "+leader.Name)
	}
	replicas, streaming := 0, 0
	for _, m := range pc.Members {
		if leader != nil && m.Name == leader.Name {
			continue
		}
		replicas++
		if r, ok := streams[m.Name]; ok && primErr == nil {
			streaming++
			lags = append(lags, lagText(r.lag))
			continue
		}
		state := m.State
		if state == "" {
			state = "no state"
		}
		behind = append(behind, fmt.Sprintf("%s %s, not streaming", m.Name, state))
	}
	parts[0] += fmt.Sprintf(", %d/%d replicas streaming%s", streaming, replicas, lagList(lags))
	parts = append(parts, behind...)
	if pc.Pause {
		parts = append(parts, "Patroni paused: no automatic failover")
	}
	if primErr != nil {
		parts = append(parts, "no primary: "+primErr.Error())
	}
	if primErr == nil {
		h.Healthy = 1 + streaming
	} else {
		h.Healthy = 0
	}
	h.Full = h.Serving && leader != nil && leader.State == "running" && (prim.host == leader.Host || leader.Host == "") && streaming == replicas
	h.Detail = strings.Join(parts, "; ")
	return h
}

func lagList(lags []string) string {
	if len(lags) == 0 {
		return ""
	}
	return " (lag " + strings.Join(lags, ", ") + ")"
}

// lagText is a byte count for people: 0 B, 512 B, 16 KiB, 1.5 MiB.
func lagText(b *int64) string {
	if b == nil {
		return "unknown"
	}
	n := float64(*b)
	for _, unit := range []string{"B", "KiB", "MiB", "GiB"} {
		if n < 1024 || unit == "GiB" {
			if unit == "B" {
				return fmt.Sprintf("%d B", *b)
			}
			return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", n), "0"), ".") + " " + unit
		}
		n /= 1024
	}
	return ""
}

// Leader names the primary's pod: Patroni's leader (on Kubernetes a
// member's name is its pod's name), or, without Patroni, the pod of the
// endpoint that takes writes.
func (d *Driver) Leader(ctx context.Context) (string, error) {
	members, _, _ := d.snapshot()
	if pc, ok := d.cluster(ctx, members); ok {
		if l := pc.leader(); l != nil {
			return l.Name, nil
		}
		return "", errors.New("Patroni reports no leader now")
	}
	m, err := d.primaryMember(ctx)
	if err != nil {
		return "", fmt.Errorf("primary: %w", err)
	}
	if m.pod == "" {
		return "", fmt.Errorf("the primary is %s, but its pod is not known (endpoints given as URLs) and no member answers Patroni's REST API", m.host)
	}
	return m.pod, nil
}
