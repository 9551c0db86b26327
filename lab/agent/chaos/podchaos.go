package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodFailureAnnotationPrefix starts the annotation a pod-failure puts on
// each pod it fails, one per experiment (the rest of the key is the
// experiment's UID, the value its namespace/name). While a pod carries
// one, the lab's node agent keeps the pod's containers from running: the
// lab's stand-in for the pause image Chaos Mesh swaps in, with the same
// effect (containers down, the pod not ready) and, as there, undone by
// removing it.
const PodFailureAnnotationPrefix = "pod-failure.chaos.rebound.dev/"

// PodFailedBy names the pod-failure experiments holding a pod's
// containers down, from its annotations; none when it runs normally.
func PodFailedBy(pod *corev1.Pod) []string {
	var by []string
	for k, v := range pod.Annotations {
		if strings.HasPrefix(k, PodFailureAnnotationPrefix) {
			by = append(by, v)
		}
	}
	return by
}

// podChaos executes PodChaos: pod-kill deletes the pod with the
// experiment's grace period, container-kill SIGKILLs one container through
// the agent (which restarts it by the pod's policy), pod-failure keeps the
// pod's containers down until recovered.
type podChaos struct{ c *Controller }

func (p *podChaos) apply(ctx context.Context, obj v1alpha1.InnerObject, records []*v1alpha1.Record, i int) (v1alpha1.Phase, error) {
	pc := obj.(*v1alpha1.PodChaos)
	ns, name, container, err := parseID(records[i].Id)
	if err != nil {
		return v1alpha1.NotInjected, err
	}
	kube := p.c.kube.CoreV1().Pods(ns)
	switch pc.Spec.Action {
	case v1alpha1.PodKillAction:
		grace := pc.Spec.GracePeriod
		if err := kube.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
			return v1alpha1.NotInjected, fmt.Errorf("delete pod %s/%s: %w", ns, name, err)
		}
		return v1alpha1.Injected, nil
	case v1alpha1.ContainerKillAction:
		if p.c.pods == nil {
			return v1alpha1.NotInjected, refused("container-kill needs the lab's node agent, which is not running this controller")
		}
		if err := p.c.pods.KillContainer(ctx, ns, name, container); err != nil {
			return v1alpha1.NotInjected, fmt.Errorf("kill container %s of pod %s/%s: %w", container, ns, name, err)
		}
		return v1alpha1.Injected, nil
	case v1alpha1.PodFailureAction:
		if err := annotatePod(ctx, p.c, ns, name, failureKey(pc), objName(pc)); err != nil {
			return v1alpha1.NotInjected, err
		}
		return v1alpha1.Injected, nil
	}
	return v1alpha1.NotInjected, refused("PodChaos action %q is not one the lab executes (it executes %s)", pc.Spec.Action, strings.Join(executed[v1alpha1.KindPodChaos], ", "))
}

func (p *podChaos) recover(ctx context.Context, obj v1alpha1.InnerObject, records []*v1alpha1.Record, i int) (v1alpha1.Phase, error) {
	pc := obj.(*v1alpha1.PodChaos)
	if pc.Spec.Action != v1alpha1.PodFailureAction {
		return v1alpha1.NotInjected, nil // one-shot: nothing to undo
	}
	ns, name, _, err := parseID(records[i].Id)
	if err != nil {
		return v1alpha1.NotInjected, err
	}
	err = annotatePod(ctx, p.c, ns, name, failureKey(pc), "")
	if apierrors.IsNotFound(err) {
		return v1alpha1.NotInjected, nil // the pod is gone, and its failure with it
	}
	if err != nil {
		return v1alpha1.Injected, err
	}
	return v1alpha1.NotInjected, nil
}

func failureKey(pc *v1alpha1.PodChaos) string {
	return PodFailureAnnotationPrefix + string(pc.GetUID())
}

// annotatePod sets (value != "") or removes one annotation of a pod with a
// merge patch.
func annotatePod(ctx context.Context, c *Controller, ns, name, key, value string) error {
	var v any
	if value != "" {
		v = value
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: v}}})
	_, err := c.kube.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("annotate pod %s/%s: %w", ns, name, err)
	}
	return nil
}
