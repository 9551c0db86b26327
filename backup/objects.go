package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/logging"
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

// DeleteNamespace deletes namespace ns and waits until it is gone, up to
// timeout; one that is gone already is no error. Drills' scratch namespaces
// and the demo app's redeploy both go through it.
func DeleteNamespace(ctx context.Context, kube kubernetes.Interface, ns string, timeout time.Duration) error {
	err := kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	defer logging.Heartbeat(ctx, "namespace "+ns+" to be deleted", timeout)()
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, nil // still terminating, or a passing error: look again
	})
	if err != nil {
		return fmt.Errorf("namespace %s still there after %s", ns, timeout)
	}
	return nil
}
