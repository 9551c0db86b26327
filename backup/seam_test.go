package backup

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/reboundhq/rebound/apps"
)

// runtimeStateAppStandIn is registered as an app whose running members
// keep state of their own in a ConfigMap (as Patroni keeps its leader
// lock): App.RuntimeState names it.
const runtimeStateAppStandIn = "runtime-state-app-stand-in"

func init() {
	apps.Register(apps.App{
		Name: runtimeStateAppStandIn, ClientPort: 1,
		New: func(context.Context, apps.Config) (apps.Driver, error) { return healthyDriverStandIn{}, nil },
		RuntimeState: func(u *unstructured.Unstructured) bool {
			return u.GetKind() == "ConfigMap" && u.GetLabels()["role"] == "leader-lock"
		},
	})
}

// healthyDriverStandIn stands in for a connected app that is healthy.
type healthyDriverStandIn struct{}

func (healthyDriverStandIn) Write(context.Context, string) error       { return nil }
func (healthyDriverStandIn) Read(context.Context) error                { return nil }
func (healthyDriverStandIn) ReadAll(context.Context) ([]string, error) { return nil, nil }
func (healthyDriverStandIn) Health(context.Context) (apps.Health, error) {
	return apps.Health{Full: true, Serving: true, Members: 1, Healthy: 1}, nil
}
func (healthyDriverStandIn) Leader(context.Context) (string, error)          { return "", apps.ErrNotSupported }
func (healthyDriverStandIn) DeleteData(context.Context, string) (int, error) { return 0, nil }
func (healthyDriverStandIn) Close() error                                    { return nil }

