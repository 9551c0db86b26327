package faults

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/netfault"
	"github.com/reboundhq/rebound/scenarios"
)

// TestDeletePodsAndSecretUndoWithFakeAPIServer: fake clientsets stand in
// for the API server that `rebound cleanup` reaches after a crashed backup.
func TestDeletePodsAndSecretUndoWithFakeAPIServer(t *testing.T) {
	ctx := context.Background()
	pod := func(name string, l map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: l}}
	}
	mine := map[string]string{"rebound.dev/mover-group": "ab12"}
	kube := fake.NewClientset(pod("mover-a", mine), pod("mover-b", mine),
		pod("app-0", map[string]string{"app": "shop"}), pod("mover-other", map[string]string{"rebound.dev/mover-group": "cd34"}))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rebound-key-ab12", Namespace: "shop"}}
	dyn := dynfake.NewSimpleDynamicClient(scheme.Scheme, secret)
	env := &Env{Kube: kube, Dynamic: dyn}

	for range 2 { // idempotent: the second run finds nothing and succeeds
		if err := RunUndo(ctx, env, DeletePodsUndo("shop", "rebound.dev/mover-group=ab12")); err != nil {
			t.Fatalf("delete pods: %v", err)
		}
		if err := RunUndo(ctx, env, DeleteObjectUndo("", "v1", "secrets", "shop", "rebound-key-ab12")); err != nil {
			t.Fatalf("delete secret: %v", err)
		}
	}
	left, _ := kube.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
	var names []string
	for _, p := range left.Items {
		names = append(names, p.Name)
	}
	if len(names) != 2 || names[0] != "app-0" || names[1] != "mover-other" {
		t.Errorf("pods left %v, want only the app's and another backup's mover", names)
	}
	_, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace("shop").Get(ctx, "rebound-key-ab12", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the key secret is still there: %v", err)
	}
	for _, sel := range []string{"", "  ", "a in ("} {
		if err := RunUndo(ctx, env, DeletePodsUndo("shop", sel)); err == nil {
			t.Errorf("selector %q accepted: it must be a non-empty label selector", sel)
		}
	}
}

func TestLabZonePartitionPlansARealPartition(t *testing.T) {
	e, _ := env(t)
	e.Lab = lab.New(lab.Options{Name: "plan-test", StateDir: t.TempDir()}, nil)
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultZonePartition, Via: scenarios.ViaLab, Zone: "a", Duration: 30 * time.Second})
	if len(p.Undo) != 1 || p.Undo[0].Kind != undoLabNet {
		t.Fatalf("undo = %+v, want one %s step", p.Undo, undoLabNet)
	}
	id := p.Undo[0].Args["id"]
	if !strings.HasPrefix(id, "zone-partition-") || !strings.Contains(p.Description, id) || strings.Contains(p.Description, "freeze") {
		t.Errorf("plan %q with undo id %q: want a partition naming its fault ID, no freeze", p.Description, id)
	}
	if err := (netfault.Fault{Kind: netfault.Partition, ID: netfault.ID(id), From: []netip.Prefix{netip.MustParsePrefix("10.1.1.0/24")}}).Validate(); err != nil {
		t.Errorf("fault ID %q is not a valid network fault ID: %v", id, err)
	}
	// Another scenario of the run partitions under another ID.
	e.Scenario = "other"
	if other := plan(t, e, scenarios.Fault{Kind: scenarios.FaultZonePartition, Via: scenarios.ViaLab, Zone: "a", Duration: time.Second}); other.Undo[0].Args["id"] == id {
		t.Errorf("two scenarios share the fault ID %s", id)
	}
	// Undo of a fault that was never applied (the run died first) is done:
	// the lab has no record and no rule of it.
	if err := RunUndo(context.Background(), e, LabNetHealUndo(netfault.ID(id))); err != nil {
		t.Errorf("undo of a fault never applied: %v", err)
	}
}
