package faults

import (
	"context"
	"fmt"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

func init() {
	register(scenarios.FaultDiskWipe, func(f scenarios.Fault) Injector { return labDisk(f, lab.DiskWipe, "", true) })
	register(scenarios.FaultDiskCorrupt, func(f scenarios.Fault) Injector { return labDisk(f, lab.DiskCorrupt, "", true) })
	register(scenarios.FaultDiskReadonly, func(f scenarios.Fault) Injector { return labDisk(f, lab.DiskReadOnly, lab.DiskReadWrite, false) })
	register(scenarios.FaultDiskFill, func(f scenarios.Fault) Injector { return labDisk(f, lab.DiskFill, lab.DiskUnfill, false) })
	register(scenarios.FaultIOChaos, ioChaos)
	register(scenarios.FaultPVCDelete, pvcDelete)
	register(scenarios.FaultPVDelete, pvDelete)
}

// labDisk applies a lab disk fault to a member's volume. A lost or damaged
// disk is noticed when the process next starts from it, so for wipe and
// corrupt the member's pod is killed right after, as a crash would.
func labDisk(f scenarios.Fault, action, undo string, restart bool) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		pvc, pod, err := volumeOf(ctx, env, f)
		if err != nil {
			return nil, err
		}
		p := &Plan{Fault: f.Kind, Targets: []string{"pvc " + pvc}, Duration: f.Duration}
		if f.Via == scenarios.ViaChaosMesh && (action == lab.DiskReadOnly || action == lab.DiskCorrupt) {
			return ioFault(ctx, env, f, p, pod, action)
		}
		if env.Lab == nil {
			return nil, fmt.Errorf("%s: %w", f.Kind, errNeedsLab)
		}
		p.Description = fmt.Sprintf("%s the lab volume of pvc %s", action, pvc)
		if undo != "" {
			p.Undo = []journal.Undo{{Kind: undoLabDisk, Args: map[string]string{"namespace": env.Namespace, "pvc": pvc, "action": undo}, Describe: undo + " the volume of pvc " + pvc}}
		}
		if restart && pod != nil {
			p.Description += " and kill pod " + pod.Name + " so it restarts on it"
			p.Targets = append(p.Targets, pod.Name)
		}
		// Confirmed when DiskFault returns: rebound itself remounts,
		// fills, wipes or corrupts the lab volume, and returns once done;
		// then the API server has accepted the pod's delete.
		p.apply = func(ctx context.Context) error {
			if _, err := env.Lab.DiskFault(ctx, env.Namespace, pvc, action); err != nil {
				return err
			}
			if restart && pod != nil {
				return env.Kube.CoreV1().Pods(env.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
			}
			return nil
		}
		return p, nil
	})
}

// ioFault maps readonly and corrupt onto Chaos Mesh IOChaos on the volume's
// mount path: EROFS on writes, or mistakes in reads.
func ioFault(ctx context.Context, env *Env, f scenarios.Fault, p *Plan, pod *corev1.Pod, action string) (*Plan, error) {
	if pod == nil {
		return nil, fmt.Errorf("%s via chaos-mesh needs a pod using the PVC", f.Kind)
	}
	path := mountPathOf(pod)
	meta := chaosmesh.Meta{Namespace: env.Namespace, Name: objName(env, string(f.Kind)), RunID: env.RunID}
	var obj *v1alpha1.IOChaos
	if action == lab.DiskReadOnly {
		obj = chaosmesh.IOErrors(meta, env.Namespace, pod.Labels, path, 100, 30 /* EROFS */, f.Duration)
	} else {
		obj = chaosmesh.IOErrors(meta, env.Namespace, pod.Labels, path, 100, 5 /* EIO */, f.Duration)
	}
	return chaosPlan(env, p, obj, fmt.Sprintf("%s on %s of pod %s through Chaos Mesh IOChaos", f.Kind, path, pod.Name))
}

