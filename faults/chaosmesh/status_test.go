package chaosmesh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func record(id string, phase v1alpha1.Phase, events ...v1alpha1.RecordEvent) *v1alpha1.Record {
	return &v1alpha1.Record{Id: id, SelectorKey: ".", Phase: phase, Events: events}
}

func failed(msg string) v1alpha1.RecordEvent {
	return v1alpha1.RecordEvent{Type: v1alpha1.TypeFailed, Operation: v1alpha1.Apply, Message: msg, Timestamp: &metav1.Time{Time: time.Unix(1e9, 0)}}
}

func cond(t v1alpha1.ChaosConditionType, s corev1.ConditionStatus, reason string) v1alpha1.ChaosCondition {
	return v1alpha1.ChaosCondition{Type: t, Status: s, Reason: reason}
}

// withStatus is obj as the API server would return it once Chaos Mesh's
// controller has written st (nil: never written).
func withStatus(t *testing.T, obj Object, st *v1alpha1.ChaosStatus) *unstructured.Unstructured {
	t.Helper()
	u, err := Unstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	if st != nil {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(st)
		if err != nil {
			t.Fatal(err)
		}
		u.Object["status"] = m
	}
	return u
}

func TestInjectionOf(t *testing.T) {
	t.Parallel()
	const (
		sel = v1alpha1.ConditionSelected
		all = v1alpha1.ConditionAllInjected
		T   = corev1.ConditionTrue
		F   = corev1.ConditionFalse
	)
	run := v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase}
	cases := []struct {
		name     string
		st       *v1alpha1.ChaosStatus
		injected bool
		want     []string // in the message, each
	}{
		{"no status: no controller has seen it", nil, false, []string{"no status", "controller running"}},
		{"every record injected", &v1alpha1.ChaosStatus{
			Conditions: []v1alpha1.ChaosCondition{cond(sel, T, ""), cond(all, T, "")},
			Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase, Records: []*v1alpha1.Record{
				record("demo/etcd-0", v1alpha1.Injected), record("demo/etcd-1", v1alpha1.Injected)}},
		}, true, nil},
		{"records injected, conditions not yet recomputed", &v1alpha1.ChaosStatus{
			Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase, Records: []*v1alpha1.Record{record("i-0abc", v1alpha1.Injected)}},
		}, true, nil},
		{"AllInjected and Selected, records not listed", &v1alpha1.ChaosStatus{
			Conditions: []v1alpha1.ChaosCondition{cond(sel, T, ""), cond(all, T, "")}, Experiment: run,
		}, true, nil},
		{"records partly injected", &v1alpha1.ChaosStatus{
			Conditions: []v1alpha1.ChaosCondition{cond(sel, T, ""), cond(all, F, "")},
			Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase, Records: []*v1alpha1.Record{
				record("demo/etcd-0", v1alpha1.Injected),
				record("demo/etcd-1", v1alpha1.NotInjected, failed("chaos-daemon: unable to flush ip sets for pod etcd-1: permission denied"))}},
		}, false, []string{"condition AllInjected is False", "1 of 2 targets injected", `demo/etcd-1 is "Not Injected"`, "Apply Failed: chaos-daemon: unable to flush ip sets for pod etcd-1: permission denied"}},
		{"a stale AllInjected does not outweigh a record not injected", &v1alpha1.ChaosStatus{
			Conditions: []v1alpha1.ChaosCondition{cond(sel, T, ""), cond(all, T, "")},
			Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase, Records: []*v1alpha1.Record{
				record("demo/etcd-0", v1alpha1.Injected), record("demo/etcd-1", v1alpha1.NotInjected)}},
		}, false, []string{"1 of 2 targets injected"}},
		{"AllInjected over no target is vacuous", &v1alpha1.ChaosStatus{
			Conditions: []v1alpha1.ChaosCondition{cond(sel, F, "no pod is selected"), cond(all, T, "")}, Experiment: run,
		}, false, []string{"condition Selected is False: no pod is selected"}},
		{"paused", &v1alpha1.ChaosStatus{
			Conditions: []v1alpha1.ChaosCondition{cond(sel, T, ""), cond(all, T, ""), cond(v1alpha1.ConditionPaused, T, "")},
			Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.RunningPhase, Records: []*v1alpha1.Record{record("demo/etcd-0", v1alpha1.Injected)}},
		}, false, []string{"condition Paused is True"}},
		{"stopped: its duration is over", &v1alpha1.ChaosStatus{
			Experiment: v1alpha1.ExperimentStatus{DesiredPhase: v1alpha1.StoppedPhase, Records: []*v1alpha1.Record{record("demo/etcd-0", v1alpha1.Injected)}},
		}, false, []string{"desired phase is Stop"}},
		{"a desired phase and nothing else", &v1alpha1.ChaosStatus{Experiment: run}, false, []string{"no target selected yet"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := InjectionOf(withStatus(t, PodPartition(meta, "demo", "etcd-1", time.Minute), tc.st))
			if err != nil {
				t.Fatal(err)
			}
			if in.Injected != tc.injected {
				t.Fatalf("Injected = %v, want %v (%+v)", in.Injected, tc.injected, in)
			}
			if in.Injected && in.Message != "" {
				t.Errorf("injected, yet a message: %q", in.Message)
			}
			if !in.Injected && in.Message == "" {
				t.Error("not injected, and no message saying why")
			}
			for _, w := range tc.want {
				if !strings.Contains(in.Message, w) {
					t.Errorf("message %q does not mention %q", in.Message, w)
				}
			}
		})
	}
}

// A status of the wrong shape is an error, not "not injected yet".
func TestInjectionOfMalformedStatus(t *testing.T) {
	t.Parallel()
	u := withStatus(t, PodKill(meta, "demo", "etcd-0"), nil)
	u.Object["status"] = map[string]any{"conditions": "all good"}
	if _, err := InjectionOf(u); err == nil || !strings.Contains(err.Error(), "not a Chaos Mesh status") {
		t.Errorf("InjectionOf = %v, want an error saying the status is not Chaos Mesh's", err)
	}
}

func TestReadInjection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dyn := fakeDynamic()
	obj := IOErrors(meta, "demo", etcdPods, "/var/lib/etcd", 50, 5, time.Minute)
	if _, err := ReadInjection(ctx, dyn, obj); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "iochaos") {
		t.Errorf("reading an object never created: %v, want NotFound naming the resource", err)
	}
	if err := Create(ctx, dyn, obj); err != nil {
		t.Fatal(err)
	}
	in, err := ReadInjection(ctx, dyn, obj)
	if err != nil || in.Injected {
		t.Fatalf("just created: %+v, %v; want not injected", in, err)
	}
	// Chaos Mesh's controller writes the status.
	u := withStatus(t, obj, &v1alpha1.ChaosStatus{Experiment: v1alpha1.ExperimentStatus{
		DesiredPhase: v1alpha1.RunningPhase, Records: []*v1alpha1.Record{record("demo/etcd-0/etcd", v1alpha1.Injected)}}})
	gvr, _ := GVR(obj)
	if _, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if in, err = ReadInjection(ctx, dyn, obj); err != nil || !in.Injected || in.Targets != 1 {
		t.Errorf("after the controller wrote it: %+v, %v; want 1 target injected", in, err)
	}
}
