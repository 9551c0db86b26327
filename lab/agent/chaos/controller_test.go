package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/faults/chaosmesh"
)

// agentStandIn stands in for the lab's node agent: it records the
// containers it was asked to kill, and fails when told to.
type agentStandIn struct {
	mu     sync.Mutex
	killed []string
	fail   error
}

func (a *agentStandIn) KillContainer(_ context.Context, ns, pod, container string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.killed = append(a.killed, ns+"/"+pod+"/"+container)
	return nil
}

// networkStandIn stands in for the lab's network faults: it keeps the
// faults in effect by key and pod, and fails recovery when told to.
type networkStandIn struct {
	mu          sync.Mutex
	active      map[string]NetFault // "key|pod"
	failRecover error
}

func (n *networkStandIn) Inject(_ context.Context, key string, pod *corev1.Pod, f NetFault) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.active == nil {
		n.active = map[string]NetFault{}
	}
	n.active[key+"|"+pod.Namespace+"/"+pod.Name] = f
	return nil
}

func (n *networkStandIn) Recover(_ context.Context, key string, pod *corev1.Pod) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failRecover != nil {
		return n.failRecover
	}
	delete(n.active, key+"|"+pod.Namespace+"/"+pod.Name)
	return nil
}

// onPod returns the fault on a pod, by the side of the experiment.
func (n *networkStandIn) onPod(pod string) map[string]NetFault {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]NetFault{}
	for k, f := range n.active {
		key, p, _ := strings.Cut(k, "|")
		if p == pod {
			side := "source"
			if strings.Contains(key, " target ") {
				side = "target"
			}
			out[side] = f
		}
	}
	return out
}

var (
	podChaosGVR     = v1alpha1.SchemeGroupVersion.WithResource("podchaos")
	networkChaosGVR = v1alpha1.SchemeGroupVersion.WithResource("networkchaos")
	stressChaosGVR  = v1alpha1.SchemeGroupVersion.WithResource("stresschaos")
)

// harness is a controller wired to stand-ins for the API server (client-go's
// fake clientsets), the agent and the network, with a clock the test sets.
type harness struct {
	t      *testing.T
	c      *Controller
	kube   *fake.Clientset
	dyn    *dynamicfake.FakeDynamicClient
	net    *networkStandIn
	pods   *agentStandIn
	events *record.FakeRecorder
	now    time.Time
}

// takeEvents returns the Kubernetes Events recorded so far.
func (h *harness) takeEvents() []string {
	var out []string
	for {
		select {
		case e := <-h.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

var created = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, kube: apiServerStandIn(labPods()...), net: &networkStandIn{}, pods: &agentStandIn{}, now: created.Add(time.Second)}
	h.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		podChaosGVR: "PodChaosList", networkChaosGVR: "NetworkChaosList", stressChaosGVR: "StressChaosList",
	})
	h.c = New(Config{Dynamic: h.dyn, Kube: h.kube, Pods: h.pods, Network: h.net})
	h.c.now = func() time.Time { return h.now }
	// eventsStandIn is client-go's fake recorder, standing in for the
	// API server's Events.
	h.events = record.NewFakeRecorder(100)
	h.c.events = h.events
	return h
}

