package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/lab/agent/chaos"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios/apps"
)

// labChaosMeta names an object of this test.
func labChaosMeta(name string) chaosmesh.Meta {
	return chaosmesh.Meta{Namespace: demoNamespace, Name: name, RunID: "e2e-lab-chaos"}
}

// waitInjection polls an experiment until cond holds on what rebound
// reads of its status, and returns that.
func waitInjection(t *testing.T, ctx context.Context, dyn dynamic.Interface, obj chaosmesh.Object, what string, cond func(chaosmesh.Injection) bool) chaosmesh.Injection {
	t.Helper()
	var in chaosmesh.Injection
	waitFor(t, ctx, obj.GetName()+": "+what, 30*time.Second, func() bool {
		var err error
		in, err = chaosmesh.ReadInjection(ctx, dyn, obj)
		return err == nil && cond(in)
	})
	return in
}

// readStatus reads an experiment back, with its Chaos Mesh status.
func readStatus(t *testing.T, ctx context.Context, dyn dynamic.Interface, obj chaosmesh.Object) (*unstructured.Unstructured, v1alpha1.ChaosStatus) {
	t.Helper()
	gvr, _ := chaosmesh.GVR(obj)
	u, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st v1alpha1.ChaosStatus
	if raw, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
			t.Fatal(err)
		}
	}
	return u, st
}

func condition(st v1alpha1.ChaosStatus, typ v1alpha1.ChaosConditionType) v1alpha1.ChaosCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return v1alpha1.ChaosCondition{}
}

