package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
)

func TestCleanupRunsUndoAndRecordsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _ := journal.OpenJournal(dir, "run-2")
	j.Write(journal.Entry{ID: "run-2/x", Run: "run-2", Scenario: "x", Description: "cordon n1", State: journal.StateApplied,
		Undo: []journal.Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}, Describe: "uncordon node n1"}}})
	j.Write(journal.Entry{ID: "run-2/y", Run: "run-2", Scenario: "y", Description: "bogus", State: journal.StateApplied,
		Undo: []journal.Undo{{Kind: "no-such-undo", Describe: "something from the future"}}})
	j.Close()
	// A fake API server stands in for the cluster; n1 does not exist, which
	// uncordon treats as nothing to do.
	env := &faults.Env{Kube: fake.NewClientset()}
	res, err := Cleanup(context.Background(), dir, func(journal.Cluster) (*faults.Env, error) { return env, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recovered) != 1 || !strings.Contains(res.Recovered[0], "cordon n1") {
		t.Errorf("recovered = %v", res.Recovered)
	}
	if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "no-such-undo") {
		t.Errorf("failed = %v, want the unknown undo named", res.Failed)
	}
	left, _ := journal.Outstanding(dir)
	if len(left) != 1 || left[0].Scenario != "y" || left[0].State != journal.StateFailed {
		t.Errorf("after cleanup outstanding = %+v, want only y, failed", left)
	}
	// Cleanup cannot reach a cluster: nothing is marked recovered.
	res, _ = Cleanup(context.Background(), dir, func(journal.Cluster) (*faults.Env, error) { return nil, errors.New("unreachable") })
	if len(res.Failed) != 1 || len(res.Recovered) != 0 {
		t.Errorf("unreachable cluster: %+v", res)
	}
}

// An entry of a lab that has been brought down since is closed, not failed
// for ever: everything of the lab, its faults included, went down with it.
func TestCleanupClosesEntriesOfAClusterThatIsGone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _ := journal.OpenJournal(dir, "run-3")
	j.Write(journal.Entry{ID: "run-3/x", Run: "run-3", Scenario: "x", Description: "stop node n1", State: journal.StateApplied,
		Cluster: journal.Cluster{Lab: "old"}, Undo: []journal.Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}}}})
	j.Close()
	gone := func(c journal.Cluster) (*faults.Env, error) {
		return nil, fmt.Errorf("%w: lab %q is down", ErrClusterGone, c.Lab)
	}
	res, err := Cleanup(context.Background(), dir, gone)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gone) != 1 || len(res.Failed) != 0 || len(res.Recovered) != 0 || !strings.Contains(res.Gone[0], `lab "old" is down`) {
		t.Errorf("result %+v, want the entry gone with its lab, saying so", res)
	}
	if left, _ := journal.Outstanding(dir); len(left) != 0 {
		t.Errorf("outstanding after cleanup: %+v, want none", left)
	}
}

// A run still going holds its journal: cleanup leaves its faults alone,
// and rolls them back once the run is gone.
func TestCleanupLeavesALiveRunAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live, err := journal.OpenJournal(dir, "run-live")
	if err != nil {
		t.Fatal(err)
	}
	live.Write(journal.Entry{ID: "run-live/x", Run: "run-live", Scenario: "x", Description: "cordon n1", State: journal.StateApplied,
		Undo: []journal.Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}}}})
	env := &faults.Env{Kube: fake.NewClientset()}
	envFor := func(journal.Cluster) (*faults.Env, error) { return env, nil }
	res, err := Cleanup(context.Background(), dir, envFor)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Running) != 1 || res.Running[0] != "run-live" || len(res.Recovered) != 0 {
		t.Errorf("result %+v, want run-live left alone", res)
	}
	live.Close() // the run ends (or is killed: the kernel drops its lock)
	res, _ = Cleanup(context.Background(), dir, envFor)
	if len(res.Recovered) != 1 || len(res.Running) != 0 {
		t.Errorf("after the run ended: %+v, want its fault rolled back", res)
	}
}

// After a kill -9 mid-restore of a region loss, cleanup rolls back both
// clusters, each through its own API server: the target's node uncordoned
// there, the DR copy's namespace deleted in the DR cluster only (a
// namespace of the same name in the target's cluster is the app's own and
// stays).
func TestCleanupRollsBackBothClustersOfARun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _ := journal.OpenJournal(dir, "run-dr")
	j.Write(journal.Entry{ID: "run-dr/region", Run: "run-dr", Scenario: "region", Description: "cordon n1", State: journal.StateApplied,
		Cluster: journal.Cluster{Context: "target", Namespace: "demo"},
		Undo:    []journal.Undo{{Kind: "uncordon", Args: map[string]string{"node": "n1"}, Describe: "uncordon node n1"}}})
	j.Write(journal.Entry{ID: "run-dr/region/dr", Run: "run-dr", Scenario: "region", Description: "the DR copy", State: journal.StatePending,
		Cluster: journal.Cluster{Context: "dr", Namespace: "demo"},
		Undo:    []journal.Undo{faults.DeleteObjectUndo("", "v1", "namespaces", "", "demo")}})
	j.Close()

	type cluster struct {
		kube *fake.Clientset
		dyn  *dynfake.FakeDynamicClient
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "demo"}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Unschedulable: true}}
	// Fake API servers stand in for the two clusters; both hold namespace demo.
	clusters := map[string]cluster{
		"target": {fake.NewClientset(node), dynfake.NewSimpleDynamicClient(runtime.NewScheme(), ns.DeepCopy())},
		"dr":     {fake.NewClientset(), dynfake.NewSimpleDynamicClient(runtime.NewScheme(), ns.DeepCopy())},
	}
	res, err := Cleanup(context.Background(), dir, func(c journal.Cluster) (*faults.Env, error) {
		cl, ok := clusters[c.Context]
		if !ok {
			return nil, fmt.Errorf("no cluster %q", c.Context)
		}
		return &faults.Env{Kube: cl.kube, Dynamic: cl.dyn, Namespace: c.Namespace}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recovered) != 2 || len(res.Failed) != 0 {
		t.Fatalf("result %+v, want both rolled back", res)
	}
	n, _ := clusters["target"].kube.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Error("node n1 of the target's cluster is still cordoned")
	}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := clusters["dr"].dyn.Resource(gvr).Get(context.Background(), "demo", metav1.GetOptions{}); err == nil {
		t.Error("the DR copy's namespace is still there")
	}
	if _, err := clusters["target"].dyn.Resource(gvr).Get(context.Background(), "demo", metav1.GetOptions{}); err != nil {
		t.Errorf("the target's namespace demo was deleted: cleanup acted in the wrong cluster (%v)", err)
	}
	if left, _ := journal.Outstanding(dir); len(left) != 0 {
		t.Errorf("outstanding after cleanup: %+v", left)
	}
}
