package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

func init() {
	register(scenarios.FaultRegionLoss, regionLoss)
}

// regionLoss powers off every node of the target cluster at once: in the
// lab, every node through the agent; on a cloud, every node's VM through
// Chaos Mesh. The app's clients lose every member together, as when a
// region is lost.
func regionLoss(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		p := &Plan{Fault: f.Kind, Duration: f.Duration}
		if f.Via == scenarios.ViaChaosMesh {
			list, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("list the cluster's nodes: %w", err)
			}
			if len(list.Items) == 0 {
				return nil, errors.New("the target cluster has no node to power off")
			}
			var nodes []string
			var objs []chaosmesh.Object
			var errs []error
			for _, n := range list.Items {
				obj, err := cloudNodeStop(ctx, env, f, n.Name, objName(env, "region-loss-"+n.Name))
				if err == nil {
					err = addChaos(p, obj)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				nodes = append(nodes, n.Name)
				objs = append(objs, obj)
			}
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			p.Targets = append([]string{"every node"}, nodes...)
			p.Description = fmt.Sprintf("stop the VMs of all %d nodes of the cluster through Chaos Mesh (region loss)", len(nodes))
			// Confirmed when every object is injected and every node NotReady.
			p.apply = applyChaos(env, objs, nodes)
			return p, nil
		}
		if env.Lab == nil {
			return nil, fmt.Errorf("%s: %w", f.Kind, errNeedsLab)
		}
		states, err := env.Lab.NodeStates(ctx)
		if err != nil {
			return nil, err
		}
		var nodes []string
		for _, n := range states {
			nodes = append(nodes, n.Name)
		}
		if len(nodes) == 0 {
			return nil, fmt.Errorf("lab %q has no node to power off", env.Lab.Name)
		}
		sort.Strings(nodes)
		p.Targets = append([]string{"lab " + env.Lab.Name}, nodes...)
		p.Description = fmt.Sprintf("stop every node of lab %s (%d nodes): the region is lost", env.Lab.Name, len(nodes))
		for _, n := range nodes {
			p.Undo = append(p.Undo, journal.Undo{Kind: undoLabNode, Args: map[string]string{"node": n, "action": lab.PowerStart}, Describe: "start lab node " + n})
		}
		// Confirmed by the agent's answer for every node: each returns once
		// the node's processes are dead.
		p.apply = func(ctx context.Context) error { return stopAll(ctx, env.Lab, nodes) }
		return p, nil
	})
}

// stopAll stops the nodes at once, one request each, and waits for all.
func stopAll(ctx context.Context, l *lab.Lab, nodes []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = l.NodePower(ctx, n, lab.PowerStop) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
