package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
)

// errNoPodSelected is Chaos Mesh's selection error when nothing matches.
var errNoPodSelected = errors.New("no pod is selected")

// target is one thing a selector picked: a pod, or one container of it.
type target struct {
	pod       *corev1.Pod
	container string // "" when the target is the pod
}

// id is the record id Chaos Mesh gives the target: "namespace/pod", or
// "namespace/pod/container" for a container.
func (t target) id() string {
	id := t.pod.Namespace + "/" + t.pod.Name
	if t.container != "" {
		id += "/" + t.container
	}
	return id
}

// parseID splits a record id back into namespace, pod and container.
func parseID(id string) (namespace, pod, container string, err error) {
	parts := strings.Split(id, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], "", nil
	case len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "":
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", fmt.Errorf("record id %q is neither namespace/pod nor namespace/pod/container", id)
}

// selector picks the targets of a selector spec, as Chaos Mesh's
// pkg/selector does for pods and containers.
type selector struct {
	kube kubernetes.Interface
	// intn returns a number in [0, n); rand.IntN unless a test fixes it.
	intn func(n int) int
}

// selectTargets returns the targets of one of an experiment's selector
// specs (a *v1alpha1.PodSelector or *v1alpha1.ContainerSelector). A spec
// with no namespace and no pods list selects in the experiment's own
// namespace, as Chaos Mesh's defaulting webhook (which the lab does not
// run) would have set.
func (s *selector) selectTargets(ctx context.Context, spec any, namespace string) ([]target, error) {
	var ps v1alpha1.PodSelector
	var containers []string
	container := false
	switch sp := spec.(type) {
	case *v1alpha1.PodSelector:
		ps = *sp.DeepCopy()
	case *v1alpha1.ContainerSelector:
		ps = *sp.PodSelector.DeepCopy()
		containers, container = sp.ContainerNames, true
	default:
		return nil, fmt.Errorf("selector of type %T is not a pod or container selector: the lab selects only pods", spec)
	}
	if len(ps.Selector.Namespaces) == 0 && len(ps.Selector.Pods) == 0 {
		ps.Selector.Namespaces = []string{namespace}
	}
	pods, err := s.pods(ctx, ps.Selector)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, errNoPodSelected
	}
	idx, err := s.byMode(ps.Mode, ps.Value, len(pods))
	if err != nil {
		return nil, err
	}
	var out []target
	for _, i := range idx {
		p := pods[i]
		if !container {
			out = append(out, target{pod: p})
			continue
		}
		if len(containers) == 0 {
			if len(p.Spec.Containers) > 0 {
				out = append(out, target{pod: p, container: p.Spec.Containers[0].Name})
			}
			continue
		}
		for _, c := range p.Spec.Containers {
			if slices.Contains(containers, c.Name) {
				out = append(out, target{pod: p, container: c.Name})
			}
		}
	}
	return out, nil
}

