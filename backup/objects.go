package backup

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// ObjectExists reports whether the object of a captured kind (its group
// resource, as in ResourceEntry.Resource) named name exists in ns.
func ObjectExists(ctx context.Context, kube kubernetes.Interface, resource, ns, name string) (bool, error) {
	k, ok := kindOf(resource)
	if !ok {
		return false, fmt.Errorf("%s %s: this build does not know the kind", resource, name)
	}
	_, err := k.client(kube, ns).get(ctx, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// DeleteObject deletes the object of a captured kind named name in ns, its
// dependents in the background; one that is gone already is no error.
func DeleteObject(ctx context.Context, kube kubernetes.Interface, resource, ns, name string) error {
	k, ok := kindOf(resource)
	if !ok {
		return fmt.Errorf("%s %s: this build does not know the kind", resource, name)
	}
	bg := metav1.DeletePropagationBackground
	err := k.client(kube, ns).delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// GroupVersionResource is the API resource of a captured kind, for a
// journal's delete step.
func GroupVersionResource(resource string) (schema.GroupVersionResource, bool) {
	k, ok := kindOf(resource)
	if !ok {
		return schema.GroupVersionResource{}, false
	}
	gv, err := schema.ParseGroupVersion(k.APIVersion)
	if err != nil {
		return schema.GroupVersionResource{}, false
	}
	plural, _, _ := strings.Cut(k.Resource, ".")
	return gv.WithResource(plural), true
}
