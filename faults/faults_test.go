package faults

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/scenarios"
)

// driverDouble stands in for an app driver: it names a leader and records
// app-level deletes.
type driverDouble struct {
	apps.Driver
	leader  string
	deleted []string
}

func (d *driverDouble) Leader(context.Context) (string, error) { return d.leader, nil }
func (d *driverDouble) DeleteData(_ context.Context, target string) (int, error) {
	d.deleted = append(d.deleted, target)
	return 7, nil
}

func node(name, zone string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyZone: zone}}}
}

func pod(name, nodeName string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "etcd"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "StatefulSet", Name: "etcd"}}},
		Spec: corev1.PodSpec{NodeName: nodeName, Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-" + name}}}}},
	}
}

// env is a cluster of two zones and three etcd pods, with a fake API server
// standing in for Kubernetes and a fake dynamic client for Chaos Mesh.
func env(t *testing.T) (*Env, *driverDouble) {
	t.Helper()
	d := &driverDouble{leader: "etcd-1"}
	objs := []runtime.Object{
		node("n-a1", "a"), node("n-a2", "a"), node("n-b1", "b"),
		pod("etcd-0", "n-a1"), pod("etcd-1", "n-b1"), pod("etcd-2", "n-a2"),
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: "demo"}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3)}},
	}
	return &Env{
		Kube: fake.NewClientset(objs...), Dynamic: dynfake.NewSimpleDynamicClient(runtime.NewScheme()),
		Driver: d, Namespace: "demo", Selector: labels.SelectorFromSet(map[string]string{"app": "etcd"}),
		RunID: "r1", Scenario: "s", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
	}, d
}

func plan(t *testing.T, e *Env, f scenarios.Fault) *Plan {
	t.Helper()
	inj, err := For(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := inj.Plan(context.Background(), e)
	if err != nil {
		t.Fatalf("plan %s: %v", f.Kind, err)
	}
	return p
}

func TestNodeDrainCordonsEvictsAndUndoUncordons(t *testing.T) {
	t.Parallel()
	e, _ := env(t)
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultNodeDrain, Leader: true})
	if p.Targets[0] != "n-b1" {
		t.Fatalf("drain targets %v, want the leader's node n-b1", p.Targets)
	}
	if err := Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	n, _ := e.Kube.CoreV1().Nodes().Get(context.Background(), "n-b1", metav1.GetOptions{})
	if !n.Spec.Unschedulable {
		t.Error("node not cordoned")
	}
	var evicted []string
	for _, a := range e.Kube.(*fake.Clientset).Actions() {
		if a.GetSubresource() == "eviction" {
			evicted = append(evicted, a.GetNamespace())
		}
	}
	if len(evicted) != 1 {
		t.Errorf("%d evictions through the Eviction API, want 1 (the one pod on the node)", len(evicted))
	}
	if err := Recover(context.Background(), e, p.Undo); err != nil {
		t.Fatal(err)
	}
	n, _ = e.Kube.CoreV1().Nodes().Get(context.Background(), "n-b1", metav1.GetOptions{})
	if n.Spec.Unschedulable {
		t.Error("undo did not uncordon")
	}
	// Undo is idempotent.
	if err := Recover(context.Background(), e, p.Undo); err != nil {
		t.Errorf("second undo: %v", err)
	}
}

func TestNodeTaintAndUndo(t *testing.T) {
	t.Parallel()
	e, _ := env(t)
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultNodeTaint, Node: "n-a1"})
	if err := Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	n, _ := e.Kube.CoreV1().Nodes().Get(context.Background(), "n-a1", metav1.GetOptions{})
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Effect != corev1.TaintEffectNoExecute {
		t.Fatalf("taints %v, want one NoExecute", n.Spec.Taints)
	}
	if err := Recover(context.Background(), e, p.Undo); err != nil {
		t.Fatal(err)
	}
	n, _ = e.Kube.CoreV1().Nodes().Get(context.Background(), "n-a1", metav1.GetOptions{})
	if len(n.Spec.Taints) != 0 {
		t.Errorf("taints left after undo: %v", n.Spec.Taints)
	}
}

func TestOneShotFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("pod-kill deletes the leader's pod", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultPodKill, Leader: true})
		if !p.OneShot() {
			t.Error("pod-kill has an undo")
		}
		if err := Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Kube.CoreV1().Pods("demo").Get(ctx, "etcd-1", metav1.GetOptions{}); err == nil {
			t.Error("leader pod still there")
		}
	})
	t.Run("scale-to-zero", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		if err := Apply(ctx, plan(t, e, scenarios.Fault{Kind: scenarios.FaultScaleToZero})); err != nil {
			t.Fatal(err)
		}
		sts, _ := e.Kube.AppsV1().StatefulSets("demo").Get(ctx, "etcd", metav1.GetOptions{})
		if *sts.Spec.Replicas != 0 {
			t.Errorf("replicas %d", *sts.Spec.Replicas)
		}
	})
	t.Run("app-delete goes through the driver", func(t *testing.T) {
		t.Parallel()
		e, d := env(t)
		if err := Apply(ctx, plan(t, e, scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Prefix: "/x/"}})); err != nil {
			t.Fatal(err)
		}
		if len(d.deleted) != 1 || d.deleted[0] != "/x/" {
			t.Errorf("deleted %v", d.deleted)
		}
	})
	t.Run("pvc-delete-all names every claim", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultPVCDeleteAll})
		if strings.Join(p.Targets, ",") != "data-etcd-0,data-etcd-1,data-etcd-2" {
			t.Errorf("targets %v", p.Targets)
		}
	})
}

func TestLabFaultsOutsideTheLabSayWhatToUse(t *testing.T) {
	t.Parallel()
	for _, k := range []scenarios.FaultKind{scenarios.FaultNodeStop, scenarios.FaultZoneFreeze, scenarios.FaultDiskWipe, scenarios.FaultDiskFill} {
		e, _ := env(t)
		inj, _ := For(scenarios.Fault{Kind: k, Leader: true})
		_, err := inj.Plan(context.Background(), e)
		if !errors.Is(err, errNeedsLab) {
			t.Errorf("%s outside the lab: %v, want errNeedsLab", k, err)
		}
	}
}

func TestChaosMeshPlansCreateAndUndoDeletes(t *testing.T) {
	t.Parallel()
	e, _ := env(t)
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultZonePartition, Via: scenarios.ViaChaosMesh, Zone: "a", Duration: 30e9})
	if len(p.Objects) != 1 || len(p.Undo) != 1 || p.Undo[0].Kind != undoDelete || p.Undo[0].Args["resource"] != "networkchaos" {
		t.Fatalf("plan objects %d, undo %+v", len(p.Objects), p.Undo)
	}
	p = plan(t, e, scenarios.Fault{Kind: scenarios.FaultPodKill, Via: scenarios.ViaChaosMesh, Pod: "etcd-2"})
	if p.Targets[0] != "etcd-2" || len(p.Objects) != 1 {
		t.Errorf("pod-kill via chaos mesh: %+v", p)
	}
}

func TestCloudNodeStopReadsTheProviderID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ providerID, want string }{
		{"aws:///eu-west-1a/i-0abc", "awschaos"},
		{"gce://proj/europe-west1-b/gke-node-1", "gcpchaos"},
		{"azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1", "azurechaos"},
		{"azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/0", "scale-set"},
		{"kind://docker/kind/kind-worker", "Azure, AWS and GCP"},
	} {
		e, _ := env(t)
		n, _ := e.Kube.CoreV1().Nodes().Get(context.Background(), "n-b1", metav1.GetOptions{})
		n.Spec.ProviderID = tc.providerID
		e.Kube.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
		e.CloudSecret = "cloud-key-secret"
		inj, _ := For(scenarios.Fault{Kind: scenarios.FaultNodeStop, Via: scenarios.ViaChaosMesh, Leader: true, Duration: 60e9})
		p, err := inj.Plan(context.Background(), e)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = p.Undo[0].Args["resource"]
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.providerID, got, tc.want)
		}
	}
}
