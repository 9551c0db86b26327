package mover

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelGroup labels the data-mover pods of one operation with its token:
// the spread and anti-affinity rules CopyScheduling writes count these
// pods.
const LabelGroup = "rebound.dev/mover-group"

// CopyScheduling gives a mover pod the placement rules of the app's pods,
// with the spread and anti-affinity rules counting the movers of the pod's
// own group (LabelGroup) instead of the app's pods (which do not run
// during a restore). The volumes the movers make are then where the app's
// pods may run.
func CopyScheduling(dst *corev1.Pod, src *corev1.PodSpec) {
	d := &dst.Spec
	d.NodeSelector = src.NodeSelector
	d.Tolerations = src.Tolerations
	d.SecurityContext = src.SecurityContext.DeepCopy()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{LabelGroup: dst.Labels[LabelGroup]}}
	if a := src.Affinity; a != nil {
		d.Affinity = &corev1.Affinity{NodeAffinity: a.NodeAffinity.DeepCopy()}
		if aa := a.PodAntiAffinity; aa != nil {
			anti := &corev1.PodAntiAffinity{}
			for _, t := range aa.RequiredDuringSchedulingIgnoredDuringExecution {
				t = *t.DeepCopy()
				t.LabelSelector, t.NamespaceSelector, t.Namespaces, t.MatchLabelKeys, t.MismatchLabelKeys = sel, nil, nil, nil, nil
				anti.RequiredDuringSchedulingIgnoredDuringExecution = append(anti.RequiredDuringSchedulingIgnoredDuringExecution, t)
			}
			for _, w := range aa.PreferredDuringSchedulingIgnoredDuringExecution {
				w = *w.DeepCopy()
				w.PodAffinityTerm.LabelSelector, w.PodAffinityTerm.NamespaceSelector, w.PodAffinityTerm.Namespaces = sel, nil, nil
				w.PodAffinityTerm.MatchLabelKeys, w.PodAffinityTerm.MismatchLabelKeys = nil, nil
				anti.PreferredDuringSchedulingIgnoredDuringExecution = append(anti.PreferredDuringSchedulingIgnoredDuringExecution, w)
			}
			d.Affinity.PodAntiAffinity = anti
		}
	}
	for _, t := range src.TopologySpreadConstraints {
		t = *t.DeepCopy()
		t.LabelSelector, t.MatchLabelKeys = sel, nil
		d.TopologySpreadConstraints = append(d.TopologySpreadConstraints, t)
	}
}
