package backup

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// layer is the part of the app an object belongs to.
type layer int

const (
	layerMetadata layer = iota
	layerConfig
)

// kindInfo is one kind of object the engine captures and restores. The
// table is in restore (dependency) order: identities and RBAC first, then
// config, services and claims, then budgets, then the workloads that use
// all of them.
type kindInfo struct {
	Resource   string // group resource, as in ResourceSelector
	Kind       string
	APIVersion string
	Layer      layer
	list       func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error)
	client     func(k kubernetes.Interface, ns string) objClient
}

// Group resources of the captured kinds.
const (
	ResServiceAccounts = "serviceaccounts"
	ResRoles           = "roles.rbac.authorization.k8s.io"
	ResRoleBindings    = "rolebindings.rbac.authorization.k8s.io"
	ResConfigMaps      = "configmaps"
	ResSecrets         = "secrets"
	ResServices        = "services"
	ResPVCs            = "persistentvolumeclaims"
	ResPDBs            = "poddisruptionbudgets.policy"
	ResStatefulSets    = "statefulsets.apps"
	ResDeployments     = "deployments.apps"
)

var kinds = []kindInfo{
	{ResServiceAccounts, "ServiceAccount", "v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.CoreV1().ServiceAccounts(ns).List(ctx, o)
			return items(l, err, func(l *corev1.ServiceAccountList) []corev1.ServiceAccount { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[corev1.ServiceAccount]{k.CoreV1().ServiceAccounts(ns)}
		}},
	{ResRoles, "Role", "rbac.authorization.k8s.io/v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.RbacV1().Roles(ns).List(ctx, o)
			return items(l, err, func(l *rbacv1.RoleList) []rbacv1.Role { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient { return typed[rbacv1.Role]{k.RbacV1().Roles(ns)} }},
	{ResRoleBindings, "RoleBinding", "rbac.authorization.k8s.io/v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.RbacV1().RoleBindings(ns).List(ctx, o)
			return items(l, err, func(l *rbacv1.RoleBindingList) []rbacv1.RoleBinding { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[rbacv1.RoleBinding]{k.RbacV1().RoleBindings(ns)}
		}},
	{ResConfigMaps, "ConfigMap", "v1", layerConfig,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.CoreV1().ConfigMaps(ns).List(ctx, o)
			return items(l, err, func(l *corev1.ConfigMapList) []corev1.ConfigMap { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[corev1.ConfigMap]{k.CoreV1().ConfigMaps(ns)}
		}},
	{ResSecrets, "Secret", "v1", layerConfig,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.CoreV1().Secrets(ns).List(ctx, o)
			return items(l, err, func(l *corev1.SecretList) []corev1.Secret { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient { return typed[corev1.Secret]{k.CoreV1().Secrets(ns)} }},
	{ResServices, "Service", "v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.CoreV1().Services(ns).List(ctx, o)
			return items(l, err, func(l *corev1.ServiceList) []corev1.Service { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[corev1.Service]{k.CoreV1().Services(ns)}
		}},
	{ResPVCs, "PersistentVolumeClaim", "v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.CoreV1().PersistentVolumeClaims(ns).List(ctx, o)
			return items(l, err, func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[corev1.PersistentVolumeClaim]{k.CoreV1().PersistentVolumeClaims(ns)}
		}},
	{ResPDBs, "PodDisruptionBudget", "policy/v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.PolicyV1().PodDisruptionBudgets(ns).List(ctx, o)
			return items(l, err, func(l *policyv1.PodDisruptionBudgetList) []policyv1.PodDisruptionBudget { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[policyv1.PodDisruptionBudget]{k.PolicyV1().PodDisruptionBudgets(ns)}
		}},
	{ResStatefulSets, "StatefulSet", "apps/v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.AppsV1().StatefulSets(ns).List(ctx, o)
			return items(l, err, func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[appsv1.StatefulSet]{k.AppsV1().StatefulSets(ns)}
		}},
	{ResDeployments, "Deployment", "apps/v1", layerMetadata,
		func(ctx context.Context, k kubernetes.Interface, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
			l, err := k.AppsV1().Deployments(ns).List(ctx, o)
			return items(l, err, func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items })
		},
		func(k kubernetes.Interface, ns string) objClient {
			return typed[appsv1.Deployment]{k.AppsV1().Deployments(ns)}
		}},
}

// kindOf finds a kind by group resource.
func kindOf(resource string) (kindInfo, bool) {
	for _, k := range kinds {
		if k.Resource == resource {
			return k, true
		}
	}
	return kindInfo{}, false
}

// restoreRank orders resources for a restore: the position in kinds.
func restoreRank(resource string) int {
	for i, k := range kinds {
		if k.Resource == resource {
			return i
		}
	}
	return len(kinds)
}

func items[L any, T any, PT interface {
	*T
	runtime.Object
}](l *L, err error, get func(*L) []T) ([]runtime.Object, error) {
	if err != nil {
		return nil, err
	}
	src := get(l)
	out := make([]runtime.Object, len(src))
	for i := range src {
		out[i] = PT(&src[i])
	}
	return out, nil
}

// objClient is the handful of calls a restore makes on one kind, on
// unstructured objects.
type objClient interface {
	create(ctx context.Context, u *unstructured.Unstructured) error
	get(ctx context.Context, name string) (*unstructured.Unstructured, error)
	update(ctx context.Context, u *unstructured.Unstructured) error
	delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// typedClient is what client-go's typed clients have in common.
type typedClient[T any] interface {
	Create(ctx context.Context, obj *T, opts metav1.CreateOptions) (*T, error)
	Update(ctx context.Context, obj *T, opts metav1.UpdateOptions) (*T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

type typed[T any] struct{ c typedClient[T] }

func (t typed[T]) create(ctx context.Context, u *unstructured.Unstructured) error {
	obj := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return err
	}
	_, err := t.c.Create(ctx, obj, metav1.CreateOptions{})
	return err
}

func (t typed[T]) update(ctx context.Context, u *unstructured.Unstructured) error {
	obj := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return err
	}
	_, err := t.c.Update(ctx, obj, metav1.UpdateOptions{})
	return err
}

func (t typed[T]) get(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	obj, err := t.c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func (t typed[T]) delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return t.c.Delete(ctx, name, opts)
}

// toUnstructured converts a typed object, setting the apiVersion and kind
// that typed list items lack.
func toUnstructured(obj runtime.Object, k kindInfo) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(k.APIVersion)
	u.SetKind(k.Kind)
	return u, nil
}