// create stores a typed experiment as the API server would, with a UID
// and creation time.
func (h *harness) create(obj v1alpha1.InnerObject) objKey {
	h.t.Helper()
	obj.SetUID(types.UID("uid-" + obj.GetName()))
	obj.SetCreationTimestamp(metav1.NewTime(created))
	data, err := json.Marshal(obj)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]any{}
	if err := utiljson.Unmarshal(data, &m); err != nil {
		h.t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	kind := strings.TrimPrefix(fmt.Sprintf("%T", obj), "*v1alpha1.")
	u.SetAPIVersion(v1alpha1.SchemeGroupVersion.String())
	u.SetKind(kind)
	gvr := v1alpha1.SchemeGroupVersion.WithResource(strings.ToLower(kind))
	if _, err := h.dyn.Resource(gvr).Namespace(obj.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	return objKey{gvr: gvr, kind: kind, namespace: obj.GetNamespace(), name: obj.GetName()}
}

func (h *harness) sync(k objKey) (time.Duration, error) {
	h.t.Helper()
	return h.c.sync(context.Background(), k)
}

func (h *harness) mustSync(k objKey) time.Duration {
	h.t.Helper()
	after, err := h.sync(k)
	if err != nil {
		h.t.Fatalf("sync %s: %v", k.name, err)
	}
	return after
}

// get reads an experiment back, raw and typed.
func (h *harness) get(k objKey) (*unstructured.Unstructured, v1alpha1.InnerObjectWithSelector) {
	h.t.Helper()
	u, err := h.dyn.Resource(k.gvr).Namespace(k.namespace).Get(context.Background(), k.name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	obj, err := decode(k.kind, u)
	if err != nil {
		h.t.Fatal(err)
	}
	return u, obj
}

// edit changes an experiment in the API server stand-in.
func (h *harness) edit(k objKey, fn func(u *unstructured.Unstructured)) {
	h.t.Helper()
	u, _ := h.get(k)
	fn(u)
	if _, err := h.dyn.Resource(k.gvr).Namespace(k.namespace).Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// markDeleted is what the API server does on a delete while a finalizer
// is present.
func (h *harness) markDeleted(k objKey) {
	h.edit(k, func(u *unstructured.Unstructured) {
		now := metav1.NewTime(h.now)
		u.SetDeletionTimestamp(&now)
	})
}

func (h *harness) setPaused(k objKey, paused bool) {
	h.edit(k, func(u *unstructured.Unstructured) {
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		if paused {
			a[v1alpha1.PauseAnnotationKey] = "true"
		} else {
			delete(a, v1alpha1.PauseAnnotationKey)
		}
		u.SetAnnotations(a)
	})
}

// state summarises an experiment's status: desired phase, each record as
// "id=phase injected/recovered", the conditions as "Type=Status".
type state struct {
	desired    v1alpha1.DesiredPhase
	records    []string
	conditions []string
	finalizer  bool
}

func (h *harness) state(k objKey) state {
	h.t.Helper()
	u, obj := h.get(k)
	st := obj.GetStatus()
	s := state{desired: st.Experiment.DesiredPhase, finalizer: slices.Contains(u.GetFinalizers(), Finalizer)}
	for _, r := range st.Experiment.Records {
		s.records = append(s.records, fmt.Sprintf("%s%s=%s %d/%d", r.SelectorKey, r.Id, r.Phase, r.InjectedCount, r.RecoveredCount))
	}
	slices.Sort(s.records)
	for _, c := range st.Conditions {
		s.conditions = append(s.conditions, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	return s
}

func (h *harness) wantState(k objKey, want state) {
	h.t.Helper()
	got := h.state(k)
	if got.desired != want.desired || !slices.Equal(got.records, want.records) || !slices.Equal(got.conditions, want.conditions) || got.finalizer != want.finalizer {
		h.t.Errorf("%s:\n got %+v\nwant %+v", k.name, got, want)
	}
}

var (
	injectedConds  = []string{"Selected=True", "AllInjected=True", "AllRecovered=False", "Paused=False"}
	recoveredConds = []string{"Selected=True", "AllInjected=False", "AllRecovered=True", "Paused=False"}
)

func podKill(name string, pods ...string) *v1alpha1.PodChaos {
	return &v1alpha1.PodChaos{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name},
		Spec: v1alpha1.PodChaosSpec{
			Action:            v1alpha1.PodKillAction,
			GracePeriod:       0,
			ContainerSelector: v1alpha1.ContainerSelector{PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{Pods: map[string][]string{"db": pods}}}},
		},
	}
}

func partition(name string, d time.Duration, dir v1alpha1.Direction) *v1alpha1.NetworkChaos {
	return &v1alpha1.NetworkChaos{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name},
		Spec: v1alpha1.NetworkChaosSpec{
			Action:    v1alpha1.PartitionAction,
			Direction: dir,
			Duration:  ptr.To(d.String()),
			PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{
				GenericSelectorSpec: v1alpha1.GenericSelectorSpec{LabelSelectors: map[string]string{"app": "etcd"}},
				NodeSelectors:       map[string]string{corev1.LabelTopologyZone: "a"},
				PodPhaseSelectors:   []string{"Running"},
			}},
			Target: &v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{
				GenericSelectorSpec: v1alpha1.GenericSelectorSpec{LabelSelectors: map[string]string{"tier": "data"}},
				Nodes:               []string{"n-b", "n-c"},
			}},
		},
	}
}

