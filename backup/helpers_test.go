package backup

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/backup/repo"
)

// harness is an engine on a fresh repository and a fake cluster.
type harness struct {
	e    *Engine
	kube *fake.Clientset
	dir  string
	key  []byte
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	key := repo.GenerateKey()
	kube := fake.NewClientset(objs...)
	e, err := NewEngine(context.Background(), dir, key, kube, WithInit(), WithRepoOptions(repo.WithWorkers(2)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &harness{e: e, kube: kube, dir: dir, key: key}
}

var appLabels = map[string]string{"app.kubernetes.io/name": "shop"}

// meta builds object metadata as the cluster returns it: with the
// cluster-assigned fields a backup must strip.
func meta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: ns, Labels: appLabels, UID: "uid-" + "name", ResourceVersion: "42", Generation: 3,
		CreationTimestamp: metav1.NewTime(time.Unix(1700000000, 0)),
		ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		OwnerReferences:   []metav1.OwnerReference{{APIVersion: "v1", Kind: "Thing", Name: "owner", UID: "o"}},
		Annotations:       map[string]string{"keep": "me", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
	}
}

// shopObjects is a small app with one object of every captured kind,
// plus objects a backup must leave out.
func shopObjects(ns string) []runtime.Object {
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": "shop"}, UID: "ns-uid"}},
		&corev1.ServiceAccount{ObjectMeta: meta(ns, "shop")},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns, Labels: appLabels}},
		&rbacv1.Role{ObjectMeta: meta(ns, "shop"), Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}},
		&rbacv1.RoleBinding{ObjectMeta: meta(ns, "shop"), RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "shop"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "shop", Namespace: ns}, {Kind: "ServiceAccount", Name: "other", Namespace: "elsewhere"}}},
		&corev1.ConfigMap{ObjectMeta: meta(ns, "shop-config"), Data: map[string]string{"mode": "fast"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns}, Data: map[string]string{"x": "y"}},
		&corev1.Secret{ObjectMeta: meta(ns, "shop-secret"), Data: map[string][]byte{"password": []byte("hunter2-plaintext")}},
		&corev1.Secret{ObjectMeta: meta(ns, "shop-token"), Type: corev1.SecretTypeServiceAccountToken},
		&corev1.Service{ObjectMeta: meta(ns, "shop"), Spec: corev1.ServiceSpec{
			ClusterIP: "10.0.0.7", ClusterIPs: []string{"10.0.0.7"}, Type: corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 31234, TargetPort: intstr.FromInt32(8080)}},
		}, Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}}}},
		&corev1.Service{ObjectMeta: meta(ns, "shop-headless"), Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}},
		&corev1.PersistentVolumeClaim{ObjectMeta: func() metav1.ObjectMeta {
			m := meta(ns, "data-shop-0")
			m.Annotations["pv.kubernetes.io/bind-completed"] = "yes"
			m.Annotations["volume.kubernetes.io/selected-node"] = "node-1"
			return m
		}(), Spec: corev1.PersistentVolumeClaimSpec{
			VolumeName: "pvc-123", AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		&policyv1.PodDisruptionBudget{ObjectMeta: meta(ns, "shop"), Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
		&appsv1.StatefulSet{ObjectMeta: meta(ns, "shop"), Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: appLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: appLabels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "shop", Image: "shop:1"}}}},
		}, Status: appsv1.StatefulSetStatus{ReadyReplicas: 2, Replicas: 2}},
	}
}
