package elasticsearch_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps/elasticsearch"
)

func TestRegisterRepository(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		repo, typ  string
		verifyFail bool
		wantErr    []string // substrings of the error; none means success
		wantSent   bool     // whether the registration reached Elasticsearch
	}{
		{name: "fs is registered and verified", repo: "backups", typ: elasticsearch.RepositoryFS, wantSent: true},
		{name: "s3 is registered and verified", repo: "backups", typ: elasticsearch.RepositoryS3, wantSent: true},
		{name: "azure is registered and verified", repo: "backups", typ: elasticsearch.RepositoryAzure, wantSent: true},
		{
			name: "a repository some node cannot reach fails verification with Elasticsearch's reason",
			repo: "backups", typ: elasticsearch.RepositoryFS, verifyFail: true,
			wantErr:  []string{`"backups"`, "failed verification", "cannot be accessed on the node [{quickstart-es-default-1}"},
			wantSent: true,
		},
		{name: "an unsupported type is refused before anything is sent", repo: "backups", typ: "hdfs", wantErr: []string{`unsupported type "hdfs"`}},
		{name: "a wildcard name is refused", repo: "back*", typ: elasticsearch.RepositoryFS, wantErr: []string{"must not"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			f.set(func(f *fakeElasticsearch) { f.verifyFail = tt.verifyFail })
			d := newDriver(t, f)

			err := d.RegisterRepository(context.Background(), tt.repo, tt.typ, map[string]any{"location": "/usr/share/elasticsearch/snapshots"})

			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("RegisterRepository: %v", err)
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("RegisterRepository = %v, want an error containing %q", err, want)
				}
			}
			if f.did("repo.put") != tt.wantSent {
				t.Errorf("registration sent: %v, want %v", f.did("repo.put"), tt.wantSent)
			}
			if tt.wantSent && !f.did("repo.verify") {
				t.Errorf("the repository was not verified")
			}
		})
	}
}

func TestFreeze(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("writes fail for certain while frozen and are acknowledged after unfreeze", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		d := newDriver(t, f)
		if err := d.Write(ctx, "before"); err != nil {
			t.Fatal(err)
		}
		unfreeze, err := d.Freeze(ctx, []string{d.Index()})
		if err != nil {
			t.Fatalf("Freeze: %v", err)
		}
		if got := outcome(d.Write(ctx, "during")); got != "fail" {
			t.Errorf("write while frozen: %s, want fail", got)
		}
		if err := unfreeze(ctx); err != nil {
			t.Fatalf("unfreeze: %v", err)
		}
		if err := d.Write(ctx, "after"); err != nil {
			t.Errorf("write after unfreeze: %v", err)
		}
		if !f.did("flush") {
			t.Errorf("Freeze did not flush")
		}
	})

	t.Run("unfreeze lifts the block after the caller's context expired", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		f.seed(runIndex, "a")
		d := newDriver(t, f)
		fctx, cancel := context.WithCancel(ctx)
		unfreeze, err := d.Freeze(fctx, []string{runIndex})
		if err != nil {
			t.Fatalf("Freeze: %v", err)
		}
		cancel()
		if err := unfreeze(fctx); err != nil {
			t.Fatalf("unfreeze with a cancelled context: %v", err)
		}
		if ix, _ := f.index(runIndex); ix.writeBlock {
			t.Errorf("index still write-blocked")
		}
	})

	t.Run("an index blocked before Freeze stays blocked after unfreeze", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		f.seed(runIndex, "a")
		f.set(func(f *fakeElasticsearch) { f.put("archive", "x").writeBlock = true })
		d := newDriver(t, f)
		unfreeze, err := d.Freeze(ctx, []string{runIndex, "archive"})
		if err != nil {
			t.Fatalf("Freeze: %v", err)
		}
		if err := unfreeze(ctx); err != nil {
			t.Fatalf("unfreeze: %v", err)
		}
		if ix, _ := f.index("archive"); !ix.writeBlock {
			t.Errorf("unfreeze lifted a block it did not add")
		}
		if ix, _ := f.index(runIndex); ix.writeBlock {
			t.Errorf("unfreeze left its own block")
		}
	})

	t.Run("a failed flush lifts the block it added", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		f.seed(runIndex, "a")
		f.set(func(f *fakeElasticsearch) {
			f.misbehave["flush"] = misbehaviour{status: 500, body: `{"error":{"root_cause":[{"type":"flush_failed_engine_exception","reason":"[rebound-run-1][0] Flush failed"}],"type":"flush_failed_engine_exception","reason":"[rebound-run-1][0] Flush failed"},"status":500}`}
		})
		d := newDriver(t, f)
		unfreeze, err := d.Freeze(ctx, []string{runIndex})
		if err == nil || !strings.Contains(err.Error(), "Flush failed") {
			t.Fatalf("Freeze = %v, want the flush failure", err)
		}
		if ix, _ := f.index(runIndex); ix.writeBlock {
			t.Errorf("index still write-blocked after Freeze failed")
		}
		if err := unfreeze(ctx); err != nil {
			t.Errorf("unfreeze after a failed Freeze: %v", err)
		}
	})

	t.Run("a missing index changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		d := newDriver(t, f)
		unfreeze, err := d.Freeze(ctx, []string{"nope"})
		if err == nil || !strings.Contains(err.Error(), "index_not_found_exception") {
			t.Fatalf("Freeze = %v, want index_not_found_exception", err)
		}
		if err := unfreeze(ctx); err != nil {
			t.Errorf("unfreeze: %v", err)
		}
		if f.did("block") {
			t.Errorf("a block was added")
		}
	})
}

