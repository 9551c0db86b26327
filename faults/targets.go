package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/reboundhq/rebound/scenarios"
)

// appPods lists the app's pods, by name.
func appPods(ctx context.Context, env *Env) ([]corev1.Pod, error) {
	pods, err := env.Kube.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: env.Selector.String()})
	if err != nil {
		return nil, fmt.Errorf("list app pods: %w", err)
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("no pod in namespace %s matches %s", env.Namespace, env.Selector)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	return pods.Items, nil
}

// memberPod picks the pod a member-scoped fault acts on: the named one, the
// leader's, or else the first.
func memberPod(ctx context.Context, env *Env, f scenarios.Fault) (*corev1.Pod, error) {
	pods, err := appPods(ctx, env)
	if err != nil {
		return nil, err
	}
	name := f.Pod
	if f.Leader || f.Follower {
		leader, err := env.Driver.Leader(ctx)
		if err != nil {
			return nil, fmt.Errorf("find the leader: %w", err)
		}
		name = leader
		if f.Follower {
			name = ""
			for _, p := range pods {
				if p.Name != leader {
					name = p.Name
					break
				}
			}
			if name == "" {
				return nil, fmt.Errorf("no member but the leader %s: nothing to pick as a follower", leader)
			}
		}
	}
	if name == "" {
		return &pods[0], nil
	}
	for i := range pods {
		if pods[i].Name == name {
			return &pods[i], nil
		}
	}
	return nil, fmt.Errorf("pod %q is not one of the app's pods in %s", name, env.Namespace)
}

// targetNodes picks the node(s) of a node-scoped fault: by name, by
// selector, or the node of the leader.
func targetNodes(ctx context.Context, env *Env, f scenarios.Fault) ([]string, error) {
	switch {
	case f.Node != "":
		if _, err := env.Kube.CoreV1().Nodes().Get(ctx, f.Node, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("node %q: %w", f.Node, err)
		}
		return []string{f.Node}, nil
	case len(f.NodeSelector) > 0:
		nodes, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(f.NodeSelector).String()})
		if err != nil {
			return nil, err
		}
		if len(nodes.Items) == 0 {
			return nil, fmt.Errorf("no node matches %v", f.NodeSelector)
		}
		// One node: a selector narrows the choice, it does not widen the blast radius.
		sort.Slice(nodes.Items, func(i, j int) bool { return nodes.Items[i].Name < nodes.Items[j].Name })
		return []string{nodes.Items[0].Name}, nil
	}
	pod, err := memberPod(ctx, env, f)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, fmt.Errorf("pod %s is not scheduled on a node", pod.Name)
	}
	return []string{pod.Spec.NodeName}, nil
}

// targetZone picks the zone of a zone-scoped fault: named, or the leader's.
func targetZone(ctx context.Context, env *Env, f scenarios.Fault) (string, []string, error) {
	zone := f.Zone
	if zone == "" {
		nodes, err := targetNodes(ctx, env, scenarios.Fault{Leader: true})
		if err != nil {
			return "", nil, err
		}
		n, err := env.Kube.CoreV1().Nodes().Get(ctx, nodes[0], metav1.GetOptions{})
		if err != nil {
			return "", nil, err
		}
		zone = n.Labels[corev1.LabelTopologyZone]
		if zone == "" {
			return "", nil, fmt.Errorf("node %s has no %s label", n.Name, corev1.LabelTopologyZone)
		}
	}
	nodes, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: corev1.LabelTopologyZone + "=" + zone})
	if err != nil {
		return "", nil, err
	}
	if len(nodes.Items) == 0 {
		return "", nil, fmt.Errorf("no node is in zone %q", zone)
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return zone, names, nil
}

// volumeOf picks the PVC of a volume-scoped fault: named, or the one of the
// member pod (its first PVC).
func volumeOf(ctx context.Context, env *Env, f scenarios.Fault) (string, *corev1.Pod, error) {
	if f.PVC != "" {
		pods, err := appPods(ctx, env)
		if err != nil {
			return "", nil, err
		}
		for i := range pods {
			for _, v := range pods[i].Spec.Volumes {
				if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == f.PVC {
					return f.PVC, &pods[i], nil
				}
			}
		}
		return f.PVC, nil, nil
	}
	pod, err := memberPod(ctx, env, f)
	if err != nil {
		return "", nil, err
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName, pod, nil
		}
	}
	return "", nil, fmt.Errorf("pod %s has no PersistentVolumeClaim", pod.Name)
}

var errNeedsLab = errors.New("needs the lab: the target cluster is not a rebound lab (use via: chaos-mesh or native)")
