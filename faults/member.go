package faults

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

func init() {
	register(scenarios.FaultPodKill, podKill)
	register(scenarios.FaultPause, pause)
	register(scenarios.FaultManual, manual)
}

// podKill deletes a member's pod at once (grace 0): natively, or as a
// Chaos Mesh PodChaos pod-kill.
func podKill(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		pod, err := memberPod(ctx, env, f)
		if err != nil {
			return nil, err
		}
		p := &Plan{Fault: f.Kind, Targets: []string{pod.Name}}
		if f.Via == scenarios.ViaChaosMesh {
			obj := chaosmesh.PodKill(chaosmesh.Meta{Namespace: env.Namespace, Name: objName(env, "pod-kill"), RunID: env.RunID}, env.Namespace, pod.Name)
			what := "kill pod " + pod.Name + " through Chaos Mesh"
			if pc := f.PodChaos; pc != nil {
				if pc.Action != "" {
					obj.Spec.Action = pc.Action
					what = string(pc.Action) + " on pod " + pod.Name + " through Chaos Mesh"
				}
				obj.Spec.ContainerNames, obj.Spec.GracePeriod = pc.ContainerNames, pc.GracePeriod
			}
			return chaosPlan(env, p, obj, what)
		}
		grace := int64(0)
		if f.PodChaos != nil {
			grace = f.PodChaos.GracePeriod
		}
		p.Description = fmt.Sprintf("delete pod %s with a grace period of %ds", pod.Name, grace)
		uid := pod.UID
		// Confirmed when the API server has accepted the delete: with
		// grace 0 the pod is gone from the API at once.
		p.apply = func(ctx context.Context) error {
			return env.Kube.CoreV1().Pods(env.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: ptr.To(grace), Preconditions: &metav1.Preconditions{UID: &uid},
			})
		}
		return p, nil
	})
}

// pause makes members hang for an exact duration: SIGSTOP in the lab, a
// Chaos Mesh partition of the pod elsewhere. With no pod or leader chosen,
// every member pauses: the app is down for exactly the duration, the known
// outage rebound's RTO accuracy is checked against.
func pause(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		var names []string
		if f.Pod != "" || f.Leader || f.Follower {
			pod, err := memberPod(ctx, env, f)
			if err != nil {
				return nil, err
			}
			names = []string{pod.Name}
		} else {
			pods, err := appPods(ctx, env)
			if err != nil {
				return nil, err
			}
			for _, p := range pods {
				names = append(names, p.Name)
			}
		}
		p := &Plan{Fault: f.Kind, Targets: names, Duration: f.Duration}
		if env.Lab == nil || f.Via == scenarios.ViaChaosMesh {
			if len(names) != 1 {
				return nil, fmt.Errorf("pause outside the lab partitions one pod through Chaos Mesh: name one with pod or leader")
			}
			obj := chaosmesh.PodPartition(chaosmesh.Meta{Namespace: env.Namespace, Name: objName(env, "pause"), RunID: env.RunID}, env.Namespace, names[0], f.Duration)
			return chaosPlan(env, p, obj, fmt.Sprintf("partition pod %s for %s through Chaos Mesh", names[0], f.Duration))
		}
		p.Description = fmt.Sprintf("freeze (SIGSTOP) pods %v for %s", names, f.Duration)
		for _, n := range names {
			p.Undo = append(p.Undo, journal.Undo{Kind: undoLabPod, Args: map[string]string{"namespace": env.Namespace, "pod": n, "action": lab.PodThaw}, Describe: "thaw pod " + n})
		}
		// Confirmed by the agent's answer for each pod: it has sent
		// SIGSTOP to all of the pod's processes.
		p.apply = func(ctx context.Context) error {
			for _, n := range names {
				if err := env.Lab.PodPause(ctx, env.Namespace, n, lab.PodFreeze); err != nil {
					return err
				}
			}
			return nil
		}
		return p, nil
	})
}

// manual waits for a person to inject the fault and mark it, with SIGUSR1
// or `rebound mark fault`; the mark is T0: the person confirms the fault.
func manual(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		p := &Plan{Fault: f.Kind, Targets: []string{"a person"}}
		p.Description = "wait for a person to inject the fault and mark it (rebound mark fault, or SIGUSR1)"
		p.apply = func(ctx context.Context) error {
			fmt.Fprintf(env.Out, "\n>>> %s: inject the fault now.\n", env.Scenario)
			if f.Instructions != "" {
				fmt.Fprintf(env.Out, ">>> %s\n", f.Instructions)
			}
			fmt.Fprintf(env.Out, ">>> Then run `rebound mark fault` (or send SIGUSR1 to pid of this run).\n\n")
			for {
				select {
				case <-ctx.Done():
					return fmt.Errorf("no fault mark before the inject phase timed out: %w", ctx.Err())
				case m := <-env.Marks:
					if m == "fault" {
						return nil
					}
				}
			}
		}
		return p, nil
	})
}
