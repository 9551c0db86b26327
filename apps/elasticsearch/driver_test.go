package elasticsearch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
)

// runIndex is the index of the runs in these tests: Prefix lower-cased.
const (
	runPrefix = "Rebound-Run-1"
	runIndex  = "rebound-run-1"
)

func newDriver(t *testing.T, f *fakeElasticsearch, opts ...elasticsearch.Option) *elasticsearch.Driver {
	t.Helper()
	d, err := elasticsearch.New(apps.Config{Endpoints: apps.Endpoints{URLs: []string{f.URL}}, Prefix: runPrefix}, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// outcome is how the write probe records a write, in Jepsen's terms.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, apps.ErrIndeterminate):
		return "info"
	default:
		return "fail"
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

func TestWriteBatchClassifiesEveryItem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, f *fakeElasticsearch, d *elasticsearch.Driver)
		timeout  time.Duration
		want     map[string]string // id → ok, fail or info
		wantType map[string]string // id → Elasticsearch error type of a failed item
		wantRead []string          // ids of the run after the batch; nil skips the check
	}{
		{
			name:     "every item acknowledged is ok and read back",
			want:     map[string]string{"a": "ok", "b": "ok", "c": "ok"},
			wantRead: []string{"a", "b", "c"},
		},
		{
			name: "a 429 rejected item is a certain failure; the rest of the batch is acknowledged",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) { f.itemStatus["b"] = 429 })
			},
			want:     map[string]string{"a": "ok", "b": "fail", "c": "ok"},
			wantType: map[string]string{"b": "es_rejected_execution_exception"},
			wantRead: []string{"a", "c"},
		},
		{
			name:     "an id already present is a certain failure (409 version conflict)",
			setup:    func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) { f.seed(runIndex, "b") },
			want:     map[string]string{"a": "ok", "b": "fail", "c": "ok"},
			wantType: map[string]string{"b": "version_conflict_engine_exception"},
			wantRead: []string{"a", "b", "c"},
		},
		{
			name: "a 503 item for an inactive primary is a certain failure",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) { f.itemStatus["c"] = 503 })
			},
			want:     map[string]string{"a": "ok", "b": "ok", "c": "fail"},
			wantType: map[string]string{"c": "unavailable_shards_exception"},
			wantRead: []string{"a", "b"},
		},
		{
			name: "writes to a write-blocked index fail for certain",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) { f.put(runIndex).writeBlock = true })
			},
			want:     map[string]string{"a": "fail", "b": "fail", "c": "fail"},
			wantType: map[string]string{"a": "cluster_block_exception", "b": "cluster_block_exception", "c": "cluster_block_exception"},
			wantRead: []string{},
		},
		{
			name: "a whole request refused by a circuit breaker (429) fails every item for certain",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) {
					f.misbehave["bulk"] = misbehaviour{status: 429, body: `{"error":{"root_cause":[{"type":"circuit_breaking_exception","reason":"[parent] Data too large, data for [<http_request>] would be [1020067640/972.8mb], which is larger than the limit of [1020054732/972.7mb]","bytes_wanted":1020067640,"bytes_limit":1020054732,"durability":"TRANSIENT"}],"type":"circuit_breaking_exception","reason":"[parent] Data too large, data for [<http_request>] would be [1020067640/972.8mb], which is larger than the limit of [1020054732/972.7mb]","bytes_wanted":1020067640,"bytes_limit":1020054732,"durability":"TRANSIENT"},"status":429}`}
				})
			},
			want:     map[string]string{"a": "fail", "b": "fail", "c": "fail"},
			wantType: map[string]string{"a": "circuit_breaking_exception", "b": "circuit_breaking_exception", "c": "circuit_breaking_exception"},
		},
		{
			name: "a 504 from a proxy in between leaves every item unknown",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) {
					f.misbehave["bulk"] = misbehaviour{status: 504, body: "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center><hr><center>nginx</center></body></html>"}
				})
			},
			want: map[string]string{"a": "info", "b": "info", "c": "info"},
		},
		{
			name: "a request held past the deadline leaves every item unknown",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) { f.misbehave["bulk"] = misbehaviour{stall: true} })
			},
			timeout: 300 * time.Millisecond,
			want:    map[string]string{"a": "info", "b": "info", "c": "info"},
		},
		{
			name: "a connection dropped after the request was sent leaves every item unknown",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) { f.misbehave["bulk"] = misbehaviour{reset: true} })
			},
			want: map[string]string{"a": "info", "b": "info", "c": "info"},
		},
		{
			name: "a cluster that refuses connections fails every item for certain",
			setup: func(t *testing.T, f *fakeElasticsearch, d *elasticsearch.Driver) {
				if err := d.Write(context.Background(), "first"); err != nil {
					t.Fatalf("first write: %v", err)
				}
				f.srv.Close()
				// A request on the pooled connection the server just
				// closed could have been sent; use that connection up
				// so the batch has to dial.
				_, _ = d.Health(context.Background())
			},
			want: map[string]string{"a": "fail", "b": "fail", "c": "fail"},
		},
		{
			name: "when the index cannot be created nothing is sent and every item fails for certain",
			setup: func(_ *testing.T, f *fakeElasticsearch, _ *elasticsearch.Driver) {
				f.set(func(f *fakeElasticsearch) { f.misbehave["index.create"] = misbehaviour{stall: true} })
			},
			timeout: 300 * time.Millisecond,
			want:    map[string]string{"a": "fail", "b": "fail", "c": "fail"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			d := newDriver(t, f)
			if tt.setup != nil {
				tt.setup(t, f, d)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}

			got := d.WriteBatch(ctx, []string{"a", "b", "c"})

			outcomes := map[string]string{}
			for id, err := range got {
				outcomes[id] = outcome(err)
			}
			if diff := cmp.Diff(tt.want, outcomes); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s\nerrors: %v", diff, got)
			}
			for id, typ := range tt.wantType {
				var ae *elasticsearch.APIError
				if !errors.As(got[id], &ae) || ae.Type != typ {
					t.Errorf("error of %q = %v, want an *APIError of type %s", id, got[id], typ)
				}
			}
			if tt.wantRead != nil {
				read, err := d.ReadAll(context.Background())
				if err != nil {
					t.Fatalf("ReadAll: %v", err)
				}
				slices.Sort(read)
				if diff := cmp.Diff(tt.wantRead, read, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
					t.Errorf("records read back (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestWriteCreatesTheIndexOnceWithTheConfiguredReplicas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		opts         []elasticsearch.Option
		wantReplicas int
	}{
		{name: "default is one replica", wantReplicas: 1},
		{name: "WithReplicas(0) for a single-node cluster", opts: []elasticsearch.Option{elasticsearch.WithReplicas(0)}, wantReplicas: 0},
		{name: "WithReplicas(2)", opts: []elasticsearch.Option{elasticsearch.WithReplicas(2)}, wantReplicas: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			d := newDriver(t, f, tt.opts...)
			for _, id := range []string{"a", "b", "c"} {
				if err := d.Write(context.Background(), id); err != nil {
					t.Fatalf("Write(%q): %v", id, err)
				}
			}
			ix, ok := f.index(runIndex)
			if !ok {
				t.Fatalf("index %q was not created", runIndex)
			}
			if ix.shards != 1 || ix.replicas != tt.wantReplicas {
				t.Errorf("index has %d shards and %d replicas, want 1 and %d", ix.shards, ix.replicas, tt.wantReplicas)
			}
			if n := f.count("index.create"); n != 1 {
				t.Errorf("index created %d times, want once", n)
			}
			if ix.visible != 0 {
				t.Errorf("%d writes were refreshed by the writes themselves; writes must not refresh", ix.visible)
			}
		})
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(f *fakeElasticsearch)
		wantErr string
	}{
		{name: "a serving cluster answers"},
		{
			name:    "an index with no assigned shard copy cannot be read",
			setup:   func(f *fakeElasticsearch) { f.put(runIndex, "a").unavailable = true },
			wantErr: "all shards failed",
		},
		{
			name:    "a count held past the read timeout fails instead of hanging",
			setup:   func(f *fakeElasticsearch) { f.misbehave["count"] = misbehaviour{stall: true} },
			wantErr: "deadline exceeded",
		},
		{
			name: "a cluster without an elected master that cannot create the index cannot be read",
			setup: func(f *fakeElasticsearch) {
				f.misbehave["index.create"] = misbehaviour{status: 503, body: `{"error":{"root_cause":[{"type":"master_not_discovered_exception","reason":null}],"type":"master_not_discovered_exception","reason":null},"status":503}`}
			},
			wantErr: "master_not_discovered_exception",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			if tt.setup != nil {
				f.set(tt.setup)
			}
			d := newDriver(t, f, elasticsearch.WithReadTimeout(300*time.Millisecond))
			err := d.Read(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Read = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadAll(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		docs    int
		opts    []elasticsearch.Option
		setup   func(f *fakeElasticsearch)
		wantErr string
	}{
		{name: "25k ids written without refresh are all read back, once each", docs: 25000},
		{name: "25k ids in pages of the 10k maximum", docs: 25000, opts: []elasticsearch.Option{elasticsearch.WithPageSize(10000)}},
		{name: "a last page exactly full", docs: 70, opts: []elasticsearch.Option{elasticsearch.WithPageSize(7)}},
		{name: "an empty index has no records", docs: 0},
		{name: "a missing index has no records", docs: -1},
		{
			name: "a shard failing on the second page is an error, never a shorter list", docs: 25000,
			setup:   func(f *fakeElasticsearch) { f.searchFail = 2 },
			wantErr: "search page 2",
		},
		{
			name: "an index with no assigned shard copy is an error", docs: 10,
			setup:   func(f *fakeElasticsearch) { f.indices[runIndex].unavailable = true },
			wantErr: "all shards failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			var written []string
			if tt.docs >= 0 {
				written = ids("w", tt.docs)
				f.seed(runIndex, written...)
			}
			if tt.setup != nil {
				f.set(tt.setup)
			}
			d := newDriver(t, f, tt.opts...)

			got, err := d.ReadAll(context.Background())

			if n := f.openPITs(); n != 0 {
				t.Errorf("%d points in time left open", n)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadAll = %d ids, %v; want an error containing %q", len(got), err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("ReadAll returned %d ids with its error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if len(got) != len(written) {
				t.Errorf("ReadAll returned %d ids, want %d", len(got), len(written))
			}
			slices.Sort(got)
			if dup := len(got) - len(slices.Compact(slices.Clone(got))); dup > 0 {
				t.Errorf("ReadAll returned %d duplicate ids", dup)
			}
			if !slices.Equal(got, written) {
				t.Errorf("ReadAll did not return exactly the written ids")
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(f *fakeElasticsearch)
		targets []string // SetTargetIndices
		want    apps.Health
		wantErr bool
	}{
		{
			name:  "a green probe index is full redundancy and serving",
			setup: func(f *fakeElasticsearch) { f.put(runIndex) },
			want:  apps.Health{Full: true, Serving: true, Members: 3, Healthy: 3, Detail: "green, 3 nodes"},
		},
		{
			// The old driver read the cluster's health: yellow.
			name: "an unrelated yellow index does not keep the targets from full redundancy",
			setup: func(f *fakeElasticsearch) {
				f.put(runIndex)
				f.put("orders")
				f.put("logs-unrelated").health = "yellow"
				f.status = "yellow"
			},
			targets: []string{"orders"},
			want:    apps.Health{Full: true, Serving: true, Members: 3, Healthy: 3, Detail: "green, 3 nodes"},
		},
		{
			name: "a yellow target index named with SetTargetIndices serves without full redundancy",
			setup: func(f *fakeElasticsearch) {
				f.put(runIndex)
				f.put("orders").health = "yellow"
				f.status, f.nodes, f.dataNodes = "yellow", 2, 2
			},
			targets: []string{"orders"},
			want:    apps.Health{Serving: true, Members: 2, Healthy: 2, Detail: "yellow, 2 nodes, 1 unassigned shard (orders yellow)"},
		},
		{
			name: "a yellow index matched by a target pattern counts",
			setup: func(f *fakeElasticsearch) {
				f.put(runIndex)
				f.put("logs-1")
				f.put("logs-2").health = "yellow"
			},
			targets: []string{"logs-*"},
			want:    apps.Health{Serving: true, Members: 3, Healthy: 3, Detail: "yellow, 3 nodes, 1 unassigned shard (logs-2 yellow)"},
		},
		{
			name: "a red probe index is not serving",
			setup: func(f *fakeElasticsearch) {
				f.put(runIndex).health = "red"
				f.status, f.nodes, f.dataNodes = "red", 1, 1
			},
			want: apps.Health{Members: 1, Healthy: 1, Detail: "red, 1 node, 1 unassigned shard (rebound-run-1 red)"},
		},
		{
			name:  "a deleted probe index is red and named, and not re-created",
			setup: func(f *fakeElasticsearch) { delete(f.indices, runIndex) },
			want:  apps.Health{Members: 3, Healthy: 3, Detail: "red, 3 nodes (rebound-run-1 missing)"},
		},
		{
			name:    "a deleted target index is red",
			setup:   func(f *fakeElasticsearch) { f.put(runIndex) },
			targets: []string{"orders"},
			want:    apps.Health{Members: 3, Healthy: 3, Detail: "red, 3 nodes (a target index is missing: one of rebound-run-1, orders)"},
		},
		{
			name:    "no elected master is an error and not serving",
			setup:   func(f *fakeElasticsearch) { f.master = "" },
			wantErr: true,
		},
		{
			name:    "no answer in time is an error and not serving",
			setup:   func(f *fakeElasticsearch) { f.misbehave["health"] = misbehaviour{stall: true} },
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			d := newDriver(t, f)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := d.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			f.set(tt.setup)
			if err := d.SetTargetIndices(tt.targets); err != nil {
				t.Fatal(err)
			}

			got, err := d.Health(ctx)

			if tt.wantErr {
				if err == nil {
					t.Fatalf("Health = %+v, want an error", got)
				}
				if got.Serving || got.Full || got.Detail == "" {
					t.Errorf("Health with error = %+v, want not serving, not full, with a detail", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Health: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Health (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		master  string
		want    string
		wantErr bool
	}{
		{name: "the elected master's node name, which ECK sets to its pod name", master: "quickstart-es-masters-2", want: "quickstart-es-masters-2"},
		{name: "no elected master is an error", master: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			f.set(func(f *fakeElasticsearch) { f.master = tt.master })
			d := newDriver(t, f)
			got, err := d.Leader(context.Background())
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Leader = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDeleteData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		target      string
		setup       func(f *fakeElasticsearch)
		want        int
		wantErr     string
		wantDeleted bool
	}{
		{
			name: "deletes the index and counts its documents, refreshed or not", target: runIndex,
			setup:       func(f *fakeElasticsearch) { f.put(runIndex, ids("d", 42)...).visible = 20 },
			want:        42,
			wantDeleted: true,
		},
		{
			name: "the target is lower-cased like the prefix", target: runPrefix,
			setup:       func(f *fakeElasticsearch) { f.put(runIndex, ids("d", 3)...) },
			want:        3,
			wantDeleted: true,
		},
		{name: "a missing index deletes nothing", target: "gone"},
		{
			name: "nothing is deleted when the documents cannot be counted", target: runIndex,
			setup:   func(f *fakeElasticsearch) { f.put(runIndex, "a").unavailable = true },
			wantErr: "all shards failed",
		},
		{name: "a wildcard is refused", target: "*", wantErr: "must not contain"},
		{name: "_all is refused", target: "_all", wantErr: "not an index name"},
		{name: "a list is refused", target: runIndex + ",orders", wantErr: "must not contain"},
		{name: "a hidden index is refused", target: ".security-7", wantErr: "must not start with"},
		{name: "an empty target is refused", target: "", wantErr: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			f.seed(runIndex)
			f.seed("orders", "o1")
			if tt.setup != nil {
				f.set(tt.setup)
			}
			d := newDriver(t, f)

			got, err := d.DeleteData(context.Background(), tt.target)

			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DeleteData(%q) = %d, %v; want an error containing %q", tt.target, got, err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("DeleteData(%q) = %d, %v; want %d", tt.target, got, err, tt.want)
			}
			_, stillThere := f.index(runIndex)
			if tt.wantDeleted == stillThere {
				t.Errorf("index %q still there: %v, want %v", runIndex, stillThere, !tt.wantDeleted)
			}
			if _, ok := f.index("orders"); !ok {
				t.Errorf("index orders was deleted; only the target may be")
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	good := apps.Config{Endpoints: apps.Endpoints{URLs: []string{"http://127.0.0.1:9200"}}, Prefix: runPrefix}
	tests := []struct {
		name    string
		cfg     apps.Config
		opts    []elasticsearch.Option
		wantErr string
	}{
		{name: "a URL and a prefix are enough", cfg: good},
		{name: "no URL", cfg: apps.Config{Prefix: runPrefix}, wantErr: "no endpoint URLs"},
		{name: "a prefix that is not an index name", cfg: apps.Config{Endpoints: good.Endpoints, Prefix: "/rebound/run-1/"}, wantErr: "must not contain"},
		{name: "negative replicas", cfg: good, opts: []elasticsearch.Option{elasticsearch.WithReplicas(-1)}, wantErr: "replicas"},
		{name: "a page larger than the result window", cfg: good, opts: []elasticsearch.Option{elasticsearch.WithPageSize(10001)}, wantErr: "page size"},
		{name: "no read timeout", cfg: good, opts: []elasticsearch.Option{elasticsearch.WithReadTimeout(0)}, wantErr: "read timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := elasticsearch.New(tt.cfg, tt.opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if d.Index() != runIndex {
					t.Errorf("Index() = %q, want %q", d.Index(), runIndex)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRegisteredAsElasticsearch(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	d, err := apps.New(context.Background(), "elasticsearch", apps.Config{Endpoints: apps.Endpoints{URLs: []string{f.URL}}, Prefix: runPrefix})
	if err != nil {
		t.Fatalf("apps.New: %v", err)
	}
	defer d.Close()
	if err := d.Write(context.Background(), "a"); err != nil {
		t.Fatalf("Write through the registry: %v", err)
	}
}
