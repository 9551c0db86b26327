package chaos

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// podBuilder makes a pod for the API server stand-in.
type podBuilder struct{ p *corev1.Pod }

func newPod(ns, name string) *podBuilder {
	return &podBuilder{p: &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}, {Name: "sidecar"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}}
}

func (b *podBuilder) labels(kv ...string) *podBuilder {
	b.p.Labels = map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		b.p.Labels[kv[i]] = kv[i+1]
	}
	return b
}
func (b *podBuilder) annotation(k, v string) *podBuilder {
	b.p.Annotations = map[string]string{k: v}
	return b
}
func (b *podBuilder) node(n string) *podBuilder           { b.p.Spec.NodeName = n; return b }
func (b *podBuilder) phase(p corev1.PodPhase) *podBuilder { b.p.Status.Phase = p; return b }
func (b *podBuilder) ip(ip string) *podBuilder {
	b.p.Status.PodIP = ip
	b.p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	return b
}

func node(name, zone string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyZone: zone}}}
}

// apiServerStandIn is client-go's fake clientset holding objs: it stands
// in for the lab's API server.
func apiServerStandIn(objs ...runtime.Object) *fake.Clientset { return fake.NewClientset(objs...) }

// labPods are six pods over three zones, two namespaces.
func labPods() []runtime.Object {
	return []runtime.Object{
		node("n-a", "a"), node("n-b", "b"), node("n-c", "c"),
		newPod("db", "etcd-0").labels("app", "etcd", "tier", "data").node("n-a").ip("10.20.1.2").p,
		newPod("db", "etcd-1").labels("app", "etcd", "tier", "data").node("n-b").ip("10.20.2.2").p,
		newPod("db", "etcd-2").labels("app", "etcd", "tier", "data").node("n-c").ip("10.20.3.2").annotation("canary", "yes").p,
		newPod("db", "client").labels("app", "client").node("n-a").ip("10.20.1.3").p,
		newPod("db", "done").labels("app", "etcd").node("n-a").phase(corev1.PodSucceeded).p,
		newPod("other", "etcd-0").labels("app", "etcd").node("n-b").ip("10.20.2.3").p,
	}
}

func ids(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.id())
	}
	slices.Sort(out)
	return out
}

func TestSelectTargets(t *testing.T) {
	t.Parallel()
	all := v1alpha1.AllMode
	sel := func(spec v1alpha1.PodSelectorSpec) *v1alpha1.PodSelector {
		return &v1alpha1.PodSelector{Selector: spec, Mode: all}
	}
	generic := func(g v1alpha1.GenericSelectorSpec) v1alpha1.PodSelectorSpec {
		return v1alpha1.PodSelectorSpec{GenericSelectorSpec: g}
	}
	for _, tc := range []struct {
		name string
		spec any
		want []string
		err  string
	}{
		{"labels in the experiment's namespace by default", sel(generic(v1alpha1.GenericSelectorSpec{LabelSelectors: map[string]string{"app": "etcd"}})),
			[]string{"db/done", "db/etcd-0", "db/etcd-1", "db/etcd-2"}, ""},
		{"labels across namespaces", sel(generic(v1alpha1.GenericSelectorSpec{Namespaces: []string{"db", "other"}, LabelSelectors: map[string]string{"tier": "data"}})),
			[]string{"db/etcd-0", "db/etcd-1", "db/etcd-2"}, ""},
		{"label expressions", sel(generic(v1alpha1.GenericSelectorSpec{ExpressionSelectors: v1alpha1.LabelSelectorRequirements{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"etcd"}}}})),
			[]string{"db/client"}, ""},
		{"annotations", sel(generic(v1alpha1.GenericSelectorSpec{AnnotationSelectors: map[string]string{"canary": "yes"}})),
			[]string{"db/etcd-2"}, ""},
		{"fields", sel(generic(v1alpha1.GenericSelectorSpec{FieldSelectors: map[string]string{"metadata.name": "etcd-1"}})),
			[]string{"db/etcd-1"}, ""},
		{"phases", sel(v1alpha1.PodSelectorSpec{GenericSelectorSpec: v1alpha1.GenericSelectorSpec{LabelSelectors: map[string]string{"app": "etcd"}}, PodPhaseSelectors: []string{"Succeeded"}}),
			[]string{"db/done"}, ""},
		{"phase excluded", sel(v1alpha1.PodSelectorSpec{GenericSelectorSpec: v1alpha1.GenericSelectorSpec{LabelSelectors: map[string]string{"app": "etcd"}}, PodPhaseSelectors: []string{"!Succeeded"}}),
			[]string{"db/etcd-0", "db/etcd-1", "db/etcd-2"}, ""},
		{"node labels (a zone)", sel(v1alpha1.PodSelectorSpec{NodeSelectors: map[string]string{corev1.LabelTopologyZone: "a"}}),
			[]string{"db/client", "db/done", "db/etcd-0"}, ""},
		{"node names", sel(v1alpha1.PodSelectorSpec{Nodes: []string{"n-b"}, GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: []string{"db", "other"}}}),
			[]string{"db/etcd-1", "other/etcd-0"}, ""},
		{"named pods, a missing one skipped", sel(v1alpha1.PodSelectorSpec{Pods: map[string][]string{"db": {"etcd-2", "gone"}, "other": {"etcd-0"}}}),
			[]string{"db/etcd-2", "other/etcd-0"}, ""},
		{"nothing matches", sel(generic(v1alpha1.GenericSelectorSpec{LabelSelectors: map[string]string{"app": "nope"}})),
			nil, "no pod is selected"},
		{"containers: the first by default", &v1alpha1.ContainerSelector{PodSelector: *sel(v1alpha1.PodSelectorSpec{Pods: map[string][]string{"db": {"etcd-0"}}})},
			[]string{"db/etcd-0/main"}, ""},
		{"containers by name", &v1alpha1.ContainerSelector{PodSelector: *sel(v1alpha1.PodSelectorSpec{Pods: map[string][]string{"db": {"etcd-0", "etcd-1"}}}), ContainerNames: []string{"sidecar"}},
			[]string{"db/etcd-0/sidecar", "db/etcd-1/sidecar"}, ""},
		{"not a pod selector", &v1alpha1.AWSSelector{}, nil, "the lab selects only pods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &selector{kube: apiServerStandIn(labPods()...)}
			got, err := s.selectTargets(context.Background(), tc.spec, "db")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); !slices.Equal(g, tc.want) {
				t.Errorf("selected %v, want %v", g, tc.want)
			}
		})
	}
}

func TestByMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode  v1alpha1.SelectorMode
		value string
		n     int
		// draw is what the random source returns every time.
		draw int
		want int
		err  string
	}{
		{v1alpha1.OneMode, "", 5, 0, 1, ""},
		{v1alpha1.AllMode, "", 5, 0, 5, ""},
		{"", "", 3, 0, 3, ""},
		{v1alpha1.FixedMode, "2", 5, 0, 2, ""},
		{v1alpha1.FixedMode, "9", 5, 0, 5, ""},
		{v1alpha1.FixedMode, "0", 5, 0, 0, "selects nothing"},
		{v1alpha1.FixedMode, "two", 5, 0, 0, "whole number"},
		{v1alpha1.FixedPercentMode, "50", 5, 0, 3, ""}, // rounded up
		{v1alpha1.FixedPercentMode, "100", 5, 0, 5, ""},
		{v1alpha1.FixedPercentMode, "101", 5, 0, 0, "(0,100]"},
		{v1alpha1.RandomMaxPercentMode, "60", 5, 40, 2, ""}, // draws 40 %: ceil(2.0)
		{v1alpha1.RandomMaxPercentMode, "60", 5, 0, 0, ""},  // draws 0 %: nothing
		{"sometimes", "", 5, 0, 0, "not supported"},
	} {
		s := &selector{intn: func(n int) int { return min(tc.draw, n-1) }}
		got, err := s.byMode(tc.mode, tc.value, tc.n)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q of %d: err %v, want one saying %q", tc.mode, tc.value, tc.n, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q of %d: %v", tc.mode, tc.value, tc.n, err)
			continue
		}
		if len(got) != tc.want {
			t.Errorf("%s %q of %d picked %v, want %d", tc.mode, tc.value, tc.n, got, tc.want)
		}
		seen := map[int]bool{}
		for _, i := range got {
			if i < 0 || i >= tc.n || seen[i] {
				t.Errorf("%s %q of %d picked %v: out of range or twice", tc.mode, tc.value, tc.n, got)
			}
			seen[i] = true
		}
	}
}

// TestByModeIsRandom wants "one" to pick each candidate some of the time.
func TestByModeIsRandom(t *testing.T) {
	t.Parallel()
	s := &selector{}
	seen := map[int]bool{}
	for range 500 {
		got, err := s.byMode(v1alpha1.OneMode, "", 3)
		if err != nil {
			t.Fatal(err)
		}
		seen[got[0]] = true
	}
	if len(seen) != 3 {
		t.Errorf("mode one over 3 pods picked only %v in 500 draws", seen)
	}
}
