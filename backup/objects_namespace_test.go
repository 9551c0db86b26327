package backup

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A fake API server stands in for the cluster: it deletes a namespace at
// once, where a real one finalizes it first.
func TestDeleteNamespaceWaitsUntilGone(t *testing.T) {
	kube := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scratch"}})
	if err := DeleteNamespace(context.Background(), kube, "scratch", 5*time.Second); err != nil {
		t.Fatalf("delete an existing namespace: %v", err)
	}
	if _, err := kube.CoreV1().Namespaces().Get(context.Background(), "scratch", metav1.GetOptions{}); err == nil {
		t.Error("the namespace is still there")
	}
	if err := DeleteNamespace(context.Background(), kube, "never-was", 5*time.Second); err != nil {
		t.Errorf("a namespace that is gone already: %v, want no error", err)
	}
}