// An object the app's RuntimeState claims is not captured by a backup,
// and a restore deletes the one the running app left (a leader lock of
// the app it replaces), while the app's config comes back.
func TestRuntimeStateIsNotCapturedAndIsDeletedByARestore(t *testing.T) {
	t.Parallel()
	lock := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shop-leader", Namespace: "shop",
		Labels: map[string]string{"app.kubernetes.io/name": "shop", "role": "leader-lock"}}, Data: map[string]string{"leader": "shop-1"}}
	h := newHarness(t, append(shopObjects("shop"), lock)...)
	ctx := context.Background()
	res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, DriverName: runtimeStateAppStandIn,
		Driver: healthyDriverStandIn{}, Data: DataNone, SkipMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res.Manifest.Resources {
		names = append(names, r.Kind+"/"+r.Name)
	}
	if slices.Contains(names, "ConfigMap/shop-leader") || !slices.Contains(names, "ConfigMap/shop-config") {
		t.Fatalf("captured %v: want the config and not the leader lock", names)
	}
	// The running app takes the lock again meanwhile.
	lock.Data["leader"] = "shop-0"
	if _, err := h.kube.CoreV1().ConfigMaps("shop").Update(ctx, lock, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Restore(ctx, RestoreRequest{Backup: res.ID, Driver: healthyDriverStandIn{}, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.kube.CoreV1().ConfigMaps("shop").Get(ctx, "shop-leader", metav1.GetOptions{}); err == nil {
		t.Error("the leader lock of the replaced app survived the restore")
	}
	if _, err := h.kube.CoreV1().ConfigMaps("shop").Get(ctx, "shop-config", metav1.GetOptions{}); err != nil {
		t.Errorf("the app's config: %v", err)
	}
}

// Manifests written before the driver seam (format 1) held each app's
// fields in the data entry; they still decode, into NativeData.
func TestFormat1ManifestsDecodeIntoNativeData(t *testing.T) {
	t.Parallel()
	old := `{
  "format": 1, "namespace": "rebound-demo", "driver": "etcd", "started": "2026-11-01T10:00:00Z",
  "cut": "2026-11-01T10:00:01Z", "finished": "2026-11-01T10:00:02Z", "level": "system",
  "layers": {"data": "db", "config": true, "metadata": true},
  "data": [
    {"kind": "etcd-snapshot", "level": "db", "object": "data/etcd/snapshot.db", "size": 20512, "revision": 4711, "endpoint": "http://10.0.0.5:2379",
     "checksum": {"prefix": "", "records": 20, "hash": "sha256:ab", "at": "4711"}},
    {"kind": "elasticsearch-snapshot", "level": "db", "esRepository": "backups", "esRepositoryType": "fs",
     "esRepositorySettings": {"location": "/snapshots"}, "esSnapshot": "rebound-20261101-100001-ab12cd34", "indices": ["rebound-r1-s"]},
    {"kind": "pvc", "level": "crash", "pvc": "data-shop-0", "snapshot": "0123456789abcdef", "size": 4096}
  ]
}`
	m, err := decodeManifest([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != ManifestFormat || len(m.Data) != 3 {
		t.Fatalf("format %d, %d entries", m.Format, len(m.Data))
	}
	etcd := m.Data[0]
	if etcd.Kind != "etcd-snapshot" || !slices.Equal(etcd.Objects, []string{"data/etcd/snapshot.db"}) || etcd.Size != 20512 ||
		etcd.Position != "4711" || etcd.Endpoint != "http://10.0.0.5:2379" || etcd.Level != LevelDB || etcd.Params != nil ||
		etcd.Checksum == nil || etcd.Checksum.At != "4711" {
		t.Errorf("etcd entry %+v", etcd)
	}
	es := m.Data[1]
	var params map[string]any
	if err := json.Unmarshal(es.Params, &params); err != nil {
		t.Fatalf("elasticsearch params %s: %v", es.Params, err)
	}
	if es.Kind != "elasticsearch-snapshot" || params["esRepository"] != "backups" || params["esRepositoryType"] != "fs" ||
		params["esSnapshot"] != "rebound-20261101-100001-ab12cd34" || params["esRepositorySettings"].(map[string]any)["location"] != "/snapshots" ||
		params["indices"].([]any)[0] != "rebound-r1-s" || len(params) != 5 {
		t.Errorf("elasticsearch entry %+v params %v", es, params)
	}
	pvc := m.Data[2]
	if pvc.Kind != DataPVCCopy || pvc.PVC != "data-shop-0" || pvc.Snapshot != "0123456789abcdef" || pvc.Size != 4096 || pvc.Objects != nil || pvc.Params != nil {
		t.Errorf("pvc entry %+v", pvc)
	}

	// A manifest of a later format is refused with the fix.
	_, err = decodeManifest([]byte(strings.Replace(old, `"format": 1`, `"format": 9`, 1)))
	if err == nil || !strings.Contains(err.Error(), "newer rebound") {
		t.Errorf("format 9: %v", err)
	}
}

// nativeStandIn stands in for a driver with a native backup that does
// what its fields say.
type nativeStandIn struct {
	healthyDriverStandIn
	object string // added when set
	cut    bool
	data   apps.NativeData
}

func (n nativeStandIn) NativeBackup(ctx context.Context, w apps.BackupWriter, _ any) (apps.NativeData, error) {
	if n.object != "" {
		if err := w.AddObject(ctx, n.object, strings.NewReader("data")); err != nil {
			return apps.NativeData{}, err
		}
	}
	if n.cut {
		w.Cut()
	}
	return n.data, nil
}

// A native backup that breaks the contract fails the backup, naming what
// is wrong, and commits nothing.
func TestNativeBackupThatBreaksTheContractFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		d    nativeStandIn
		want string
	}{
		{"no cut", nativeStandIn{object: "data/x", data: apps.NativeData{Kind: "x", Objects: []string{"data/x"}}}, "marked no consistent cut"},
		{"the engine's object name", nativeStandIn{object: "manifest.json", cut: true, data: apps.NativeData{Kind: "x"}}, `object name "manifest.json" is taken`},
		{"an object it did not add", nativeStandIn{cut: true, data: apps.NativeData{Kind: "x", Objects: []string{"data/y"}}}, `names object "data/y" it did not add`},
		{"no kind", nativeStandIn{cut: true}, "a driver names its own kind"},
	} {
		_, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, DriverName: runtimeStateAppStandIn, Driver: tc.d, SkipMetadata: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if infos, err := h.e.List(ctx); err != nil || len(infos) != 0 {
		t.Errorf("backups after failed ones: %v, %v; want none", infos, err)
	}
	res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, DriverName: runtimeStateAppStandIn, SkipMetadata: true,
		Driver: nativeStandIn{object: "data/x", cut: true, data: apps.NativeData{Kind: "x", Objects: []string{"data/x"}, Position: "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Manifest.Data; len(d) != 1 || d[0].Size != 4 || d[0].Level != LevelDB || d[0].Position != "7" || res.Manifest.CutUnknown != "" {
		t.Errorf("data %+v: want the object's 4 bytes at db level", d)
	}
}