func TestConsistentSnapshot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(f *fakeElasticsearch)
		timeout time.Duration
		wantErr []string
	}{
		{name: "a successful snapshot holds every write, refreshed or not"},
		{
			name:    "a snapshot with a failed shard is an error that names the shard",
			setup:   func(f *fakeElasticsearch) { f.failShard = true },
			wantErr: []string{"state PARTIAL", "1 of 1 shards failed", "No space left on device"},
		},
		{
			name:    "a snapshot still running when the caller's context expires is an error",
			setup:   func(f *fakeElasticsearch) { f.misbehave["snapshot.create"] = misbehaviour{stall: true} },
			timeout: 500 * time.Millisecond,
			wantErr: []string{"deadline exceeded"},
		},
		{
			name:    "a missing repository is an error",
			setup:   func(f *fakeElasticsearch) { delete(f.repos, "backups") },
			wantErr: []string{"repository_missing_exception"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			d := newDriver(t, f)
			ctx := context.Background()
			if err := d.RegisterRepository(ctx, "backups", elasticsearch.RepositoryFS, map[string]any{"location": "/snapshots"}); err != nil {
				t.Fatal(err)
			}
			for id, err := range d.WriteBatch(ctx, []string{"a", "b", "c"}) {
				if err != nil {
					t.Fatalf("write %q: %v", id, err)
				}
			}
			if tt.setup != nil {
				f.set(tt.setup)
			}
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}

			info, err := d.ConsistentSnapshot(ctx, "backups", "snap-1", []string{d.Index()})

			// Whatever happened, the index takes writes again.
			if ix, _ := f.index(runIndex); ix.writeBlock {
				t.Errorf("the write block was not lifted")
			}
			if err := d.Write(context.Background(), "after"); err != nil {
				t.Errorf("write after the snapshot: %v", err)
			}
			if len(tt.wantErr) > 0 {
				for _, want := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("ConsistentSnapshot = %v, want an error containing %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ConsistentSnapshot: %v", err)
			}
			if info.Name != "snap-1" || info.Repository != "backups" || info.State != elasticsearch.SnapshotSuccess ||
				!slices.Equal(info.Indices, []string{runIndex}) || info.Shards != (elasticsearch.ShardCounts{Total: 1, Successful: 1}) ||
				info.Start.IsZero() || !info.End.After(info.Start) {
				t.Errorf("SnapshotInfo = %+v", info)
			}
			f.set(func(f *fakeElasticsearch) {
				if got := f.snapshots["backups"]["snap-1"].indices[runIndex]; !slices.Equal(got, []string{"a", "b", "c"}) {
					t.Errorf("snapshot holds %v, want [a b c]", got)
				}
			})
		})
	}
}

