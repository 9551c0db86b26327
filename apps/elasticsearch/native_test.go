package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
)

// esClusterStandIn stands in for the Elasticsearch driver of one cluster:
// the snapshot repositories registered there and the calls the native
// backup and restore made. The driver's own HTTP calls are tested against
// an Elasticsearch double (fake_test.go); this checks what the backup and
// restore ask of it.
type esClusterStandIn struct {
	mu        sync.Mutex
	repos     map[string]RepositoryInfo
	verified  []string
	snapshots []string // taken, "repo/name"
	restored  []string // "repo/name"
}

func newESClusterStandIn() *esClusterStandIn {
	return &esClusterStandIn{repos: map[string]RepositoryInfo{}}
}

func (c *esClusterStandIn) PrepareRepository(_ context.Context, name string, want *RepositoryInfo) (RepositoryInfo, error) {
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

func (c *esClusterStandIn) Repository(_ context.Context, name string) (RepositoryInfo, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, ok := c.repos[name]
	return info, ok, nil
}

func (c *esClusterStandIn) ConsistentSnapshot(_ context.Context, repo, snapshot string, indices []string) (SnapshotInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snapshots = append(c.snapshots, repo+"/"+snapshot)
	return SnapshotInfo{Name: snapshot, Indices: indices}, nil
}

func (c *esClusterStandIn) RestoreSnapshot(_ context.Context, repo, snapshot string, _ RestoreOptions) (RestoreInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.repos[repo]; !ok {
		return RestoreInfo{}, fmt.Errorf("repository_missing_exception: [%s] missing", repo)
	}
	c.restored = append(c.restored, repo+"/"+snapshot)
	return RestoreInfo{Indices: []string{"rebound-probe"}}, nil
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

// nopWriter stands in for the backup engine's BackupWriter of a backup
// whose data stays in the app (no objects): it counts the cuts.
type nopWriter struct{ cuts int }

func (*nopWriter) AddObject(context.Context, string, io.Reader) error {
	return errors.New("no objects expected")
}
func (w *nopWriter) Cut()                              { w.cuts++ }
func (*nopWriter) Progress(string, int64, int64, bool) {}

// restoreWith runs the restore plan of nd into the cluster d.
func restoreWith(ctx context.Context, nd apps.NativeData, d apps.Driver, opts any) error {
	plan, err := PlanRestore(ctx, apps.RestoreInput{Data: nd, TargetNamespace: "copy", Options: opts})
	if err != nil {
		return err
	}
	if len(plan.Movers) != 0 || plan.AfterReady == nil {
		return fmt.Errorf("plan %+v: want no movers and a restore once Ready", plan)
	}
	return plan.AfterReady(ctx, d, func(string) {})
}

func TestRepositoryRegisteredRecordedAndRegisteredAgainOnRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	source := newESClusterStandIn()
	w := &nopWriter{}
	nd, err := nativeBackup(ctx, source, w, BackupOptions{Repository: "backups", Type: "azure",
		Settings: map[string]string{"container": "es-snapshots", "base_path": "shop"}}, time.Now())
	if err != nil {
		t.Fatalf("NativeBackup: %v", err)
	}
	reg := source.repos["backups"]
	if reg.Type != "azure" || reg.Settings["container"] != "es-snapshots" || len(source.verified) != 1 || len(source.snapshots) != 1 || w.cuts != 1 {
		t.Fatalf("source cluster: repos %+v verified %v snapshots %v cuts %d; want backups registered as azure, verified, one snapshot, one cut", source.repos, source.verified, source.snapshots, w.cuts)
	}
	var de snapshotParams
	if err := json.Unmarshal(nd.Params, &de); err != nil {
		t.Fatal(err)
	}
	if nd.Kind != SnapshotKind || de.Repository != "backups" || de.RepositoryType != "azure" || de.RepositorySettings["base_path"] != "shop" || de.Snapshot == "" {
		t.Fatalf("native data %+v (%+v): want the repository's registration recorded", nd, de)
	}

	t.Run("into a cluster that does not know the repository, it is registered read-only", func(t *testing.T) {
		target := newESClusterStandIn()
		if err := restoreWith(ctx, nd, target, nil); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		got := target.repos["backups"]
		if got.Type != "azure" || got.Settings["container"] != "es-snapshots" || got.Settings["base_path"] != "shop" || got.Settings["readonly"] != true {
			t.Errorf("target registration %+v: want azure, the recorded settings and readonly", got)
		}
		if want := "backups/" + de.Snapshot; len(target.restored) != 1 || target.restored[0] != want {
			t.Errorf("restored %v, want [%s]", target.restored, want)
		}
	})

	t.Run("into the cluster that has it, its registration is verified and left alone", func(t *testing.T) {
		verified := len(source.verified)
		if err := restoreWith(ctx, nd, source, RestoreRename{Pattern: "(.+)", Replacement: "restored-$1"}); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if source.repos["backups"].Settings["readonly"] != nil {
			t.Errorf("the source cluster's repository was re-registered: %+v", source.repos["backups"])
		}
		if len(source.verified) != verified+1 {
			t.Errorf("verifications %v: want one more for the restore", source.verified)
		}
		if want := "backups/" + de.Snapshot; len(source.restored) != 1 || source.restored[0] != want {
			t.Errorf("restored %v, want [%s]", source.restored, want)
		}
	})

	t.Run("a repository that is not registered and has no type to register it fails clearly", func(t *testing.T) {
		_, err := nativeBackup(ctx, newESClusterStandIn(), &nopWriter{}, BackupOptions{Repository: "elsewhere"}, time.Now())
		if err == nil || !strings.Contains(err.Error(), `"elsewhere" is not registered`) {
			t.Errorf("NativeBackup = %v, want an error saying the repository is not registered", err)
		}
	})

	t.Run("a half-given rename and options of another app are refused before anything changes", func(t *testing.T) {
		if _, err := PlanRestore(ctx, apps.RestoreInput{Data: nd, Options: RestoreRename{Pattern: "x"}}); err == nil {
			t.Error("a rename pattern without its replacement was accepted")
		}
		if _, err := PlanRestore(ctx, apps.RestoreInput{Data: nd, Options: 42}); err == nil || !strings.Contains(err.Error(), "RestoreRename") {
			t.Errorf("PlanRestore with options of type int = %v", err)
		}
		if _, err := nativeBackup(ctx, newESClusterStandIn(), &nopWriter{}, "backups", time.Now()); err == nil || !strings.Contains(err.Error(), "BackupOptions") {
			t.Errorf("NativeBackup with options of type string = %v", err)
		}
	})
}

// A manifest written before the driver seam recorded the snapshot in
// fields of its own; the backup engine moves them into Params under the
// same names, and the restore reads them there.
func TestParamsReadTheFieldsOfOlderManifests(t *testing.T) {
	t.Parallel()
	old := `{"esRepository":"backups","esRepositoryType":"fs","esRepositorySettings":{"location":"/snap"},"esSnapshot":"rebound-1","indices":["rebound-probe"]}`
	target := newESClusterStandIn()
	if err := restoreWith(context.Background(), apps.NativeData{Kind: SnapshotKind, Params: json.RawMessage(old)}, target, nil); err != nil {
		t.Fatal(err)
	}
	if got := target.repos["backups"]; got.Type != "fs" || got.Settings["location"] != "/snap" || len(target.restored) != 1 || target.restored[0] != "backups/rebound-1" {
		t.Errorf("restore of an old record: repos %+v restored %v", target.repos, target.restored)
	}
}
