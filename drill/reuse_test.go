package drill

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
)

func meta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

// A namespace to reuse must exist and hold no workloads or claims; the
// refusal names what is there and how to clear it.
func TestCheckReusable(t *testing.T) {
	t.Parallel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "drills"}}
	// What every namespace holds, and the chart's own Role: no obstacle.
	everyday := []runtime.Object{ns, &corev1.ServiceAccount{ObjectMeta: meta("drills", "default")},
		&corev1.ConfigMap{ObjectMeta: meta("drills", "kube-root-ca.crt")}, &rbacv1.Role{ObjectMeta: meta("drills", "rebound-drill")}}
	tests := []struct {
		name    string
		objects []runtime.Object
		want    string // "" for reusable
	}{
		{"empty but for what every namespace holds", everyday, ""},
		{"missing", nil, "namespace drills does not exist"},
		{"a StatefulSet left", append(slices.Clone(everyday), &appsv1.StatefulSet{ObjectMeta: meta("drills", "etcd")}), "StatefulSet/etcd"},
		{"a Deployment left", append(slices.Clone(everyday), &appsv1.Deployment{ObjectMeta: meta("drills", "web")}), "Deployment/web"},
		{"a claim left", append(slices.Clone(everyday), &corev1.PersistentVolumeClaim{ObjectMeta: meta("drills", "data-etcd-0")}), "PersistentVolumeClaim/data-etcd-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkReusable(context.Background(), fake.NewClientset(tt.objects...), "drills")
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v: want a refusal saying %q", err, tt.want)
			}
		})
	}
}

// After a drill into a reused namespace, the backup's objects and the
// claims are gone, and everything else (the namespace, its Role, its
// defaults) stays; the journal's undo names the same objects.
func TestDeleteRestoredLeavesTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &backup.Manifest{Resources: []backup.ResourceEntry{
		{Resource: backup.ResConfigMaps, Kind: "ConfigMap", Name: "etcd-config"},
		{Resource: backup.ResServices, Kind: "Service", Name: "etcd"},
		{Resource: backup.ResStatefulSets, Kind: "StatefulSet", Name: "etcd"},
		{Resource: backup.ResPVCs, Kind: "PersistentVolumeClaim", Name: "data-etcd-0"},
		{Resource: "widgets.example.com", Kind: "Widget", Name: "skipped"},
	}}
	kube := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "drills"}},
		&rbacv1.Role{ObjectMeta: meta("drills", "rebound-drill")},
		&corev1.ConfigMap{ObjectMeta: meta("drills", "kube-root-ca.crt")},
		&corev1.ConfigMap{ObjectMeta: meta("drills", "etcd-config")},
		&corev1.Service{ObjectMeta: meta("drills", "etcd")},
		&appsv1.StatefulSet{ObjectMeta: meta("drills", "etcd")},
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("drills", "data-etcd-0")},
		// made by the StatefulSet from its template, not in the backup
		&corev1.PersistentVolumeClaim{ObjectMeta: meta("drills", "data-etcd-1")},
		// another namespace's object of the same name
		&corev1.ConfigMap{ObjectMeta: meta("rebound-demo", "etcd-config")},
	)
	if err := checkNoneOf(ctx, kube, "drills", m); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "StatefulSet/etcd") {
		t.Errorf("restore over the backup's own objects: %v, want a refusal naming them", err)
	}
	if err := deleteRestored(ctx, kube, "drills", m, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := checkNoneOf(ctx, kube, "drills", m); err != nil {
		t.Errorf("after the deletion: %v", err)
	}
	if err := checkReusable(ctx, kube, "drills"); err != nil {
		t.Errorf("the namespace is not reusable after the deletion: %v", err)
	}
	for _, c := range []struct{ ns, name string }{{"drills", "kube-root-ca.crt"}, {"rebound-demo", "etcd-config"}} {
		if _, err := kube.CoreV1().ConfigMaps(c.ns).Get(ctx, c.name, metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s/%s, not the restore's: %v", c.ns, c.name, err)
		}
	}
	if _, err := kube.RbacV1().Roles("drills").Get(ctx, "rebound-drill", metav1.GetOptions{}); err != nil {
		t.Errorf("the namespace's Role: %v", err)
	}
	if _, err := kube.CoreV1().Namespaces().Get(ctx, "drills", metav1.GetOptions{}); err != nil {
		t.Errorf("the namespace: %v", err)
	}

	var steps []string
	for _, u := range objectUndo("drills", m) {
		steps = append(steps, u.Describe)
	}
	want := []string{"delete statefulsets drills/etcd", "delete configmaps drills/etcd-config", "delete services drills/etcd", "delete persistentvolumeclaims drills/data-etcd-0"}
	if !slices.Equal(steps, want) {
		t.Errorf("journal undo %q, want %q (workloads first, unknown kinds left out)", steps, want)
	}
}

// A drill with --reuse-namespace into a namespace with a workload left is
// refused before anything is read or restored.
func TestRunReuseRefusesANamespaceInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kube := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "drills"}},
		&appsv1.StatefulSet{ObjectMeta: meta("drills", "etcd")})
	e, err := backup.NewEngine(ctx, filepath.Join(t.TempDir(), "repo"), repo.GenerateKey(), kube, backup.WithInit())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	o := Options{Backup: "latest", Target: e, TargetKube: kube, OnLab: true, AllowNamespaces: []string{"drills"}, Namespace: "drills", ReuseNamespace: true}
	if _, err := Run(ctx, o); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "StatefulSet/etcd") {
		t.Errorf("drill into a namespace in use: %v, want a refusal naming the StatefulSet", err)
	}
	o.Namespace, o.AllowNamespaces = "absent", []string{"absent"}
	if _, err := Run(ctx, o); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "namespace absent does not exist") {
		t.Errorf("drill into a namespace that does not exist: %v, want a refusal", err)
	}
}
