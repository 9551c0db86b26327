package faults

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/scenarios"
)

// injectedStatus is what Chaos Mesh's controller writes once it has
// injected every one of targets.
func injectedStatus(targets ...string) v1alpha1.ChaosStatus {
	st := v1alpha1.ChaosStatus{
		Conditions: []v1alpha1.ChaosCondition{{Type: v1alpha1.ConditionSelected, Status: corev1.ConditionTrue}, {Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}},
		Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase},
	}
	for _, id := range targets {
		st.Experiment.Records = append(st.Experiment.Records, &v1alpha1.Record{Id: id, SelectorKey: ".", Phase: v1alpha1.Injected, InjectedCount: 1})
	}
	return st
}

// chaosMeshControllerStandIn stands in for Chaos Mesh's controller: once
// each of objs exists in the (fake) API server, it waits delay, then writes
// status onto it, as the controller does after acting on the targets. It
// reports when it wrote each, and stops with the test.
func chaosMeshControllerStandIn(t *testing.T, dyn dynamic.Interface, objs []any, delay time.Duration, status v1alpha1.ChaosStatus) <-chan time.Time {
	t.Helper()
	wrote := make(chan time.Time, len(objs))
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	for _, o := range objs {
		obj := o.(chaosmesh.Object)
		gvr, err := chaosmesh.GVR(obj)
		if err != nil {
			t.Fatal(err)
		}
		api := dyn.Resource(gvr).Namespace(obj.GetNamespace())
		wg.Go(func() {
			for {
				u, err := api.Get(ctx, obj.GetName(), metav1.GetOptions{})
				if err == nil {
					select {
					case <-ctx.Done():
						return
					case <-time.After(delay):
					}
					u.Object["status"] = runtime.DeepCopyJSON(m)
					if _, err := api.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
						t.Errorf("chaos mesh stand-in: write status of %s: %v", obj.GetName(), err)
					}
					wrote <- time.Now()
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	t.Cleanup(wg.Wait)
	return wrote
}

// setNodeReady sets a node's Ready condition, as its kubelet (True) or the
// node lifecycle controller (Unknown, when heartbeats stop) does.
func setNodeReady(t *testing.T, e *Env, name string, s corev1.ConditionStatus) {
	t.Helper()
	ctx := context.Background()
	n, err := e.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: s}}
	if _, err := e.Kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Error(err)
	}
}

// onAWS gives the nodes AWS providerIDs and Ready kubelets.
func onAWS(t *testing.T, e *Env, nodes ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range nodes {
		n, _ := e.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		n.Spec.ProviderID = "aws:///eu-west-1a/i-" + name
		if _, err := e.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		setNodeReady(t, e, name, corev1.ConditionTrue)
	}
	e.CloudSecret = "cloud-key-secret"
}

func applyWithin(t *testing.T, p *Plan, d time.Duration) (time.Time, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := Apply(ctx, p)
	return time.Now(), err
}

func TestChaosFaultIsConfirmedOnceChaosMeshReportsEveryTargetInjected(t *testing.T) {
	t.Parallel()
	e, _ := env(t)
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultZonePartition, Via: scenarios.ViaChaosMesh, Zone: "a", Duration: 30 * time.Second})
	wrote := chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 300*time.Millisecond, injectedStatus("demo/etcd-0", "demo/etcd-2"))
	returned, err := applyWithin(t, p, 10*time.Second)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	select {
	case at := <-wrote:
		if returned.Before(at) {
			t.Errorf("Apply returned %s before Chaos Mesh reported the fault injected: T0 would be too early", at.Sub(returned))
		}
	default:
		t.Fatal("Apply returned before Chaos Mesh reported the fault injected: T0 would be too early")
	}
}

// Chaos Mesh's own words reach the user, and the plan's undo removes what
// Apply created.
func TestChaosFaultNeverInjectedIsNotConfirmed(t *testing.T) {
	t.Parallel()
	partly := injectedStatus("demo/etcd-0")
	partly.Conditions[1].Status = corev1.ConditionFalse
	partly.Experiment.Records = append(partly.Experiment.Records, &v1alpha1.Record{Id: "demo/etcd-2", SelectorKey: ".", Phase: v1alpha1.NotInjected,
		Events: []v1alpha1.RecordEvent{{Type: v1alpha1.TypeFailed, Operation: v1alpha1.Apply, Message: "unable to flush ip sets for pod etcd-2", Timestamp: &metav1.Time{Time: time.Unix(1e9, 0)}}}})
	selectedNone := v1alpha1.ChaosStatus{
		Conditions: []v1alpha1.ChaosCondition{{Type: v1alpha1.ConditionSelected, Status: corev1.ConditionFalse, Reason: "no pod is selected"}, {Type: v1alpha1.ConditionAllInjected, Status: corev1.ConditionTrue}},
		Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase},
	}
	for _, tc := range []struct {
		name   string
		status *v1alpha1.ChaosStatus // nil: no controller
		want   []string
	}{
		{"no Chaos Mesh controller", nil, []string{"no status", "controller running"}},
		{"records partly injected", &partly, []string{"1 of 2 targets injected", "unable to flush ip sets for pod etcd-2"}},
		{"AllInjected over nothing selected", &selectedNone, []string{"Selected is False: no pod is selected"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := env(t)
			p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultZonePartition, Via: scenarios.ViaChaosMesh, Zone: "a", Duration: 30 * time.Second})
			if tc.status != nil {
				chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 0, *tc.status)
			}
			_, err := applyWithin(t, p, time.Second)
			if !errors.Is(err, ErrNotConfirmed) {
				t.Fatalf("Apply = %v, want ErrNotConfirmed", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "fault never took effect: ") || !strings.Contains(msg, "networkchaos demo/rebound-r1-zone-partition") {
				t.Errorf("error %q should start \"fault never took effect: \" and name the object", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not carry Chaos Mesh's %q", msg, w)
				}
			}
			if err := Recover(context.Background(), e, p.Undo); err != nil {
				t.Fatal(err)
			}
			gvr, _ := chaosmesh.GVR(p.Objects[0].(chaosmesh.Object))
			if _, err := e.Dynamic.Resource(gvr).Namespace("demo").Get(context.Background(), "rebound-r1-zone-partition", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("after the undo the object is still there: %v", err)
			}
		})
	}
}