func TestPodKillThenDeleteRecoversThroughTheFinalizer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.create(podKill("kill", "etcd-0"))
	if after := h.mustSync(k); after != 0 {
		t.Errorf("a one-shot experiment asks to be requeued after %s", after)
	}
	if _, err := h.kube.CoreV1().Pods("db").Get(context.Background(), "etcd-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod etcd-0 after pod-kill: %v, want it deleted", err)
	}
	h.wantState(k, state{desired: v1alpha1.RunningPhase, records: []string{".db/etcd-0=Injected 1/0"}, conditions: injectedConds, finalizer: true})

	// What rebound's via: chaos-mesh path reads back.
	u, _ := h.get(k)
	in, err := chaosmesh.InjectionOf(u)
	if err != nil || !in.Injected || in.Targets != 1 {
		t.Errorf("rebound reads the status as %+v, %v; want injected, 1 target", in, err)
	}

	// A second sync changes nothing: the pod is not killed again.
	h.mustSync(k)
	h.wantState(k, state{desired: v1alpha1.RunningPhase, records: []string{".db/etcd-0=Injected 1/0"}, conditions: injectedConds, finalizer: true})

	h.markDeleted(k)
	h.mustSync(k)
	h.wantState(k, state{desired: v1alpha1.StoppedPhase, records: []string{".db/etcd-0=Not Injected 1/1"}, conditions: recoveredConds, finalizer: false})

	want := []string{
		"Normal Started Experiment has started",
		"Normal Applied Successfully apply chaos for db/etcd-0",
		"Normal Deleted Experiment has been deleted",
		"Normal Recovered Successfully recover chaos for db/etcd-0",
	}
	if got := h.takeEvents(); !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPartitionPerDirectionDurationAndPause(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.create(partition("split", time.Minute, v1alpha1.Both))
	after := h.mustSync(k)
	if after <= 0 || after > time.Minute {
		t.Errorf("requeue after %s, want the rest of the 1m duration", after)
	}
	wantRecords := func(phase string, in, rec int) []string {
		var out []string
		for _, id := range []string{".db/etcd-0", ".Targetdb/etcd-1", ".Targetdb/etcd-2"} {
			out = append(out, fmt.Sprintf("%s=%s %d/%d", id, phase, in, rec))
		}
		slices.Sort(out)
		return out
	}
	h.wantState(k, state{desired: v1alpha1.RunningPhase, records: wantRecords("Injected", 1, 0), conditions: injectedConds, finalizer: true})

	src := h.net.onPod("db/etcd-0")["source"]
	if !src.Egress || !src.Ingress || !slices.Equal(src.Peers, []string{"10.20.2.2", "10.20.3.2"}) {
		t.Errorf("source etcd-0 fault %+v, want both ways against the targets' IPs", src)
	}
	tgt := h.net.onPod("db/etcd-1")["target"]
	if !tgt.Egress || !tgt.Ingress || !slices.Equal(tgt.Peers, []string{"10.20.1.2"}) {
		t.Errorf("target etcd-1 fault %+v, want both ways against the source's IP", tgt)
	}

	h.takeEvents()
	h.setPaused(k, true)
	h.mustSync(k)
	if ev := h.takeEvents(); len(ev) == 0 || ev[0] != "Normal Paused Experiment has been paused" {
		t.Errorf("events on pause %v, want Paused first", ev)
	}
	h.wantState(k, state{desired: v1alpha1.StoppedPhase, records: wantRecords("Not Injected", 1, 1),
		conditions: []string{"Selected=True", "AllInjected=False", "AllRecovered=True", "Paused=True"}, finalizer: true})
	if n := len(h.net.onPod("db/etcd-0")) + len(h.net.onPod("db/etcd-1")); n != 0 {
		t.Errorf("%d faults left while paused", n)
	}
	u, _ := h.get(k)
	if in, _ := chaosmesh.InjectionOf(u); in.Injected {
		t.Error("rebound reads a paused experiment as injected")
	}

	h.setPaused(k, false)
	h.mustSync(k)
	h.wantState(k, state{desired: v1alpha1.RunningPhase, records: wantRecords("Injected", 2, 1), conditions: injectedConds, finalizer: true})

	h.takeEvents()
	h.now = created.Add(time.Minute + time.Second)
	if after := h.mustSync(k); after != 0 {
		t.Errorf("requeue after %s once the duration is over, want none", after)
	}
	if ev := h.takeEvents(); len(ev) == 0 || ev[0] != "Normal TimeUp Time up according to the duration" {
		t.Errorf("events at the end of the duration %v, want TimeUp first", ev)
	}
	h.wantState(k, state{desired: v1alpha1.StoppedPhase, records: wantRecords("Not Injected", 2, 2), conditions: recoveredConds, finalizer: true})
	if n := len(h.net.onPod("db/etcd-0")); n != 0 {
		t.Errorf("faults left after the duration: %v", h.net.onPod("db/etcd-0"))
	}
}