func TestRestoreSnapshot(t *testing.T) {
	t.Parallel()
	const restored = "restored-" + runIndex
	tests := []struct {
		name string
		opts elasticsearch.RestoreOptions
		// want is the content of each index afterwards.
		want        map[string][]string
		wantIndices []string // as restored
		wantErr     string
	}{
		{
			name:    "restoring over an open index without a replace mode fails and changes nothing",
			wantErr: "an open index with same name already exists",
			want:    map[string][]string{runIndex: {"a", "b", "c", "d"}, "orders": {"o1", "o2", "o3"}},
		},
		{
			name:        "replace by closing brings back the snapshot's content",
			opts:        elasticsearch.RestoreOptions{Indices: []string{runIndex}, Replace: elasticsearch.ReplaceClose},
			wantIndices: []string{runIndex},
			want:        map[string][]string{runIndex: {"a", "b", "c"}, "orders": {"o1", "o2", "o3"}},
		},
		{
			name:        "replace by deleting brings back the snapshot's content of every index",
			opts:        elasticsearch.RestoreOptions{Replace: elasticsearch.ReplaceDelete},
			wantIndices: []string{"orders", runIndex},
			want:        map[string][]string{runIndex: {"a", "b", "c"}, "orders": {"o1", "o2"}},
		},
		{
			name:        "a * pattern selects indices of the snapshot",
			opts:        elasticsearch.RestoreOptions{Indices: []string{"ord*"}, Replace: elasticsearch.ReplaceClose},
			wantIndices: []string{"orders"},
			want:        map[string][]string{runIndex: {"a", "b", "c", "d"}, "orders": {"o1", "o2"}},
		},
		{
			name: "a renamed restore leaves the source index alone, even in replace mode",
			opts: elasticsearch.RestoreOptions{
				Indices: []string{runIndex}, RenamePattern: "(.+)", RenameReplacement: "restored-$1", Replace: elasticsearch.ReplaceClose,
			},
			wantIndices: []string{restored},
			want:        map[string][]string{runIndex: {"a", "b", "c", "d"}, restored: {"a", "b", "c"}},
		},
		{
			name:    "a rename pattern without a replacement is refused",
			opts:    elasticsearch.RestoreOptions{RenamePattern: "(.+)", Replace: elasticsearch.ReplaceDelete},
			wantErr: "both RenamePattern and RenameReplacement",
			want:    map[string][]string{runIndex: {"a", "b", "c", "d"}},
		},
		{
			name:    "an unknown replace mode is refused",
			opts:    elasticsearch.RestoreOptions{Replace: "overwrite"},
			wantErr: `unknown replace mode "overwrite"`,
			want:    map[string][]string{runIndex: {"a", "b", "c", "d"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeElasticsearch(t)
			f.seed("orders", "o1", "o2")
			d := newDriver(t, f)
			ctx := context.Background()
			if err := d.RegisterRepository(ctx, "backups", elasticsearch.RepositoryFS, map[string]any{"location": "/snapshots"}); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"a", "b", "c"} {
				if err := d.Write(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := d.ConsistentSnapshot(ctx, "backups", "snap-1", []string{runIndex, "orders"}); err != nil {
				t.Fatal(err)
			}
			if err := d.Write(ctx, "d"); err != nil { // after the snapshot: lost by a restore
				t.Fatal(err)
			}
			f.seed("orders", "o3")

			info, err := d.RestoreSnapshot(ctx, "backups", "snap-1", tt.opts)

			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("RestoreSnapshot = %+v, %v; want an error containing %q", info, err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("RestoreSnapshot: %v", err)
				}
				if !slices.Equal(info.Indices, tt.wantIndices) || info.Shards.Failed != 0 || info.Snapshot != "snap-1" {
					t.Errorf("RestoreInfo = %+v, want indices %v and no failed shard", info, tt.wantIndices)
				}
			}
			for name, want := range tt.want {
				ix, ok := f.index(name)
				if !ok {
					t.Errorf("index %q missing", name)
					continue
				}
				got := slices.Sorted(slices.Values(ix.docs))
				if !slices.Equal(got, want) || ix.closed {
					t.Errorf("index %q holds %v (closed %v), want %v open", name, got, ix.closed, want)
				}
			}
		})
	}
}

func TestListAndDeleteSnapshots(t *testing.T) {
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
	for _, name := range []string{"snap-1", "snap-2"} {
		if _, err := d.CreateSnapshot(ctx, "backups", name, []string{d.Index()}); err != nil {
			t.Fatalf("CreateSnapshot(%s): %v", name, err)
		}
	}
	names := func() []string {
		t.Helper()
		list, err := d.ListSnapshots(ctx, "backups")
		if err != nil {
			t.Fatalf("ListSnapshots: %v", err)
		}
		var out []string
		for _, s := range list {
			if s.State != elasticsearch.SnapshotSuccess {
				t.Errorf("snapshot %s is %s", s.Name, s.State)
			}
			out = append(out, s.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"snap-1", "snap-2"}) {
		t.Fatalf("ListSnapshots = %v, want [snap-1 snap-2], oldest first", got)
	}

	if err := d.DeleteSnapshot(ctx, "backups", "snap-1"); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if got := names(); !slices.Equal(got, []string{"snap-2"}) {
		t.Errorf("after delete ListSnapshots = %v, want [snap-2]", got)
	}
	if err := d.DeleteSnapshot(ctx, "backups", "snap-1"); err != nil {
		t.Errorf("deleting a deleted snapshot again: %v, want nil (already deleted)", err)
	}
	if err := d.DeleteSnapshot(ctx, "backups", "*"); err == nil {
		t.Errorf("DeleteSnapshot(*) = nil, want a refusal")
	}
	if got := names(); !slices.Equal(got, []string{"snap-2"}) {
		t.Errorf("after refused deletes ListSnapshots = %v, want [snap-2]", got)
	}
	err := d.DeleteSnapshot(ctx, "nope", "snap-2")
	var ae *elasticsearch.APIError
	if !errors.As(err, &ae) || ae.Type != "repository_missing_exception" {
		t.Errorf("DeleteSnapshot in a missing repository = %v, want repository_missing_exception", err)
	}
	if _, err := d.CreateSnapshot(ctx, "backups", "snap-2", []string{d.Index()}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("CreateSnapshot of an existing name = %v, want an error", err)
	}
	if _, err := d.CreateSnapshot(ctx, "backups", "snap-3", nil); err == nil {
		t.Errorf("CreateSnapshot of no index = nil, want a refusal")
	}
}

func TestPrepareRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	azure := &elasticsearch.RepositoryInfo{Type: elasticsearch.RepositoryAzure, Settings: map[string]any{"container": "es-snapshots", "readonly": true}}

	t.Run("registers, verifies and reports the registration as Elasticsearch keeps it", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		d := newDriver(t, f)
		got, err := d.PrepareRepository(ctx, "backups", azure)
		if err != nil {
			t.Fatalf("PrepareRepository: %v", err)
		}
		if got.Type != "azure" || got.Settings["container"] != "es-snapshots" || got.Settings["readonly"] != "true" {
			t.Errorf("registration %+v", got)
		}
		if !f.did("repo.put") || !f.did("repo.verify") {
			t.Errorf("ops %v: want a registration and a verification", f.ops)
		}
	})
	t.Run("an already registered repository is verified, not registered again", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		d := newDriver(t, f)
		if err := d.RegisterRepository(ctx, "backups", elasticsearch.RepositoryFS, map[string]any{"location": "/snapshots"}); err != nil {
			t.Fatal(err)
		}
		puts, verifies := f.count("repo.put"), f.count("repo.verify")
		got, err := d.PrepareRepository(ctx, "backups", nil)
		if err != nil {
			t.Fatalf("PrepareRepository: %v", err)
		}
		if got.Type != "fs" || got.Settings["location"] != "/snapshots" {
			t.Errorf("registration %+v", got)
		}
		if f.count("repo.put") != puts || f.count("repo.verify") != verifies+1 {
			t.Errorf("ops %v: want one more verification and no registration", f.ops)
		}
	})
	t.Run("a repository that is not registered, with nothing to register it as, is an error naming it", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t, newFakeElasticsearch(t))
		if _, ok, err := d.Repository(ctx, "backups"); ok || err != nil {
			t.Fatalf("Repository = %v, %v; want not found and no error", ok, err)
		}
		_, err := d.PrepareRepository(ctx, "backups", nil)
		if err == nil || !strings.Contains(err.Error(), `"backups" is not registered`) {
			t.Errorf("PrepareRepository = %v, want an error saying backups is not registered", err)
		}
	})
	t.Run("a registration some node cannot use fails with Elasticsearch's reason", func(t *testing.T) {
		t.Parallel()
		f := newFakeElasticsearch(t)
		f.set(func(f *fakeElasticsearch) { f.verifyFail = true })
		d := newDriver(t, f)
		_, err := d.PrepareRepository(ctx, "backups", azure)
		if err == nil || !strings.Contains(err.Error(), "failed verification") {
			t.Errorf("PrepareRepository = %v, want a verification failure", err)
		}
	})
}
