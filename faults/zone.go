package faults

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

func init() {
	register(scenarios.FaultZoneStop, func(f scenarios.Fault) Injector { return zonePower(f, lab.PowerStop) })
	register(scenarios.FaultZoneFreeze, func(f scenarios.Fault) Injector { return zonePower(f, lab.PowerFreeze) })
	register(scenarios.FaultZonePartition, zonePartition)
}

// zonePower stops or freezes every node of a zone at once.
func zonePower(f scenarios.Fault, action string) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		zone, nodes, err := targetZone(ctx, env, f)
		if err != nil {
			return nil, err
		}
		p := &Plan{Fault: f.Kind, Targets: append([]string{"zone " + zone}, nodes...), Duration: f.Duration}
		if f.Via == scenarios.ViaChaosMesh {
			// One object per node, each named after its node. All are in
			// the plan's undo before Apply creates the first; the fault is
			// confirmed when every one is injected and every node NotReady.
			var errs []error
			var objs []chaosmesh.Object
			for _, n := range nodes {
				obj, err := cloudNodeStop(ctx, env, f, n, objName(env, "zone-stop-"+n))
				if err == nil {
					err = addChaos(p, obj)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				objs = append(objs, obj)
			}
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			p.Description = fmt.Sprintf("stop the VMs of the %d nodes of zone %s through Chaos Mesh", len(nodes), zone)
			p.apply = applyChaos(env, objs, nodes)
			return p, nil
		}
		if env.Lab == nil {
			return nil, fmt.Errorf("%s: %w", f.Kind, errNeedsLab)
		}
		p.Description = fmt.Sprintf("%s every lab node of zone %s (%d nodes)", action, zone, len(nodes))
		for _, n := range nodes {
			p.Undo = append(p.Undo, journal.Undo{Kind: undoLabNode, Args: map[string]string{"node": n, "action": lab.PowerStart}, Describe: "start lab node " + n})
		}
		// Confirmed by the agent's answer for every node of the zone.
		p.apply = func(ctx context.Context) error {
			_, err := env.Lab.ZonePower(ctx, zone, action)
			return err
		}
		return p, nil
	})
}

// zonePartition cuts the app's pods in a zone off from its pods elsewhere:
// a Chaos Mesh NetworkChaos, or in the lab, where pods share the host's
// network, by freezing the zone's app pods (to their peers they hang as
// behind a partition, while their nodes stay Ready).
func zonePartition(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		zone, nodes, err := targetZone(ctx, env, f)
		if err != nil {
			return nil, err
		}
		p := &Plan{Fault: f.Kind, Targets: []string{"zone " + zone}, Duration: f.Duration}
		sel, err := metav1.ParseToLabelSelector(env.Selector.String())
		if err != nil {
			return nil, err
		}
		if f.Via == scenarios.ViaChaosMesh {
			obj := chaosmesh.ZonePartition(chaosmesh.Meta{Namespace: env.Namespace, Name: objName(env, "zone-partition"), RunID: env.RunID}, zone, env.Namespace, sel.MatchLabels, f.Duration)
			return chaosPlan(env, p, obj, "partition the app's pods of zone "+zone+" from its other pods through Chaos Mesh")
		}
		if env.Lab == nil {
			return nil, fmt.Errorf("%s: %w", f.Kind, errNeedsLab)
		}
		pods, err := appPods(ctx, env)
		if err != nil {
			return nil, err
		}
		inZone := map[string]bool{}
		for _, n := range nodes {
			inZone[n] = true
		}
		var names []string
		for _, pod := range pods {
			if inZone[pod.Spec.NodeName] {
				names = append(names, pod.Name)
				p.Undo = append(p.Undo, journal.Undo{Kind: undoLabPod, Args: map[string]string{"namespace": env.Namespace, "pod": pod.Name, "action": lab.PodThaw}, Describe: "thaw pod " + pod.Name})
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no pod of the app runs in zone %s: nothing to partition", zone)
		}
		p.Targets = append(p.Targets, names...)
		p.Description = fmt.Sprintf("partition zone %s: freeze the app's pods there (%v) while their nodes stay Ready", zone, names)
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