func TestDeletedExperimentKeepsItsFinalizerUntilRecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.create(partition("split", time.Hour, v1alpha1.To))
	h.mustSync(k)
	h.net.failRecover = errors.New("netns busy")
	h.markDeleted(k)
	if _, err := h.sync(k); err == nil {
		t.Error("sync with a failing recovery returned no error: it would not be retried")
	}
	st := h.state(k)
	if !st.finalizer {
		t.Fatal("the finalizer went while targets are still injected")
	}
	_, obj := h.get(k)
	last := obj.GetStatus().Experiment.Records[0].Events
	if ev := last[len(last)-1]; ev.Type != v1alpha1.TypeFailed || ev.Operation != v1alpha1.Recover || !strings.Contains(ev.Message, "netns busy") {
		t.Errorf("last event %+v, want a failed Recover naming the cause", ev)
	}

	h.net.failRecover = nil
	h.mustSync(k)
	if st := h.state(k); st.finalizer || !slices.Equal(st.conditions, recoveredConds) {
		t.Errorf("after recovery: %+v, want every target recovered and the finalizer gone", st)
	}
}

func TestForcedCleanFinalizerLetsGoUnrecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.create(partition("split", time.Hour, v1alpha1.To))
	h.mustSync(k)
	h.net.failRecover = errors.New("netns busy")
	h.edit(k, func(u *unstructured.Unstructured) {
		u.SetAnnotations(map[string]string{AnnotationCleanFinalizer: "forced"})
		now := metav1.NewTime(h.now)
		u.SetDeletionTimestamp(&now)
	})
	_, _ = h.sync(k)
	if h.state(k).finalizer {
		t.Error("the finalizer stays although its removal is forced")
	}
}

func TestLossAndBandwidthActOnWhatTheSendingSideSends(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir                v1alpha1.Direction
		onSource, onTarget bool
	}{
		{v1alpha1.To, true, false},
		{v1alpha1.From, false, true},
		{v1alpha1.Both, true, true},
	} {
		h := newHarness(t)
		nc := partition("loss", time.Hour, tc.dir)
		nc.Spec.Action = v1alpha1.LossAction
		nc.Spec.Loss = &v1alpha1.LossSpec{Loss: "30", Correlation: "0"}
		k := h.create(nc)
		h.mustSync(k)
		src, srcOK := h.net.onPod("db/etcd-0")["source"]
		_, tgtOK := h.net.onPod("db/etcd-1")["target"]
		if srcOK != tc.onSource || tgtOK != tc.onTarget {
			t.Errorf("loss %s: on the source %v, on a target %v; want %v, %v", tc.dir, srcOK, tgtOK, tc.onSource, tc.onTarget)
		}
		if srcOK && (src.LossPercent != 30 || !src.Egress || src.Ingress) {
			t.Errorf("loss %s: %+v, want 30 %% on egress", tc.dir, src)
		}
		// Every record is injected either way, as in Chaos Mesh.
		if st := h.state(k); !slices.Equal(st.conditions, injectedConds) {
			t.Errorf("loss %s: conditions %v", tc.dir, st.conditions)
		}
	}

	h := newHarness(t)
	nc := partition("slow", time.Hour, v1alpha1.To)
	nc.Spec.Action = v1alpha1.BandwidthAction
	nc.Spec.Bandwidth = &v1alpha1.BandwidthSpec{Rate: "1mbps", Limit: 20971520, Buffer: 10000}
	h.mustSync(h.create(nc))
	if f := h.net.onPod("db/etcd-0")["source"]; f.RateBits != 8_000_000 || f.LimitBytes != 20971520 || f.BufferBytes != 10000 {
		t.Errorf("bandwidth fault %+v, want 8 Mbit/s (1mbps is bytes), limit and buffer as given", f)
	}
}

