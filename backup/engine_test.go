package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/reboundhq/rebound/backup/repo"
)

var shopSelector = labels.SelectorFromSet(appLabels)

func TestBackupCapturesAppStripped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	res, err := h.e.Backup(ctx, Request{Name: "first", Namespace: "shop", Selector: shopSelector, Data: DataNone, Tags: []string{"t1"}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	var got []string
	for _, r := range m.Resources {
		got = append(got, r.Kind+"/"+r.Name)
	}
	want := []string{"ServiceAccount/shop", "Role/shop", "RoleBinding/shop", "ConfigMap/shop-config", "Service/shop", "Service/shop-headless",
		"PersistentVolumeClaim/data-shop-0", "PodDisruptionBudget/shop", "StatefulSet/shop", "Secret/shop-secret"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("captured %v\nwant     %v", got, want)
	}
	if m.Level != LevelNone || !m.Layers.Config || !m.Layers.Metadata {
		t.Errorf("level %s layers %+v, want none with config and metadata", m.Level, m.Layers)
	}

	id, _ := repo.ParseID(res.ID)
	for _, r := range m.Resources {
		b, err := h.e.readObject(ctx, id, r.Object)
		if err != nil {
			t.Fatal(err)
		}
		if r.Sealed {
			if bytes.Contains(b, []byte("hunter2")) || bytes.Contains(b, []byte("aHVudGVyMi")) {
				t.Errorf("sealed secret %s holds the plaintext", r.Object)
			}
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, f := range []string{`"uid"`, `"resourceVersion"`, `"creationTimestamp"`, `"managedFields"`, `"ownerReferences"`, `"status"`, `"generation"`, "last-applied-configuration", "selected-node", "bind-completed", "10.0.0.7", "31234", "pvc-123"} {
			if strings.Contains(s, f) {
				t.Errorf("%s keeps %s: %s", r.Object, f, s)
			}
		}
		if !strings.Contains(s, `"keep":"me"`) {
			t.Errorf("%s lost its own annotation: %s", r.Object, s)
		}
		if r.Name == "shop-headless" && !strings.Contains(s, `"clusterIP":"None"`) {
			t.Errorf("headless service lost clusterIP None: %s", s)
		}
	}

	list, err := h.e.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	// What List shows is set after NewSnapshot: the repository must read
	// the metadata map when it commits.
	if b := list[0]; b.Namespace != "shop" || b.Level != LevelNone || b.Name != "first" || !slices.Equal(b.Tags, []string{"t1"}) || b.Cut.IsZero() {
		t.Errorf("listed %+v", b)
	}
}

func TestRestoreIntoAnotherNamespace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone})
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	h.kube.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "copy" || a.GetResource().Resource == "namespaces" {
			created = append(created, a.GetResource().Resource)
		}
		return false, nil, nil
	})
	go markReady(t, h.kube, "copy", "shop")
	rr, err := h.e.Restore(ctx, RestoreRequest{Backup: res.ID[:6], Namespace: "copy", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Dependency order: namespace, identities, config, services, claims,
	// budgets, workloads.
	want := []string{"namespaces", "serviceaccounts", "roles", "rolebindings", "configmaps", "secrets", "services", "services", "persistentvolumeclaims", "poddisruptionbudgets", "statefulsets"}
	if !slices.Equal(created, want) {
		t.Errorf("created %v\nwant    %v", created, want)
	}
	if len(rr.Created) != 10 {
		t.Errorf("created %v", rr.Created)
	}
	ns, err := h.kube.CoreV1().Namespaces().Get(ctx, "copy", metav1.GetOptions{})
	if err != nil || ns.Labels["team"] != "shop" {
		t.Errorf("namespace copy: %v %v", ns, err)
	}
	sec, err := h.kube.CoreV1().Secrets("copy").Get(ctx, "shop-secret", metav1.GetOptions{})
	if err != nil || string(sec.Data["password"]) != "hunter2-plaintext" {
		t.Errorf("secret not unsealed into the cluster: %v %v", sec, err)
	}
	rb, _ := h.kube.RbacV1().RoleBindings("copy").Get(ctx, "shop", metav1.GetOptions{})
	if rb.Subjects[0].Namespace != "copy" || rb.Subjects[1].Namespace != "elsewhere" {
		t.Errorf("subjects %+v: want the app's own mapped to copy, others kept", rb.Subjects)
	}
	pvc, _ := h.kube.CoreV1().PersistentVolumeClaims("copy").Get(ctx, "data-shop-0", metav1.GetOptions{})
	if pvc.Spec.VolumeName != "" || pvc.Annotations["volume.kubernetes.io/selected-node"] != "" {
		t.Errorf("pvc still bound: %+v", pvc)
	}
}

// markReady plays the StatefulSet controller: it marks sts Ready once it
// exists.
func markReady(t *testing.T, kube *fake.Clientset, ns, name string) {
	ctx := context.Background()
	for range 200 {
		s, err := kube.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			s.Status.ReadyReplicas = *s.Spec.Replicas
			if _, err := kube.AppsV1().StatefulSets(ns).UpdateStatus(ctx, s, metav1.UpdateOptions{}); err == nil {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRollbackReplacesConfigAndRecreatesWorkloads(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone})
	if err != nil {
		t.Fatal(err)
	}
	// The human error: config changed, the StatefulSet scaled away.
	cm, _ := h.kube.CoreV1().ConfigMaps("shop").Get(ctx, "shop-config", metav1.GetOptions{})
	cm.Data["mode"] = "broken"
	h.kube.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{})
	sts, _ := h.kube.AppsV1().StatefulSets("shop").Get(ctx, "shop", metav1.GetOptions{})
	sts.Spec.Replicas = new(int32)
	h.kube.AppsV1().StatefulSets("shop").Update(ctx, sts, metav1.UpdateOptions{})

	go func() {
		// Wait for the restore to delete and recreate it, then mark it Ready.
		for range 200 {
			if s, err := h.kube.AppsV1().StatefulSets("shop").Get(ctx, "shop", metav1.GetOptions{}); err == nil && *s.Spec.Replicas == 2 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		markReady(t, h.kube, "shop", "shop")
	}()
	rr, err := h.e.Restore(ctx, RestoreRequest{Backup: "latest", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Namespace != "shop" {
		t.Errorf("restored into %s", rr.Namespace)
	}
	cm, _ = h.kube.CoreV1().ConfigMaps("shop").Get(ctx, "shop-config", metav1.GetOptions{})
	if cm.Data["mode"] != "fast" {
		t.Errorf("config not rolled back: %v", cm.Data)
	}
	svc, _ := h.kube.CoreV1().Services("shop").Get(ctx, "shop", metav1.GetOptions{})
	if svc.Spec.ClusterIP != "10.0.0.7" {
		t.Errorf("replaced service lost its cluster IP: %q", svc.Spec.ClusterIP)
	}
	sts, _ = h.kube.AppsV1().StatefulSets("shop").Get(ctx, "shop", metav1.GetOptions{})
	if *sts.Spec.Replicas != 2 {
		t.Errorf("statefulset replicas %d, want 2", *sts.Spec.Replicas)
	}
	if !slices.Contains(rr.Updated, "ConfigMap/shop-config") || !slices.Contains(rr.Created, "StatefulSet/shop") {
		t.Errorf("created %v updated %v", rr.Created, rr.Updated)
	}
	_ = res
}

func TestRestoreRefusesDamagedBackupTouchingNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone})
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of every chunk in turn is slow; flip one byte of each
	// chunk file at once and check the error names one of them.
	var chunks []string
	filepath.WalkDir(filepath.Join(h.dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			chunks = append(chunks, p)
		}
		return nil
	})
	if len(chunks) == 0 {
		t.Fatal("no chunk files")
	}
	for _, c := range chunks {
		b, _ := os.ReadFile(c)
		b[len(b)/2] ^= 0x01
		os.WriteFile(c, b, 0o644)
	}
	h.kube.ClearActions()
	_, err = h.e.Restore(ctx, RestoreRequest{Backup: res.ID, Namespace: "copy", Timeout: 5 * time.Second})
	if !errors.Is(err, repo.ErrCorrupt) {
		t.Fatalf("restore of a damaged backup: %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "data/") {
		t.Errorf("error does not name the damaged object or say nothing changed: %v", err)
	}
	for _, a := range h.kube.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" {
			t.Errorf("cluster changed by a refused restore: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
	rep, err := h.e.Verify(ctx)
	if err == nil || rep == nil || len(rep.Problems) != len(chunks) {
		t.Errorf("verify: %v problems, err %v; want %d", rep, err, len(chunks))
	}
}

func TestWrongKeyWritesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	if _, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone}); err != nil {
		t.Fatal(err)
	}
	before := tree(t, h.dir)
	_, err := NewEngine(ctx, h.dir, repo.GenerateKey(), h.kube, WithInit())
	if !errors.Is(err, repo.ErrWrongKey) {
		t.Fatalf("wrong key: %v, want ErrWrongKey", err)
	}
	if after := tree(t, h.dir); !slices.Equal(before, after) {
		t.Errorf("a wrong key changed the repository:\nbefore %v\nafter  %v", before, after)
	}
}