// pods lists the pods a selector spec matches, sorted by namespace and
// name. Named pods (spec.pods) are taken as they are, without the other
// criteria, and skipped when missing, as Chaos Mesh does.
func (s *selector) pods(ctx context.Context, spec v1alpha1.PodSelectorSpec) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	if len(spec.Pods) > 0 {
		for _, ns := range sortedKeys(spec.Pods) {
			for _, name := range spec.Pods[ns] {
				p, err := s.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("get pod %s/%s: %w", ns, name, err)
				}
				out = append(out, p)
			}
		}
		return out, nil
	}

	ls, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: spec.LabelSelectors, MatchExpressions: spec.ExpressionSelectors})
	if err != nil {
		return nil, fmt.Errorf("labelSelectors/expressionSelectors: %w", err)
	}
	fs := fields.Everything()
	if len(spec.FieldSelectors) > 0 {
		fs = fields.SelectorFromSet(spec.FieldSelectors)
	}
	as := labels.Everything()
	if len(spec.AnnotationSelectors) > 0 {
		as = labels.SelectorFromSet(spec.AnnotationSelectors)
	}
	phase, err := phaseMatcher(spec.PodPhaseSelectors)
	if err != nil {
		return nil, err
	}
	onNode, err := s.nodeMatcher(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, ns := range spec.Namespaces {
		l, err := s.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: ls.String(), FieldSelector: fs.String()})
		if err != nil {
			return nil, fmt.Errorf("list pods in %s: %w", ns, err)
		}
		for i := range l.Items {
			p := &l.Items[i]
			// The API server applied the label and field selectors; they
			// are checked again here, for the fields a pod supports.
			if ls.Matches(labels.Set(p.Labels)) && fs.Matches(podFields(p)) && as.Matches(labels.Set(p.Annotations)) && phase(p) && onNode(p) {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out, nil
}

// podFields are the pod fields the API server lets field selectors use.
func podFields(p *corev1.Pod) fields.Set {
	return fields.Set{
		"metadata.name":            p.Name,
		"metadata.namespace":       p.Namespace,
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             p.Status.PodIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

// phaseMatcher reads podPhaseSelectors as Chaos Mesh does: "Running"
// includes pods in that phase, "!Failed" excludes them; none matches all.
func phaseMatcher(sel []string) (func(*corev1.Pod) bool, error) {
	if len(sel) == 0 {
		return func(*corev1.Pod) bool { return true }, nil
	}
	parsed, err := labels.Parse(strings.Join(sel, ","))
	if err != nil {
		return nil, fmt.Errorf("podPhaseSelectors %v: %w", sel, err)
	}
	reqs, _ := parsed.Requirements()
	var incl, excl []labels.Requirement
	for _, r := range reqs {
		switch r.Operator() {
		case selection.Exists:
			incl = append(incl, r)
		case selection.DoesNotExist:
			excl = append(excl, r)
		default:
			return nil, fmt.Errorf("podPhaseSelectors %v: operator %s is not supported: give phases, or !phase to exclude one", sel, r.Operator())
		}
	}
	return func(p *corev1.Pod) bool {
		set := labels.Set{string(p.Status.Phase): ""}
		for _, r := range excl {
			if !r.Matches(set) {
				return false
			}
		}
		if len(incl) == 0 {
			return true
		}
		for _, r := range incl {
			if r.Matches(set) {
				return true
			}
		}
		return false
	}, nil
}

// nodeMatcher keeps the pods on the nodes named in spec.nodes or matching
// spec.nodeSelectors (either), or every pod when neither is given.
func (s *selector) nodeMatcher(ctx context.Context, spec v1alpha1.PodSelectorSpec) (func(*corev1.Pod) bool, error) {
	if len(spec.Nodes) == 0 && len(spec.NodeSelectors) == 0 {
		return func(*corev1.Pod) bool { return true }, nil
	}
	nodes := map[string]bool{}
	for _, n := range spec.Nodes {
		if _, err := s.kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("node %s of the selector: %w", n, err)
		}
		nodes[n] = true
	}
	if len(spec.NodeSelectors) > 0 {
		l, err := s.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(spec.NodeSelectors).String()})
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		sel := labels.SelectorFromSet(spec.NodeSelectors)
		for _, n := range l.Items {
			if sel.Matches(labels.Set(n.Labels)) {
				nodes[n.Name] = true
			}
		}
	}
	return func(p *corev1.Pod) bool { return nodes[p.Spec.NodeName] }, nil
}

// byMode picks indexes out of n candidates by Chaos Mesh's selector modes:
// one at random, all, a fixed number, a fixed percentage (rounded up), or
// a random percentage up to a maximum.
func (s *selector) byMode(mode v1alpha1.SelectorMode, value string, n int) ([]int, error) {
	if n == 0 {
		return nil, errNoPodSelected
	}
	intn := s.intn
	if intn == nil {
		intn = rand.IntN
	}
	pick := func(k int) []int {
		if k >= n {
			all := make([]int, n)
			for i := range all {
				all[i] = i
			}
			return all
		}
		// A partial Fisher-Yates shuffle: k distinct indexes.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		for i := 0; i < k; i++ {
			j := i + intn(n-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		out := idx[:k]
		slices.Sort(out)
		return out
	}
	number := func() (int, error) {
		v, err := strconv.Atoi(value)
		if err != nil {
			return 0, fmt.Errorf("mode %s needs a whole number as value, got %q", mode, value)
		}
		return v, nil
	}
	switch mode {
	case v1alpha1.OneMode:
		return pick(1), nil
	case v1alpha1.AllMode, "":
		return pick(n), nil
	case v1alpha1.FixedMode:
		v, err := number()
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("mode fixed selects nothing with value %d: give 1 or more", v)
		}
		return pick(v), nil
	case v1alpha1.FixedPercentMode, v1alpha1.RandomMaxPercentMode:
		v, err := number()
		if err != nil {
			return nil, err
		}
		if v <= 0 || v > 100 {
			return nil, fmt.Errorf("mode %s needs a percentage in (0,100] as value, got %d", mode, v)
		}
		if mode == v1alpha1.RandomMaxPercentMode {
			v = intn(v + 1) // 0 to v, as Chaos Mesh draws it
		}
		return pick(int(math.Ceil(float64(n) * float64(v) / 100))), nil
	}
	return nil, fmt.Errorf("mode %q is not supported: give one, all, fixed, fixed-percent or random-max-percent", mode)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