func TestDelayIsRefusedNamingNetem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	nc := partition("slow", time.Hour, v1alpha1.To)
	nc.Spec.Action = v1alpha1.DelayAction
	nc.Spec.Delay = &v1alpha1.DelaySpec{Latency: "100ms"}
	k := h.create(nc)
	if _, err := h.sync(k); err != nil {
		t.Errorf("a refused action is retried: %v", err)
	}
	u, obj := h.get(k)
	for _, r := range obj.GetStatus().Experiment.Records {
		if r.Phase != v1alpha1.NotInjected || len(r.Events) != 1 || r.Events[0].Type != v1alpha1.TypeFailed || !strings.Contains(r.Events[0].Message, "CONFIG_NET_SCH_NETEM") {
			t.Errorf("record %s: %+v, want Not Injected with one failed Apply naming CONFIG_NET_SCH_NETEM", r.Id, r)
		}
	}
	in, err := chaosmesh.InjectionOf(u)
	if err != nil || in.Injected || !strings.Contains(in.Message, "CONFIG_NET_SCH_NETEM") {
		t.Errorf("rebound reads %+v, %v; want not injected, naming CONFIG_NET_SCH_NETEM", in, err)
	}
	if len(h.net.onPod("db/etcd-0")) != 0 {
		t.Error("a fault was put in place for a refused delay")
	}
}

func TestKindsTheLabDoesNotExecute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.create(&v1alpha1.StressChaos{
		ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "burn"},
		Spec: v1alpha1.StressChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{PodSelector: v1alpha1.PodSelector{Mode: v1alpha1.AllMode, Selector: v1alpha1.PodSelectorSpec{Pods: map[string][]string{"db": {"etcd-0"}}}}},
			Stressors:         &v1alpha1.Stressors{CPUStressor: &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: 1}}},
			Duration:          ptr.To("1m"),
		},
	})
	h.mustSync(k)
	u, obj := h.get(k)
	st := obj.GetStatus()
	if len(st.Experiment.Records) != 0 || len(u.GetFinalizers()) != 0 {
		t.Errorf("StressChaos got records %v and finalizers %v, want none", st.Experiment.Records, u.GetFinalizers())
	}
	for _, c := range st.Conditions {
		switch {
		case c.Type == v1alpha1.ConditionSelected && (c.Status != corev1.ConditionFalse || c.Reason != NotExecuted):
			t.Errorf("condition %+v, want False with reason %s", c, NotExecuted)
		case c.Type == v1alpha1.ConditionAllInjected && (c.Status != corev1.ConditionFalse || !strings.Contains(c.Reason, "does not execute StressChaos")):
			t.Errorf("condition %+v, want False saying the lab does not execute StressChaos", c)
		}
	}
	in, _ := chaosmesh.InjectionOf(u)
	if in.Injected || !strings.Contains(in.Message, "does not execute StressChaos") {
		t.Errorf("rebound reads %+v, want not injected, saying why", in)
	}
	h.mustSync(k)
	if ev := h.takeEvents(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning NotSupported "+NotExecutedPrefix) {
		t.Errorf("events %v, want one NotSupported warning (once, not per sync)", ev)
	}
}

func TestNothingSelected(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	k := h.create(podKill("kill", "gone"))
	if _, err := h.sync(k); err != nil {
		t.Errorf("nothing selected is retried: %v", err)
	}
	_, obj := h.get(k)
	st := obj.GetStatus()
	if st.Experiment.Records != nil || st.Conditions[0].Status != corev1.ConditionFalse || !strings.Contains(st.Conditions[0].Reason, "no pod is selected") {
		t.Errorf("status %+v, want no records and Selected False saying no pod is selected", st)
	}
}

func TestPodFailureHoldsThePodUntilRecovered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pc := podKill("fail", "etcd-1", "etcd-2")
	pc.Spec.Action = v1alpha1.PodFailureAction
	pc.Spec.Duration = ptr.To("30s")
	k := h.create(pc)
	h.mustSync(k)
	for _, name := range []string{"etcd-1", "etcd-2"} {
		p, err := h.kube.CoreV1().Pods("db").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if by := PodFailedBy(p); !slices.Equal(by, []string{"db/fail"}) {
			t.Errorf("pod %s failed by %v, want [db/fail]", name, by)
		}
	}
	h.now = created.Add(31 * time.Second)
	h.mustSync(k)
	for _, name := range []string{"etcd-1", "etcd-2"} {
		p, _ := h.kube.CoreV1().Pods("db").Get(context.Background(), name, metav1.GetOptions{})
		if by := PodFailedBy(p); len(by) != 0 {
			t.Errorf("pod %s still failed by %v after the duration", name, by)
		}
	}
	h.wantState(k, state{desired: v1alpha1.StoppedPhase, records: []string{".db/etcd-1=Not Injected 1/1", ".db/etcd-2=Not Injected 1/1"}, conditions: recoveredConds, finalizer: true})
}