func mountPathOf(pod *corev1.Pod) string {
	claims := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = true
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if claims[m.Name] {
				return m.MountPath
			}
		}
	}
	return "/"
}

// ioChaos injects I/O errors or latency on a member's volume path.
func ioChaos(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		pod, err := memberPod(ctx, env, f)
		if err != nil {
			return nil, err
		}
		io := f.IOChaos
		if io == nil {
			return nil, fmt.Errorf("io-chaos needs an ioChaos section")
		}
		path := io.VolumePath
		if path == "" {
			path = mountPathOf(pod)
		}
		meta := chaosmesh.Meta{Namespace: env.Namespace, Name: objName(env, "io-chaos"), RunID: env.RunID}
		sel := map[string]string{"statefulset.kubernetes.io/pod-name": pod.Name}
		var obj *v1alpha1.IOChaos
		if io.Action == v1alpha1.IoLatency {
			obj = chaosmesh.IOLatency(meta, env.Namespace, sel, path, io.Percent, io.Delay, f.Duration)
		} else {
			obj = chaosmesh.IOErrors(meta, env.Namespace, sel, path, io.Percent, io.Errno, f.Duration)
		}
		// The scenario's finer settings pass through as written.
		if io.Action != "" {
			obj.Spec.Action = io.Action
		}
		obj.Spec.Path, obj.Spec.Methods = io.Path, io.Methods
		obj.Spec.Attr, obj.Spec.Mistake = io.Attr, io.Mistake
		return chaosPlan(env, &Plan{Fault: f.Kind, Targets: []string{pod.Name}, Duration: f.Duration}, obj, fmt.Sprintf("%s on %s of pod %s through Chaos Mesh", io.Action, path, pod.Name))
	})
}

// pvcDelete loses one member's claim: the claim is deleted, and so is the
// pod holding it, so the StatefulSet makes the member again on a new,
// empty volume (a lost disk, on any cluster).
func pvcDelete(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		pvc, pod, err := volumeOf(ctx, env, f)
		if err != nil {
			return nil, err
		}
		p := &Plan{Fault: f.Kind, Targets: []string{"pvc " + pvc}, Description: "delete pvc " + pvc}
		if pod != nil {
			p.Description += " and its pod " + pod.Name
		}
		// Confirmed when the API server has accepted the deletes.
		p.apply = func(ctx context.Context) error {
			if err := env.Kube.CoreV1().PersistentVolumeClaims(env.Namespace).Delete(ctx, pvc, metav1.DeleteOptions{}); err != nil {
				return err
			}
			if pod != nil {
				return env.Kube.CoreV1().Pods(env.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
			}
			return nil
		}
		return p, nil
	})
}

// pvDelete deletes the PV behind a member's claim, and the claim and pod,
// as when the disk itself is deleted in the cloud.
func pvDelete(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		pvc, pod, err := volumeOf(ctx, env, f)
		if err != nil {
			return nil, err
		}
		claim, err := env.Kube.CoreV1().PersistentVolumeClaims(env.Namespace).Get(ctx, pvc, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		pv := claim.Spec.VolumeName
		p := &Plan{Fault: f.Kind, Targets: []string{"pv " + pv, "pvc " + pvc}, Description: fmt.Sprintf("delete pv %s, pvc %s and the pod using them", pv, pvc)}
		// Confirmed when the API server has accepted the deletes.
		p.apply = func(ctx context.Context) error {
			if err := env.Kube.CoreV1().PersistentVolumes().Delete(ctx, pv, metav1.DeleteOptions{}); err != nil {
				return err
			}
			if err := env.Kube.CoreV1().PersistentVolumeClaims(env.Namespace).Delete(ctx, pvc, metav1.DeleteOptions{}); err != nil {
				return err
			}
			if pod != nil {
				return env.Kube.CoreV1().Pods(env.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
			}
			return nil
		}
		return p, nil
	})
}
