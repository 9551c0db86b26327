package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/apps"
)

func patroniSTS(env []corev1.EnvVar, mountPath string) *unstructured.Unstructured {
	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{Kind: "StatefulSet", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: "src"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pg"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(101)), FSGroup: ptr.To(int64(104))},
				Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pg"}},
				}}}},
				Containers: []corev1.Container{
					{Name: "exporter"},
					{Name: "patroni", Env: env, VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: mountPath}, {Name: "run", MountPath: "/run"}}},
				},
			}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(sts)
	if err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func baseBackupData(t *testing.T, p BackupParams) apps.NativeData {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return apps.NativeData{Kind: KindBaseBackup, Objects: []string{ObjectBase, ObjectManifest, ObjectWAL}, Params: b}
}

func TestPlanRestore(t *testing.T) {
	pgdataEnv := []corev1.EnvVar{{Name: EnvDataDir, Value: "/home/postgres/pgdata/pgroot/data"}}
	existing := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-pg-2", Namespace: "dst"}}
	kube := fake.NewClientset(existing)
	in := apps.RestoreInput{
		Data: baseBackupData(t, BackupParams{Timeline: 1, SystemID: "1"}), BackupID: "abc123",
		Objects:         []*unstructured.Unstructured{patroniSTS(pgdataEnv, "/home/postgres/pgdata")},
		SourceNamespace: "src", TargetNamespace: "dst", Kube: kube,
	}
	plan, err := PlanRestore(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, m := range plan.Movers {
		targets = append(targets, m.Target)
	}
	// Member 0 gets the backup; member 2's existing claim is emptied;
	// member 1 has no claim, so nothing to clear.
	if !slices.Equal(targets, []string{"data-pg-0", "data-pg-2"}) {
		t.Fatalf("movers for %v", targets)
	}
	m0 := plan.Movers[0]
	args := strings.Join(m0.Args, " ")
	for _, want := range []string{"restore-archive --backup=abc123", "--object=postgres/base.tar=.", "--object=postgres/pg_wal.tar=pg_wal", "--owner=101:104", "--volume-group=104", "--volume-root=/home/postgres/pgdata", "--dir=/home/postgres/pgdata/pgroot/data"} {
		if !strings.Contains(args, want) {
			t.Errorf("member 0 mover args %q lack %q", args, want)
		}
	}
	if strings.Contains(strings.Join(plan.Movers[1].Args, " "), "--object") {
		t.Errorf("member 2 mover extracts data: %v", plan.Movers[1].Args)
	}
	if m0.Claim.Namespace != "dst" || m0.Claim.Labels["app"] != "pg" || m0.Claim.Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("claim %+v", m0.Claim)
	}
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mover"}}}}
	m0.Pod(p)
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-pg-0" ||
		p.Spec.Containers[0].VolumeMounts[0].MountPath != "/home/postgres/pgdata" {
		t.Errorf("mover pod volumes %+v mounts %+v", p.Spec.Volumes, p.Spec.Containers[0].VolumeMounts)
	}
	if p.Spec.SecurityContext != nil {
		t.Errorf("mover pod runs as %+v: it must read the repository as the engine's pods do, and give the files to the app's user with --owner", p.Spec.SecurityContext)
	}
	if p.Spec.Affinity != nil {
		t.Errorf("mover pod got the app's pod anti-affinity: %+v", p.Spec.Affinity)
	}
}

func TestPlanRestoreRefuses(t *testing.T) {
	ok := baseBackupData(t, BackupParams{Timeline: 1})
	tests := []struct {
		name    string
		data    apps.NativeData
		objects []*unstructured.Unstructured
		want    string
		is      error
	}{
		{name: "no Patroni container", data: ok, objects: []*unstructured.Unstructured{patroniSTS(nil, "/data")}, want: "PATRONI_POSTGRESQL_DATA_DIR", is: ErrNotPatroni},
		{name: "PGDATA on no claim", data: ok, objects: []*unstructured.Unstructured{patroniSTS([]corev1.EnvVar{{Name: EnvDataDir, Value: "/var/lib/pg"}}, "/data")}, want: "on no volume from the StatefulSet's volumeClaimTemplates"},
		{name: "PGDATA is the mount point", data: ok, objects: []*unstructured.Unstructured{patroniSTS([]corev1.EnvVar{{Name: EnvDataDir, Value: "/data"}}, "/data")}, want: "put it in a subdirectory"},
		{name: "tablespaces", data: baseBackupData(t, BackupParams{Tablespaces: []Tablespace{{OID: 16400, Location: "/ts1"}}}), want: "tablespaces outside the data directory (/ts1)"},
		{name: "no WAL", data: apps.NativeData{Kind: KindBaseBackup, Objects: []string{ObjectBase}, Params: ok.Params}, want: "lacks postgres/pg_wal.tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PlanRestore(context.Background(), apps.RestoreInput{Data: tc.data, Objects: tc.objects, TargetNamespace: "dst"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
		})
	}
}

func TestIsRuntimeState(t *testing.T) {
	obj := func(kind, name string, labels, ann map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetName(name)
		u.SetLabels(labels)
		u.SetAnnotations(ann)
		return u
	}
	scope := map[string]string{"cluster-name": "demo", "application": "patroni"}
	custom := map[string]string{"patroni-scope": "demo"}
	tests := []struct {
		u    *unstructured.Unstructured
		want bool
	}{
		{obj("ConfigMap", "demo-leader", scope, nil), true},
		// The initialize key and dynamic configuration stay with the
		// backup: see IsRuntimeState.
		{obj("ConfigMap", "demo-config", scope, map[string]string{"config": "{}", "initialize": "1"}), false},
		{obj("ConfigMap", "demo-failover", scope, nil), true},
		{obj("ConfigMap", "demo-sync", scope, nil), true},
		{obj("Endpoints", "demo", scope, map[string]string{"leader": "demo-0"}), true},
		{obj("ConfigMap", "demo-leader", custom, map[string]string{"leader": "demo-0", "renewTime": "x"}), true},
		// A user's own ConfigMap named like one, without Patroni's marks.
		{obj("ConfigMap", "demo-leader", map[string]string{"app": "demo"}, map[string]string{"note": "x"}), false},
		{obj("ConfigMap", "demo-settings", scope, nil), false},
		{obj("Service", "demo", scope, nil), false},
		{obj("Secret", "demo-config", scope, nil), false},
	}
	for _, tc := range tests {
		if got := IsRuntimeState(tc.u); got != tc.want {
			t.Errorf("IsRuntimeState(%s %s %v) = %v, want %v", tc.u.GetKind(), tc.u.GetName(), tc.u.GetLabels(), got, tc.want)
		}
	}
}