func TestContainerKill(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pc := podKill("ck", "etcd-0", "etcd-1")
	pc.Spec.Action = v1alpha1.ContainerKillAction
	pc.Spec.ContainerNames = []string{"sidecar"}
	k := h.create(pc)
	h.pods.fail = errors.New("container sidecar of pod db/etcd-1 is not running")
	if _, err := h.sync(k); err == nil {
		t.Error("a failed kill is not retried")
	}
	h.pods.fail = nil
	h.mustSync(k)
	slices.Sort(h.pods.killed)
	if !slices.Equal(h.pods.killed, []string{"db/etcd-0/sidecar", "db/etcd-1/sidecar"}) {
		t.Errorf("killed %v", h.pods.killed)
	}
	h.wantState(k, state{desired: v1alpha1.RunningPhase, records: []string{".db/etcd-0/sidecar=Injected 1/0", ".db/etcd-1/sidecar=Injected 1/0"}, conditions: injectedConds, finalizer: true})
}

func TestRefusedNetworkFields(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*v1alpha1.NetworkChaos){
		"externalTargets":   func(n *v1alpha1.NetworkChaos) { n.Spec.ExternalTargets = []string{"8.8.8.8"} },
		"device":            func(n *v1alpha1.NetworkChaos) { n.Spec.Device = "eth1" },
		"partitionBehavior": func(n *v1alpha1.NetworkChaos) { n.Spec.PartitionBehavior = v1alpha1.RejectPartitionBehavior },
		"direction":         func(n *v1alpha1.NetworkChaos) { n.Spec.Direction = "sideways" },
		"action":            func(n *v1alpha1.NetworkChaos) { n.Spec.Action = "blackhole" },
		"loss.loss": func(n *v1alpha1.NetworkChaos) {
			n.Spec.Action, n.Spec.Loss = v1alpha1.LossAction, &v1alpha1.LossSpec{Loss: "0.5"}
		},
		"loss.correlation": func(n *v1alpha1.NetworkChaos) {
			n.Spec.Action, n.Spec.Loss = v1alpha1.LossAction, &v1alpha1.LossSpec{Loss: "30", Correlation: "25"}
		},
	} {
		nc := partition("x", time.Minute, v1alpha1.To)
		edit(nc)
		_, _, err := netFault(nc, ".")
		var re *refusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), strings.ToLower(name[:1])+name[1:]) && !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want a refusal naming it", name, err)
		}
	}
}

func TestOnlyTheOwnersChangesTriggerAReconcile(t *testing.T) {
	t.Parallel()
	base := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "x", "finalizers": []any{Finalizer}},
		"spec":     map[string]any{"action": "partition"},
		"status":   map[string]any{"experiment": map[string]any{"desiredPhase": "Run"}},
	}}
	for name, tc := range map[string]struct {
		edit func(u *unstructured.Unstructured)
		want bool
	}{
		"status only (the controller's write)": {func(u *unstructured.Unstructured) {
			u.Object["status"] = map[string]any{"experiment": map[string]any{"desiredPhase": "Stop"}}
			u.SetResourceVersion("2")
		}, false},
		"spec": {func(u *unstructured.Unstructured) { u.Object["spec"] = map[string]any{"action": "loss"} }, true},
		"pause": {func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{v1alpha1.PauseAnnotationKey: "true"})
		}, true},
		"finalizers": {func(u *unstructured.Unstructured) { u.SetFinalizers(nil) }, true},
		"deletion":   {func(u *unstructured.Unstructured) { now := metav1.Now(); u.SetDeletionTimestamp(&now) }, true},
	} {
		cur := base.DeepCopy()
		tc.edit(cur)
		if got := ownerChanged(base, cur); got != tc.want {
			t.Errorf("%s: reconcile %v, want %v", name, got, tc.want)
		}
	}
}
