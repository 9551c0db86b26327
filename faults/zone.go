package faults

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/netfault"
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
// a Chaos Mesh NetworkChaos, or in the lab a real partition in the lab's
// network namespace between the pod CIDRs of the zone's nodes and those of
// the other zones' nodes, both ways. The zone's pods keep running and keep
// serving whoever reaches them (its nodes stay Ready, its pods still reach
// the lab's DNS and API server), as behind a cloud network partition.
func zonePartition(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		zone, _, err := targetZone(ctx, env, f)
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
		id := labNetID(env, "zone-partition", zone)
		p.Description = fmt.Sprintf("partition zone %s from the other zones in the lab network (fault %s): packets between their pods are dropped both ways; nodes stay Ready", zone, id)
		p.Undo = append(p.Undo, LabNetHealUndo(id))
		// Confirmed by the kernel's answer: the rules are in once NetApply
		// returns, and the next packet across the zone's edge is dropped.
		p.apply = func(ctx context.Context) error {
			_, err := env.Lab.NetApply(ctx, lab.NetFault{
				Kind: netfault.Partition, ID: id,
				Target: lab.NetTarget{Zone: zone}, Peers: &lab.NetTarget{ExceptZone: zone},
			})
			return err
		}
		return p, nil
	})
}

// labNetID is the ID of a lab network fault of a run: fixed before the
// fault is applied, so the journal's undo names it.
func labNetID(env *Env, what, target string) netfault.ID {
	h := fnv.New32a()
	h.Write([]byte(env.RunID + "\x00" + env.Scenario + "\x00" + target))
	return netfault.ID(fmt.Sprintf("%s-%08x", what, h.Sum32()))
}