func TestCloudNodeStopWaitsForTheNodeNotReady(t *testing.T) {
	t.Parallel()
	stop := scenarios.Fault{Kind: scenarios.FaultNodeStop, Via: scenarios.ViaChaosMesh, Node: "n-b1", Duration: time.Minute}
	t.Run("injected, then NotReady", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		onAWS(t, e, "n-b1")
		p := plan(t, e, stop)
		chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 0, injectedStatus("i-n-b1"))
		// The node lifecycle controller marks the node NotReady once its
		// heartbeats have stopped for its grace period.
		var notReadyAt time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(500 * time.Millisecond)
			notReadyAt = time.Now()
			setNodeReady(t, e, "n-b1", corev1.ConditionUnknown)
		}()
		returned, err := applyWithin(t, p, 10*time.Second)
		<-done
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if returned.Before(notReadyAt) {
			t.Errorf("Apply returned %s before the node went NotReady", notReadyAt.Sub(returned))
		}
	})
	t.Run("injected, node still Ready", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		onAWS(t, e, "n-b1")
		p := plan(t, e, stop)
		chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 0, injectedStatus("i-n-b1"))
		_, err := applyWithin(t, p, time.Second)
		if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "node n-b1 is still Ready") {
			t.Errorf("Apply = %v, want ErrNotConfirmed saying node n-b1 is still Ready", err)
		}
	})
	t.Run("the cloud marks the VM shut down", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		onAWS(t, e, "n-b1")
		p := plan(t, e, stop)
		chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 0, injectedStatus("i-n-b1"))
		n, _ := e.Kube.CoreV1().Nodes().Get(context.Background(), "n-b1", metav1.GetOptions{})
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: taintNodeShutdown, Effect: corev1.TaintEffectNoSchedule})
		if _, err := e.Kube.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := applyWithin(t, p, 10*time.Second); err != nil {
			t.Errorf("Apply = %v, want the shutdown taint to confirm the VM stopped", err)
		}
	})
}

// A zone stop makes one object per node, every one in the undo before any
// is created, and is confirmed only when all are injected and every node
// of the zone is NotReady.
func TestZoneStopThroughChaosMeshConfirmsEveryNode(t *testing.T) {
	t.Parallel()
	e, _ := env(t)
	onAWS(t, e, "n-a1", "n-a2")
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultZoneStop, Via: scenarios.ViaChaosMesh, Zone: "a", Duration: time.Minute})
	if len(p.Objects) != 2 || len(p.Undo) != 2 || p.Undo[0].Args["name"] == p.Undo[1].Args["name"] {
		t.Fatalf("zone of 2 nodes: %d objects, undo %+v; want 2 objects, 2 deletes of distinct names", len(p.Objects), p.Undo)
	}
	chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 0, injectedStatus("i"))
	setNodeReady(t, e, "n-a1", corev1.ConditionUnknown)
	_, err := applyWithin(t, p, time.Second)
	if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "node n-a2 is still Ready") || strings.Contains(err.Error(), "n-a1 is still") {
		t.Fatalf("one node of two down: Apply = %v, want ErrNotConfirmed naming n-a2 only", err)
	}
	if err := Recover(context.Background(), e, p.Undo); err != nil {
		t.Fatal(err)
	}

	setNodeReady(t, e, "n-a2", corev1.ConditionFalse)
	chaosMeshControllerStandIn(t, e.Dynamic, p.Objects, 0, injectedStatus("i"))
	if _, err := applyWithin(t, p, 10*time.Second); err != nil {
		t.Errorf("both nodes down, both objects injected: Apply = %v", err)
	}
}

// Cancelled (Ctrl-C) is not "never took effect": nothing was disproved.
func TestConfirmCancelledIsNotNotConfirmed(t *testing.T) {
	t.Parallel()
	e, _ := env(t)
	p := plan(t, e, scenarios.Fault{Kind: scenarios.FaultPause, Via: scenarios.ViaChaosMesh, Pod: "etcd-0", Duration: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	err := Apply(ctx, p)
	if errors.Is(err, ErrNotConfirmed) || !errors.Is(err, context.Canceled) {
		t.Errorf("Apply = %v, want context.Canceled and not ErrNotConfirmed", err)
	}
}

func TestObjNameKeepsLongNamesApart(t *testing.T) {
	t.Parallel()
	e := &Env{RunID: "20261125-101010-" + strings.Repeat("x", 30)}
	a := objName(e, "zone-stop-ip-10-0-1-23.eu-west-1.compute.internal")
	b := objName(e, "zone-stop-ip-10-0-1-24.eu-west-1.compute.internal")
	if a == b || len(a) > 63 || len(b) > 63 {
		t.Errorf("names %q and %q: want distinct, at most 63 characters", a, b)
	}
	if got := objName(&Env{RunID: "r1"}, "pause"); got != "rebound-r1-pause" {
		t.Errorf("short name %q, want it unchanged", got)
	}
}
