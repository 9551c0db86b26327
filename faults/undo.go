package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab/netfault"
)

// Undo kinds.
const (
	undoLabNode  = "lab-node-power" // args: node, action (start)
	undoLabPod   = "lab-pod"        // args: namespace, pod, action (thaw)
	undoLabDisk  = "lab-disk"       // args: namespace, pvc, action (readwrite, unfill)
	undoLabNet   = "lab-net-heal"   // args: id
	undoUncordon = "uncordon"       // args: node
	undoUntaint  = "remove-taint"   // args: node, key, effect
	undoDelete   = "delete-object"  // args: group, version, resource, namespace, name
	undoScale    = "scale"          // args: namespace, statefulset, replicas
	undoPods     = "delete-pods"    // args: namespace, selector
)

// DeleteObjectUndo is the step that deletes one object (a Chaos Mesh
// resource, a data mover's key Secret); core objects have group "".
func DeleteObjectUndo(group, version, resource, namespace, name string) journal.Undo {
	return journal.Undo{Kind: undoDelete, Args: map[string]string{
		"group": group, "version": version, "resource": resource, "namespace": namespace, "name": name,
	}, Describe: fmt.Sprintf("delete %s %s/%s", resource, namespace, name)}
}

// DeletePodsUndo is the step that deletes, at once, every pod of namespace
// matching selector (a label selector, never empty: it would match every
// pod), such as the data movers of one backup.
func DeletePodsUndo(namespace, selector string) journal.Undo {
	return journal.Undo{Kind: undoPods, Args: map[string]string{"namespace": namespace, "selector": selector},
		Describe: fmt.Sprintf("delete the pods of %s matching %s", namespace, selector)}
}

// LabNetHealUndo is the step that heals one lab network fault (and lets
// the nodes it cut off from the control plane heartbeat again).
func LabNetHealUndo(id netfault.ID) journal.Undo {
	return journal.Undo{Kind: undoLabNet, Args: map[string]string{"id": string(id)}, Describe: "heal lab network fault " + string(id)}
}

var errNoLab = errors.New("this undo step acts on the lab, and the target cluster is not the lab (or the lab is down)")

// RunUndo runs one undo step.
func RunUndo(ctx context.Context, env *Env, u journal.Undo) error {
	a := u.Args
	switch u.Kind {
	case undoLabNode:
		if env.Lab == nil {
			return errNoLab
		}
		return env.Lab.NodePower(ctx, a["node"], a["action"])
	case undoLabPod:
		if env.Lab == nil {
			return errNoLab
		}
		return env.Lab.PodPause(ctx, a["namespace"], a["pod"], a["action"])
	case undoLabDisk:
		if env.Lab == nil {
			return errNoLab
		}
		_, err := env.Lab.DiskFault(ctx, a["namespace"], a["pvc"], a["action"])
		return err
	case undoLabNet:
		if env.Lab == nil {
			return errNoLab
		}
		err := env.Lab.NetHeal(ctx, netfault.ID(a["id"]))
		if errors.Is(err, netfault.ErrUnknownFault) {
			return nil // never applied (the run died before), or healed already
		}
		return err
	case undoUncordon:
		return setUnschedulable(ctx, env, a["node"], false)
	case undoUntaint:
		return removeTaint(ctx, env, a["node"], a["key"], corev1.TaintEffect(a["effect"]))
	case undoDelete:
		gvr := schema.GroupVersionResource{Group: a["group"], Version: a["version"], Resource: a["resource"]}
		err := env.Dynamic.Resource(gvr).Namespace(a["namespace"]).Delete(ctx, a["name"], metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	case undoPods:
		return deletePods(ctx, env, a["namespace"], a["selector"])
	case undoScale:
		n, err := strconv.Atoi(a["replicas"])
		if err != nil {
			return err
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": n}})
		_, err = env.Kube.AppsV1().StatefulSets(a["namespace"]).Patch(ctx, a["statefulset"], types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	return fmt.Errorf("unknown undo step %q (journal written by a newer rebound?)", u.Kind)
}

func setUnschedulable(ctx context.Context, env *Env, node string, on bool) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"unschedulable": on}})
	_, err := env.Kube.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) && !on {
		return nil // the node is gone: nothing to uncordon
	}
	return err
}

func removeTaint(ctx context.Context, env *Env, node, key string, effect corev1.TaintEffect) error {
	n, err := env.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Key != key || t.Effect != effect {
			kept = append(kept, t)
		}
	}
	if len(kept) == len(n.Spec.Taints) {
		return nil
	}
	n.Spec.Taints = kept
	_, err = env.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	return err
}

// deletePods deletes the pods matching selector one by one, with no grace
// period: they are rebound's own (data movers), and a leftover would keep
// the repository key mounted.
func deletePods(ctx context.Context, env *Env, ns, selector string) error {
	if ns == "" {
		return errors.New("delete pods: the journal entry names no namespace")
	}
	if _, err := labels.Parse(selector); err != nil || strings.TrimSpace(selector) == "" {
		return fmt.Errorf("delete pods in %s: selector %q: want a non-empty label selector (an empty one would delete every pod)", ns, selector)
	}
	list, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list the pods of %s matching %s: %w", ns, selector, err)
	}
	var errs []error
	for _, p := range list.Items {
		err := env.Kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", ns, p.Name, err))
		}
	}
	return errors.Join(errs...)
}
