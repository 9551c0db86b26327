package elasticsearch_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
)

const runAlias = runIndex + "-writes"

func TestPrepareCreatesTheIndexWithItsWriteAlias(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	d := newDriver(t, f, elasticsearch.WithReplicas(2))
	ctx := context.Background()
	if err := d.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	ix, ok := f.index(runIndex)
	if !ok {
		t.Fatalf("Prepare did not create index %q", runIndex)
	}
	if m, ok := ix.aliases[runAlias]; !ok || m.IsWriteIndex == nil || !*m.IsWriteIndex {
		t.Errorf("index aliases %v, want %q as its write index", ix.aliases, runAlias)
	}
	if ix.replicas != 2 {
		t.Errorf("index has %d replicas, want 2", ix.replicas)
	}
	if d.Alias() != runAlias {
		t.Errorf("Alias() = %q, want %q", d.Alias(), runAlias)
	}
	if err := d.Prepare(ctx); err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if err := d.Write(ctx, "a"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := f.count("index.create"); n != 1 {
		t.Errorf("index created %d times, want once", n)
	}
	for _, q := range f.queried("bulk") {
		if !strings.Contains(q, "require_alias=true") {
			t.Errorf("bulk sent with query %q, want require_alias=true", q)
		}
	}
}

// TestHealthBeforeAnyWriteCreatesTheProbeIndex: a runner checks health at
// steady state before anything is written; the probe index it judges must
// exist by then, or the check could never pass.
func TestHealthBeforeAnyWriteCreatesTheProbeIndex(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	d := newDriver(t, f)
	h, err := d.Health(context.Background())
	if err != nil || !h.Full {
		t.Fatalf("Health = %+v, %v; want full", h, err)
	}
	if ix, ok := f.index(runIndex); !ok || len(ix.aliases) != 1 {
		t.Errorf("probe index exists: %v, aliases %v; want it created with its write alias", ok, ix.aliases)
	}
}

func TestPrepareGivesAnExistingIndexItsWriteAlias(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	f.seed(runIndex, "old")
	d := newDriver(t, f)
	ctx := context.Background()
	if err := d.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := d.Write(ctx, "a"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	ix, _ := f.index(runIndex)
	if _, ok := ix.aliases[runAlias]; !ok || !slices.Equal(ix.docs, []string{"old", "a"}) {
		t.Errorf("index holds %v with aliases %v, want old and a, and alias %q", ix.docs, ix.aliases, runAlias)
	}
}

// TestAWriteNeverRecreatesADeletedIndex: after a human-error fault deleted
// the probe index, the next write fails for certain and the index stays
// gone. The old driver wrote to the index name, and Elasticsearch (like the
// fake, by default) auto-created it, empty.
func TestAWriteNeverRecreatesADeletedIndex(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	d := newDriver(t, f)
	ctx := context.Background()
	if err := d.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := d.Write(ctx, "a"); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n, err := d.DeleteData(ctx, runIndex); err != nil || n != 1 {
		t.Fatalf("DeleteData = %d, %v; want 1 document deleted", n, err)
	}

	for id, err := range d.WriteBatch(ctx, []string{"b", "c"}) {
		if outcome(err) != "fail" {
			t.Errorf("write %q into the deleted index: %v (%s), want a certain failure", id, err, outcome(err))
		}
	}
	if err := d.Read(ctx); err == nil {
		t.Error("Read of the deleted index succeeded")
	}
	if ix, ok := f.index(runIndex); ok {
		t.Errorf("the deleted index %q was re-created, holding %v", runIndex, ix.docs)
	}
	if _, ok := f.index(runAlias); ok {
		t.Errorf("an index named after the alias %q was created", runAlias)
	}
	if n := f.count("index.create"); n != 1 {
		t.Errorf("index created %d times, want once (at Prepare)", n)
	}
}

// TestARestoreInPlaceBringsTheWriteAliasBack: a human-error fault deletes
// the index, a restore brings it back with its alias, and writes resume; a
// renamed copy restored beside it does not take the alias.
func TestARestoreInPlaceBringsTheWriteAliasBack(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	d := newDriver(t, f)
	ctx := context.Background()
	if err := d.RegisterRepository(ctx, "backups", elasticsearch.RepositoryFS, map[string]any{"location": "/snapshots"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ConsistentSnapshot(ctx, "backups", "snap-1", []string{runIndex}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteData(ctx, runIndex); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RestoreSnapshot(ctx, "backups", "snap-1", elasticsearch.RestoreOptions{Indices: []string{runIndex}}); err != nil {
		t.Fatalf("restore in place: %v", err)
	}
	if _, err := d.RestoreSnapshot(ctx, "backups", "snap-1", elasticsearch.RestoreOptions{Indices: []string{runIndex}, RenamePattern: "(.+)", RenameReplacement: "copy-$1"}); err != nil {
		t.Fatalf("renamed restore: %v", err)
	}
	if err := d.Write(ctx, "b"); err != nil {
		t.Fatalf("Write after the restore: %v", err)
	}
	ix, _ := f.index(runIndex)
	if !slices.Equal(ix.docs, []string{"a", "b"}) {
		t.Errorf("probe index holds %v, want a and b", ix.docs)
	}
	cp, _ := f.index("copy-" + runIndex)
	if len(cp.aliases) != 0 || !slices.Equal(cp.docs, []string{"a"}) {
		t.Errorf("renamed copy holds %v with aliases %v, want a and no alias", cp.docs, cp.aliases)
	}
}

func TestSetTargetIndices(t *testing.T) {
	t.Parallel()
	f := newFakeElasticsearch(t)
	d := newDriver(t, f)
	if got := d.TargetIndices(); !slices.Equal(got, []string{runIndex}) {
		t.Errorf("TargetIndices() = %v before any was set, want the probe index alone", got)
	}
	if err := d.SetTargetIndices([]string{"orders", runIndex, "logs-*", "orders"}); err != nil {
		t.Fatal(err)
	}
	if got := d.TargetIndices(); !slices.Equal(got, []string{runIndex, "orders", "logs-*"}) {
		t.Errorf("TargetIndices() = %v, want the probe index, then orders and logs-* once each", got)
	}
	for _, bad := range []struct{ name, want string }{
		{"", "empty"},
		{"_all", "whole cluster"},
		{"-orders", "exclusion"},
		{"orders,logs", "comma"},
		{"Orders", "lower-case"},
	} {
		err := d.SetTargetIndices([]string{"ok", bad.name})
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "target index 1") {
			t.Errorf("SetTargetIndices(%q) = %v, want an error naming entry 1 and saying %q", bad.name, err, bad.want)
		}
	}
	if got := d.TargetIndices(); !slices.Equal(got, []string{runIndex, "orders", "logs-*"}) {
		t.Errorf("a refused list changed the targets to %v", got)
	}
	if _, err := elasticsearch.New(apps.Config{Endpoints: apps.Endpoints{URLs: []string{f.URL}}, Prefix: runPrefix}, elasticsearch.WithTargetIndices("a b")); err == nil {
		t.Error("New with target index \"a b\" succeeded, want an error")
	}
}

func TestPromise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []elasticsearch.Option
		setup    func(f *fakeElasticsearch)
		mayLose  bool
		whySays  []string
		wantErr  string
		noCreate bool // do not create the index first
	}{
		{
			name:    "one replica: losing a node loses no acknowledged write",
			whySays: []string{"number_of_replicas 1", "write.wait_for_active_shards 1", "every in-sync copy"},
		},
		{
			name:    "no replica: an acknowledged write is lost with its node",
			opts:    []elasticsearch.Option{elasticsearch.WithReplicas(0)},
			mayLose: true,
			whySays: []string{"number_of_replicas 0", "only copy"},
		},
		{
			name: "the index's own settings count, not the driver's option",
			setup: func(f *fakeElasticsearch) {
				f.indices[runIndex].replicas = 0 // changed by someone since
			},
			mayLose: true,
			whySays: []string{"index rebound-run-1 has number_of_replicas 0"},
		},
		{
			name: "an async translog may lose acknowledged writes whatever the replicas",
			setup: func(f *fakeElasticsearch) {
				f.indices[runIndex].settings["index.translog.durability"] = "async"
				f.indices[runIndex].settings["index.write.wait_for_active_shards"] = "all"
			},
			mayLose: true,
			whySays: []string{"number_of_replicas 1", "wait_for_active_shards all", "async"},
		},
		{
			name:     "before the index exists, the settings it will be created with",
			opts:     []elasticsearch.Option{elasticsearch.WithReplicas(0)},
			noCreate: true,
			mayLose:  true,
			whySays:  []string{"will be created with number_of_replicas 0"},
		},
		{
			name: "settings that cannot be read are an error",
			setup: func(f *fakeElasticsearch) {
				f.misbehave["settings.all"] = misbehaviour{status: 503, body: `{"error":{"root_cause":[{"type":"master_not_discovered_exception","reason":null}],"type":"master_not_discovered_exception","reason":null},"status":503}`}
			},
			wantErr: "master_not_discovered_exception",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			d := newDriver(t, f, tt.opts...)
			ctx := context.Background()
			if !tt.noCreate {
				if err := d.Prepare(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				f.set(tt.setup)
			}

			p, err := apps.PromiseOf(ctx, d)

			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Promise = %+v, %v; want an error containing %q", p, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Promise: %v", err)
			}
			if p.MayLoseAcknowledged != tt.mayLose {
				t.Errorf("MayLoseAcknowledged = %v, want %v (%s)", p.MayLoseAcknowledged, tt.mayLose, p.Why)
			}
			for _, w := range tt.whySays {
				if !strings.Contains(p.Why, w) {
					t.Errorf("Why = %q, want it to say %q", p.Why, w)
				}
			}
		})
	}
}