func tree(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		out = append(out, p+" "+info.ModTime().String())
		return nil
	})
	return out
}

func TestRetentionKeepsPolicyBackupsOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		tags := []string{"policy-a"}
		if i == 0 {
			tags = []string{"manual"}
		}
		res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
		time.Sleep(5 * time.Millisecond) // distinct times
	}
	removed, err := h.e.ApplyRetention(ctx, "policy-a", Retention{KeepLast: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].ID != ids[1] {
		t.Errorf("removed %v, want only %s", removed, ids[1][:8])
	}
	list, _ := h.e.List(ctx)
	var left []string
	for _, b := range list {
		left = append(left, b.ID)
	}
	if !slices.Equal(left, []string{ids[0], ids[2], ids[3]}) {
		t.Errorf("left %v", left)
	}
}

func TestScheduleRunsAndApplies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	var events []ScheduleEvent
	err := h.e.RunSchedule(context.Background(), Request{Namespace: "shop", Selector: shopSelector, Data: DataNone},
		Policy{Schedule: "1s", Tag: "gameday", Immediate: true, Max: 3, Retention: Retention{KeepLast: 1}, Prune: true},
		func(ev ScheduleEvent) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	for i, ev := range events {
		if ev.Err != nil || ev.Result == nil {
			t.Errorf("event %d: %+v", i, ev)
		}
		if i > 0 && len(ev.Removed) != 1 {
			t.Errorf("event %d removed %d, want 1", i, len(ev.Removed))
		}
	}
	list, _ := h.e.List(context.Background())
	if len(list) != 1 || list[0].ID != events[2].Result.ID {
		t.Errorf("left %v, want the last backup only", list)
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	base := time.Date(2030, 1, 1, 10, 2, 0, 0, time.Local)
	for _, tc := range []struct {
		in   string
		next time.Time
		bad  bool
	}{
		{in: "15m", next: base.Add(15 * time.Minute)},
		{in: "@every 1h", next: base.Add(time.Hour)},
		{in: "*/5 * * * *", next: time.Date(2030, 1, 1, 10, 5, 0, 0, time.Local)},
		{in: "@hourly", next: time.Date(2030, 1, 1, 11, 0, 0, 0, time.Local)},
		{in: "10ms", bad: true},
		{in: "every day", bad: true},
	} {
		s, err := ParseSchedule(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := s.Next(base); !got.Equal(tc.next) {
			t.Errorf("%q: next %v, want %v", tc.in, got, tc.next)
		}
	}
}

func TestDeleteAndPrune(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	a, _ := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone})
	if _, err := h.e.Delete(ctx, a.ID[:8]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Resolve(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted backup resolves: %v", err)
	}
	rep, _, err := h.e.Prune(ctx)
	if err != nil || rep.Removed == 0 {
		t.Errorf("prune: %+v %v", rep, err)
	}
	if _, err := h.e.Resolve(ctx, "latest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("latest of an empty repository: %v", err)
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		data    []DataEntry
		l       Layers
		want    Level
		wantDat Level
	}{
		{nil, Layers{Config: true, Metadata: true}, LevelNone, LevelNone},
		{[]DataEntry{{Level: LevelDB}}, Layers{Config: true, Metadata: true}, LevelSystem, LevelDB},
		{[]DataEntry{{Level: LevelDB}}, Layers{Config: false, Metadata: true}, LevelDB, LevelDB},
		{[]DataEntry{{Level: LevelCrash}, {Level: LevelApp}}, Layers{Config: true, Metadata: true}, LevelCrash, LevelCrash},
		{[]DataEntry{{Level: LevelApp}, {Level: LevelApp}}, Layers{Config: true, Metadata: true}, LevelSystem, LevelApp},
	} {
		tc.l.Data = weakest(tc.data)
		if tc.l.Data != tc.wantDat {
			t.Errorf("%v: data level %s, want %s", tc.data, tc.l.Data, tc.wantDat)
		}
		if got := overallLevel(tc.l, len(tc.data) > 0); got != tc.want {
			t.Errorf("%v %+v: %s, want %s", tc.data, tc.l, got, tc.want)
		}
	}
}

func TestAutoWithoutDriverOrVolumes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	res, err := h.e.Backup(context.Background(), Request{Namespace: "shop", Selector: labels.SelectorFromSet(labels.Set{"nothing": "here"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Level != LevelNone || len(res.Manifest.Data) != 0 || !strings.Contains(strings.Join(res.Manifest.Warnings, ";"), "no bound PVC") {
		t.Errorf("level %s data %v warnings %v", res.Manifest.Level, res.Manifest.Data, res.Manifest.Warnings)
	}
	if _, err := h.e.Backup(context.Background(), Request{Namespace: "shop", Selector: shopSelector, Data: DataNative}); !errors.Is(err, ErrNoNativeBackup) {
		t.Errorf("native backup of an app without a driver: %v", err)
	}
}
