package backup

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
)

// journaledEngine is an engine on a fake API server (fake.Clientset stands
// in for Kubernetes) that journals its data movers into stateDir.
func journaledEngine(t *testing.T, kube *fake.Clientset, stateDir string) *Engine {
	t.Helper()
	j, err := journal.OpenJournal(stateDir, "backup-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	e, err := NewEngine(context.Background(), filepath.Join(t.TempDir(), "repo"), repo.GenerateKey(), kube, WithInit(),
		WithJournal(j, "backup-test", journal.Cluster{Kubeconfig: "/k/config"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// outstandingMovers is the journal's data-mover entry still to clean up.
func outstandingMovers(t *testing.T, stateDir, tok string) (journal.Entry, bool) {
	t.Helper()
	left, err := journal.Outstanding(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if e.ID == "data-movers-"+tok {
			return e, true
		}
	}
	return journal.Entry{}, false
}

func TestMoverKeySecretIsJournaledBeforeItExistsAndRecoveredAfter(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	kube := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	e := journaledEngine(t, kube, state)
	const tok = "ab12"
	var sawPending, sawAtPods bool
	kube.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		// A kill -9 right after this create must leave a journal entry that
		// names the Secret.
		en, ok := outstandingMovers(t, state, tok)
		sawPending = ok && en.State == journal.StatePending && len(en.Undo) == 2 &&
			en.Undo[1].Args["name"] == keySecretName(tok) && en.Cluster.Namespace == "shop" && en.Cluster.Kubeconfig == "/k/config"
		return false, nil, nil
	})
	kube.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		_, sawAtPods = outstandingMovers(t, state, tok)
		return false, nil, nil
	})
	kube.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.GetAction).GetName()
		return true, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, nil
	})
	jobs := []moverJob{{target: "data-shop-0", pod: e.moverPod("shop", tok, "data-shop-0", []string{"backup"})}}
	if err := e.runMovers(context.Background(), "shop", tok, jobs, func(Progress) {}); err != nil {
		t.Fatal(err)
	}
	if !sawPending {
		t.Error("the key secret was created before a pending journal entry with its undo steps was written")
	}
	if !sawAtPods {
		t.Error("the mover pods were created while the journal held no outstanding entry for them")
	}
	if en, ok := outstandingMovers(t, state, tok); ok {
		t.Errorf("after the movers finished and were deleted the entry is still %s", en.State)
	}
	if _, err := kube.CoreV1().Secrets("shop").Get(context.Background(), keySecretName(tok), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("key secret left: %v", err)
	}
}

// TestCleanupRemovesMoverSecretAndPodsLeftBehind: the engine cannot delete
// its movers (as after a kill -9, they stay); what `rebound cleanup` runs
// from the journal then deletes them. Fake clientsets stand in for the API
// server, the dynamic one holding the same Secret as the typed one.
func TestCleanupRemovesMoverSecretAndPodsLeftBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	state := t.TempDir()
	kube := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-0", Namespace: "shop"}})
	e := journaledEngine(t, kube, state)
	const tok = "cd34"
	kube.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.GetAction).GetName()
		return true, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, nil
	})
	gone := errors.New("the API server went away")
	kube.PrependReactor("delete", "*", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, gone })
	jobs := []moverJob{
		{target: "data-shop-0", pod: e.moverPod("shop", tok, "data-shop-0", []string{"backup"})},
		{target: "data-shop-1", pod: e.moverPod("shop", tok, "data-shop-1", []string{"backup"})},
	}
	if err := e.runMovers(ctx, "shop", tok, jobs, func(Progress) {}); err != nil {
		t.Fatal(err)
	}
	entry, ok := outstandingMovers(t, state, tok)
	if !ok || entry.State != journal.StateFailed {
		t.Fatalf("movers that could not be deleted: journal entry %+v (found %v), want failed, for cleanup to retry", entry, ok)
	}

	// What `rebound cleanup` does with the entry.
	k8sSecret, err := kube.CoreV1().Secrets("shop").Get(ctx, keySecretName(tok), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cleanupKube := fake.NewClientset()
	pods, _ := kube.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
	for i := range pods.Items {
		if _, err := cleanupKube.CoreV1().Pods("shop").Create(ctx, &pods.Items[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dyn := dynfake.NewSimpleDynamicClient(scheme.Scheme, k8sSecret)
	env := &faults.Env{Kube: cleanupKube, Dynamic: dyn, Namespace: entry.Cluster.Namespace}
	if err := faults.Recover(ctx, env, entry.Undo); err != nil {
		t.Fatal(err)
	}
	left, _ := cleanupKube.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
	if len(left.Items) != 1 || left.Items[0].Name != "shop-0" {
		var names []string
		for _, p := range left.Items {
			names = append(names, p.Name)
		}
		t.Errorf("pods after cleanup %v, want only the app's shop-0", names)
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace("shop").Get(ctx, keySecretName(tok), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("key secret after cleanup: %v, want not found", err)
	}
}