// deleteAndWait deletes an experiment and waits until the lab's controller
// has let it go.
func deleteAndWait(t *testing.T, ctx context.Context, dyn dynamic.Interface, obj chaosmesh.Object) {
	t.Helper()
	if err := chaosmesh.Delete(ctx, dyn, obj); err != nil {
		t.Fatal(err)
	}
	assertNoObjects(t, ctx, dyn, []any{obj})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestLabChaosController(t *testing.T) {
	var crdNames []string
	f := features.New("the lab executes Chaos Mesh experiments").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			crds := readChaosCRDs(t, "podchaos", "networkchaos", "stresschaos")
			for _, c := range crds {
				crdNames = append(crdNames, c.Name)
			}
			installCRDs(t, ctx, extClient(t, ctx), crds)
			return ctx
		}).
		Assess("a PodChaos pod-kill reaches AllInjected, the pod is made again, and deleting the experiment lets it go", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, dyn := kube(t, ctx), dynClient(t, ctx)
			before := etcdPods(t, ctx, cs)["etcd-0"]
			obj := chaosmesh.PodKill(labChaosMeta("kill-etcd-0"), demoNamespace, "etcd-0")
			if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
				t.Fatal(err)
			}
			in := waitInjection(t, ctx, dyn, obj, "injected", func(in chaosmesh.Injection) bool { return in.Injected })
			u, st := readStatus(t, ctx, dyn, obj)
			if in.Targets != 1 || condition(st, v1alpha1.ConditionAllInjected).Status != corev1.ConditionTrue || condition(st, v1alpha1.ConditionSelected).Status != corev1.ConditionTrue {
				t.Errorf("status %+v, want one target and AllInjected, Selected True", st)
			}
			if r := st.Experiment.Records; len(r) != 1 || r[0].Id != demoNamespace+"/etcd-0" || r[0].InjectedCount != 1 {
				t.Errorf("records %+v, want one for %s/etcd-0 injected once", r, demoNamespace)
			}
			if !slices.Contains(u.GetFinalizers(), chaos.Finalizer) {
				t.Errorf("finalizers %v, want Chaos Mesh's %s", u.GetFinalizers(), chaos.Finalizer)
			}
			waitFor(t, ctx, "an Applied event on the PodChaos, as Chaos Mesh records", 10*time.Second, func() bool {
				evs, err := cs.CoreV1().Events(demoNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + obj.Name})
				if err != nil {
					return false
				}
				for _, e := range evs.Items {
					if e.Reason == "Applied" && e.InvolvedObject.Kind == v1alpha1.KindPodChaos && strings.Contains(e.Message, demoNamespace+"/etcd-0") {
						return true
					}
				}
				return false
			})
			waitFor(t, ctx, "etcd-0 made again and Ready", 2*time.Minute, func() bool {
				p, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-0", metav1.GetOptions{})
				return err == nil && p.UID != before.UID && podReady(p)
			})
			// One-shot: the new pod is not killed again.
			after, _ := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-0", metav1.GetOptions{})
			time.Sleep(2 * time.Second)
			if now, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-0", metav1.GetOptions{}); err != nil || now.UID != after.UID {
				t.Errorf("the new etcd-0 was killed too (%v)", err)
			}
			deleteAndWait(t, ctx, dyn, obj)
			return ctx
		}).
		Assess("a NetworkChaos partition reaches AllInjected and drops packets between two pods both ways, other pods still talk, and deleting it heals", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, dyn := kube(t, ctx), dynClient(t, ctx)
			if err := apps.WaitStatefulSetReady(ctx, cs, demoNamespace, "etcd", 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			pods := etcdPods(t, ctx, cs)
			a, b, c := pods["etcd-0"], pods["etcd-1"], pods["etcd-2"]
			peer := func(p *corev1.Pod) string { return p.Status.PodIP + ":2380" }
			for _, pair := range [][2]*corev1.Pod{{a, b}, {b, a}, {a, c}} {
				if err := dialFromPod(ctx, pair[0], peer(pair[1])); err != nil {
					t.Fatalf("%s does not reach %s before the partition: %v", pair[0].Name, pair[1].Name, err)
				}
			}
			obj := &v1alpha1.NetworkChaos{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindNetworkChaos},
				ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: "split-0-1", Labels: map[string]string{chaosmesh.LabelRun: "e2e-lab-chaos", chaosmesh.LabelManagedBy: chaosmesh.ManagedBy}},
				Spec: v1alpha1.NetworkChaosSpec{
					Action:      v1alpha1.PartitionAction,
					Direction:   v1alpha1.Both,
					Duration:    ptr.To("5m"),
					PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{Pods: map[string][]string{demoNamespace: {"etcd-0"}}}},
					Target:      &v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{Pods: map[string][]string{demoNamespace: {"etcd-1"}}}},
				},
			}
			if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
				t.Fatal(err)
			}
			in := waitInjection(t, ctx, dyn, obj, "injected", func(in chaosmesh.Injection) bool { return in.Injected })
			if in.Targets != 2 {
				t.Errorf("%d records, want 2 (the source and the target pod)", in.Targets)
			}
			for _, pair := range [][2]*corev1.Pod{{a, b}, {b, a}} {
				if err := dialFromPod(ctx, pair[0], peer(pair[1])); err == nil {
					t.Errorf("%s reaches %s through an injected partition", pair[0].Name, pair[1].Name)
				}
			}
			for _, pair := range [][2]*corev1.Pod{{a, c}, {c, b}} {
				if err := dialFromPod(ctx, pair[0], peer(pair[1])); err != nil {
					t.Errorf("%s does not reach %s, which the partition leaves alone: %v", pair[0].Name, pair[1].Name, err)
				}
			}
			deleteAndWait(t, ctx, dyn, obj)
			for _, pair := range [][2]*corev1.Pod{{a, b}, {b, a}} {
				if err := dialFromPod(ctx, pair[0], peer(pair[1])); err != nil {
					t.Errorf("%s does not reach %s after the partition's deletion: %v", pair[0].Name, pair[1].Name, err)
				}
			}
			return ctx
		}).
		Assess("a NetworkChaos delay is refused, naming the missing netem", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dyn := dynClient(t, ctx)
			obj := chaosmesh.PodPartition(labChaosMeta("slow-etcd-2"), demoNamespace, "etcd-2", time.Minute)
			obj.Spec.Action, obj.Spec.Direction = v1alpha1.DelayAction, v1alpha1.To
			obj.Spec.Delay = &v1alpha1.DelaySpec{Latency: "100ms", Correlation: "0", Jitter: "0ms"}
			if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
				t.Fatal(err)
			}
			in := waitInjection(t, ctx, dyn, obj, "refused", func(in chaosmesh.Injection) bool { return strings.Contains(in.Message, "CONFIG_NET_SCH_NETEM") })
			if in.Injected {
				t.Error("a delay is reported injected")
			}
			deleteAndWait(t, ctx, dyn, obj)
			return ctx
		}).
		Assess("a StressChaos is not executed, and its status says the lab does not execute it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dyn := dynClient(t, ctx)
			m := labChaosMeta("stress-etcd-1")
			obj := &v1alpha1.StressChaos{
				TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.KindStressChaos},
				ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name, Labels: map[string]string{chaosmesh.LabelRun: m.RunID, chaosmesh.LabelManagedBy: chaosmesh.ManagedBy}},
				Spec: v1alpha1.StressChaosSpec{
					ContainerSelector: v1alpha1.ContainerSelector{PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{Pods: map[string][]string{demoNamespace: {"etcd-1"}}}}},
					Stressors:         &v1alpha1.Stressors{CPUStressor: &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: 1}}},
					Duration:          ptr.To("1m"),
				},
			}
			if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
				t.Fatal(err)
			}
			in := waitInjection(t, ctx, dyn, obj, "a status", func(in chaosmesh.Injection) bool { return strings.Contains(in.Message, "does not execute StressChaos") })
			u, st := readStatus(t, ctx, dyn, obj)
			if in.Injected || in.Targets != 0 || len(u.GetFinalizers()) != 0 {
				t.Errorf("StressChaos: injection %+v, finalizers %v; want nothing injected, selected or held", in, u.GetFinalizers())
			}
			if c := condition(st, v1alpha1.ConditionAllInjected); c.Status != corev1.ConditionFalse || !strings.HasPrefix(c.Reason, chaos.NotExecutedPrefix) {
				t.Errorf("AllInjected %+v, want False with reason %q...", c, chaos.NotExecutedPrefix)
			}
			deleteAndWait(t, ctx, dyn, obj)
			return ctx
		}).
		Assess("a PodChaos pod-failure keeps a pod's containers down and its pod not ready until it ends", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, dyn := kube(t, ctx), dynClient(t, ctx)
			obj := chaosmesh.PodKill(labChaosMeta("fail-etcd-2"), demoNamespace, "etcd-2")
			obj.Spec.Action, obj.Spec.Duration = v1alpha1.PodFailureAction, ptr.To("15s")
			if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
				t.Fatal(err)
			}
			waitInjection(t, ctx, dyn, obj, "injected", func(in chaosmesh.Injection) bool { return in.Injected })
			var held *corev1.Pod
			waitFor(t, ctx, "etcd-2 not ready, its container held down", 15*time.Second, func() bool {
				p, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-2", metav1.GetOptions{})
				if err != nil || podReady(p) || len(p.Status.ContainerStatuses) == 0 {
					return false
				}
				held = p
				w := p.Status.ContainerStatuses[0].State.Waiting
				return w != nil && w.Reason == "ChaosMeshPodFailure"
			})
			restarts := held.Status.ContainerStatuses[0].RestartCount
			// The duration ends it: the container runs again, once more.
			waitFor(t, ctx, "etcd-2 Ready again after the pod-failure's duration", time.Minute, func() bool {
				p, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-2", metav1.GetOptions{})
				return err == nil && podReady(p) && p.UID == held.UID && p.Status.ContainerStatuses[0].RestartCount > restarts
			})
			waitInjection(t, ctx, dyn, obj, "recovered", func(in chaosmesh.Injection) bool {
				return !in.Injected && strings.Contains(in.Message, "desired phase is Stop")
			})
			deleteAndWait(t, ctx, dyn, obj)
			return ctx
		}).
		Assess("a PodChaos container-kill kills the container, which restarts in place", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, dyn := kube(t, ctx), dynClient(t, ctx)
			if err := apps.WaitStatefulSetReady(ctx, cs, demoNamespace, "etcd", 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			before := etcdPods(t, ctx, cs)["etcd-1"]
			obj := chaosmesh.PodKill(labChaosMeta("ck-etcd-1"), demoNamespace, "etcd-1")
			obj.Spec.Action = v1alpha1.ContainerKillAction
			obj.Spec.ContainerNames = []string{before.Spec.Containers[0].Name}
			if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
				t.Fatal(err)
			}
			in := waitInjection(t, ctx, dyn, obj, "injected", func(in chaosmesh.Injection) bool { return in.Injected })
			if _, st := readStatus(t, ctx, dyn, obj); len(st.Experiment.Records) != 1 || st.Experiment.Records[0].Id != demoNamespace+"/etcd-1/"+before.Spec.Containers[0].Name {
				t.Errorf("records %+v (%+v), want one for the container", st.Experiment.Records, in)
			}
			waitFor(t, ctx, "etcd-1's container restarted in the same pod", time.Minute, func() bool {
				p, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-1", metav1.GetOptions{})
				return err == nil && p.UID == before.UID && p.Status.ContainerStatuses[0].RestartCount > before.Status.ContainerStatuses[0].RestartCount && podReady(p)
			})
			deleteAndWait(t, ctx, dyn, obj)
			return ctx
		}).
		Assess("a scenario whose pod-kill goes via chaos-mesh runs in the lab and recovers", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if err := apps.WaitStatefulSetReady(ctx, kube(t, ctx), demoNamespace, "etcd", 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			doc := scenarioYAML("chaos-mesh-pod-kill", "node", "kind: pod-kill\nvia: chaos-mesh\nleader: true", "")
			run := runScenarios(t, ctx, parseScenarios(t, doc))
			s := run.Scenarios[0]
			if s.Status() == reports.StatusError {
				t.Fatalf("scenario error: %s", s.Error)
			}
			assertRecovered(t, s, time.Minute)
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			api := extClient(t, ctx).ApiextensionsV1().CustomResourceDefinitions()
			for _, name := range crdNames {
				if err := api.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("delete CRD %s: %v", name, err)
				}
			}
			waitFor(t, ctx, "the Chaos Mesh CRDs gone", 2*time.Minute, func() bool {
				for _, name := range crdNames {
					if _, err := api.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return false
					}
				}
				return true
			})
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
