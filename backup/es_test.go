package backup

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
)

// esClusterStandIn stands in for the Elasticsearch driver of one cluster:
// the snapshot repositories registered there and the calls the engine made.
// The driver's own HTTP calls are tested against an Elasticsearch double in
// apps/elasticsearch; this checks what the engine asks of it.
type esClusterStandIn struct {
	mu        sync.Mutex
	repos     map[string]elasticsearch.RepositoryInfo
	verified  []string
	snapshots []string // taken, "repo/name"
	restored  []string // "repo/name"
}

func newESClusterStandIn() *esClusterStandIn {
	return &esClusterStandIn{repos: map[string]elasticsearch.RepositoryInfo{}}
}

func (c *esClusterStandIn) PrepareRepository(_ context.Context, name string, want *elasticsearch.RepositoryInfo) (elasticsearch.RepositoryInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if want != nil {
		c.repos[name] = *want
	}
	info, ok := c.repos[name]
	if !ok {
		return info, fmt.Errorf("snapshot repository %q is not registered in the cluster", name)
	}
	c.verified = append(c.verified, name)
	return info, nil
}

func (c *esClusterStandIn) VerifyRepository(_ context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.repos[name]; !ok {
		return fmt.Errorf("repository_missing_exception: [%s] missing", name)
	}
	c.verified = append(c.verified, name)
	return nil
}

func (c *esClusterStandIn) Repository(_ context.Context, name string) (elasticsearch.RepositoryInfo, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, ok := c.repos[name]
	return info, ok, nil
}

func (c *esClusterStandIn) ConsistentSnapshot(_ context.Context, repo, snapshot string, indices []string) (elasticsearch.SnapshotInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snapshots = append(c.snapshots, repo+"/"+snapshot)
	return elasticsearch.SnapshotInfo{Name: snapshot, Indices: indices}, nil
}

func (c *esClusterStandIn) RestoreSnapshot(_ context.Context, repo, snapshot string, _ elasticsearch.RestoreOptions) (elasticsearch.RestoreInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.repos[repo]; !ok {
		return elasticsearch.RestoreInfo{}, fmt.Errorf("repository_missing_exception: [%s] missing", repo)
	}
	c.restored = append(c.restored, repo+"/"+snapshot)
	return elasticsearch.RestoreInfo{Indices: []string{"rebound-probe"}}, nil
}

func (c *esClusterStandIn) Index() string { return "rebound-probe" }

func (c *esClusterStandIn) Write(context.Context, string) error       { return nil }
func (c *esClusterStandIn) Read(context.Context) error                { return nil }
func (c *esClusterStandIn) ReadAll(context.Context) ([]string, error) { return nil, nil }
func (c *esClusterStandIn) Leader(context.Context) (string, error)    { return "", apps.ErrNotSupported }
func (c *esClusterStandIn) DeleteData(context.Context, string) (int, error) {
	return 0, apps.ErrNotSupported
}
func (c *esClusterStandIn) Close() error                { return nil }
func (c *esClusterStandIn) SetEndpoints(apps.Endpoints) {}
func (c *esClusterStandIn) Health(context.Context) (apps.Health, error) {
	return apps.Health{Full: true, Serving: true, Members: 3, Healthy: 3}, nil
}

func TestElasticsearchRepositoryRegisteredRecordedAndRegisteredAgainOnRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, shopObjects("shop")...)
	source := newESClusterStandIn()
	res, err := h.e.Backup(ctx, Request{
		Namespace: "shop", Selector: shopSelector, DriverName: "elasticsearch", Driver: source, SkipMetadata: true,
		ESRepository: "backups", ESRepositoryType: "azure",
		ESRepositorySettings: map[string]string{"container": "es-snapshots", "base_path": "shop"},
	})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	reg := source.repos["backups"]
	if reg.Type != "azure" || reg.Settings["container"] != "es-snapshots" || len(source.verified) != 1 || len(source.snapshots) != 1 {
		t.Fatalf("source cluster: repos %+v verified %v snapshots %v; want backups registered as azure, verified, one snapshot", source.repos, source.verified, source.snapshots)
	}
	de := res.Manifest.Data[0]
	if de.ESRepository != "backups" || de.ESRepositoryType != "azure" || de.ESRepositorySettings["base_path"] != "shop" || de.Level != LevelDB {
		t.Fatalf("data entry %+v: want the repository's registration recorded", de)
	}

	t.Run("into a cluster that does not know the repository, it is registered read-only", func(t *testing.T) {
		target := newESClusterStandIn()
		if _, err := h.e.Restore(ctx, RestoreRequest{Backup: res.ID, Namespace: "copy", Driver: target, Timeout: 5 * time.Second}); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		got := target.repos["backups"]
		if got.Type != "azure" || got.Settings["container"] != "es-snapshots" || got.Settings["base_path"] != "shop" || got.Settings["readonly"] != true {
			t.Errorf("target registration %+v: want azure, the recorded settings and readonly", got)
		}
		if want := "backups/" + de.ESSnapshot; len(target.restored) != 1 || target.restored[0] != want {
			t.Errorf("restored %v, want [%s]", target.restored, want)
		}
	})

	t.Run("into the cluster that has it, its registration is verified and left alone", func(t *testing.T) {
		verified := len(source.verified)
		if _, err := h.e.Restore(ctx, RestoreRequest{Backup: res.ID, Namespace: "shop", Driver: source, Timeout: 5 * time.Second}); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if source.repos["backups"].Settings["readonly"] != nil {
			t.Errorf("the source cluster's repository was re-registered: %+v", source.repos["backups"])
		}
		if len(source.verified) != verified+1 {
			t.Errorf("verifications %v: want one more for the restore", source.verified)
		}
		if want := "backups/" + de.ESSnapshot; len(source.restored) != 1 || source.restored[0] != want {
			t.Errorf("restored %v, want [%s]", source.restored, want)
		}
	})

	t.Run("a repository that is not registered and has no type to register it fails clearly", func(t *testing.T) {
		_, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, DriverName: "elasticsearch", Driver: newESClusterStandIn(), SkipMetadata: true, ESRepository: "elsewhere"})
		if err == nil || !strings.Contains(err.Error(), `"elsewhere" is not registered`) {
			t.Errorf("Backup = %v, want an error saying the repository is not registered", err)
		}
	})
}
