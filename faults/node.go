package faults

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

func init() {
	register(scenarios.FaultNodeStop, func(f scenarios.Fault) Injector { return nodePower(f, lab.PowerStop) })
	register(scenarios.FaultNodeFreeze, func(f scenarios.Fault) Injector { return nodePower(f, lab.PowerFreeze) })
	register(scenarios.FaultNodeDrain, nodeDrain)
	register(scenarios.FaultNodeTaint, nodeTaint)
}

// nodePower stops or freezes the target node: through the lab's agent, or
// for stop on a cloud, through Chaos Mesh's cloud chaos on the node's VM.
func nodePower(f scenarios.Fault, action string) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		nodes, err := targetNodes(ctx, env, f)
		if err != nil {
			return nil, err
		}
		node := nodes[0]
		p := &Plan{Fault: f.Kind, Targets: nodes, Duration: f.Duration}
		if f.Via == scenarios.ViaChaosMesh {
			obj, err := cloudNodeStop(ctx, env, f, node, objName(env, "node-stop"))
			if err != nil {
				return nil, err
			}
			if err := addChaos(p, obj); err != nil {
				return nil, err
			}
			p.Description = "stop the VM of node " + node + " through Chaos Mesh"
			p.apply = applyChaos(env, []chaosmesh.Object{obj}, []string{node})
			return p, nil
		}
		if env.Lab == nil {
			return nil, fmt.Errorf("%s: %w", f.Kind, errNeedsLab)
		}
		p.Description = fmt.Sprintf("%s lab node %s", action, node)
		p.Undo = []journal.Undo{{Kind: undoLabNode, Args: map[string]string{"node": node, "action": lab.PowerStart}, Describe: "start lab node " + node}}
		// Confirmed by the agent's answer: it returns once it has acted
		// (after a stop, the node's processes are dead; after a freeze,
		// they are stopped), and its heartbeats for the node have ended.
		p.apply = func(ctx context.Context) error { return env.Lab.NodePower(ctx, node, action) }
		return p, nil
	})
}

// cloudNodeStop builds the AzureChaos, AWSChaos or GCPChaos that stops the
// node's VM, read from the node's providerID; deleting the object starts
// it again.
func cloudNodeStop(ctx context.Context, env *Env, f scenarios.Fault, node, name string) (chaosmesh.Object, error) {
	n, err := env.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	meta := chaosmesh.Meta{Namespace: env.Namespace, Name: name, RunID: env.RunID}
	id := n.Spec.ProviderID
	switch {
	case strings.HasPrefix(id, "azure://"):
		// azure:///subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM
		parts := strings.Split(strings.TrimPrefix(id, "azure:///"), "/")
		if len(parts) < 8 || parts[6] != "virtualMachines" {
			return nil, fmt.Errorf("node %s is a scale-set instance (%s): AzureChaos stops single VMs only; use node-drain or node-taint, or zone-partition", node, id)
		}
		return chaosmesh.AzureVMStop(meta, parts[1], parts[3], parts[7], env.CloudSecret, f.Duration), nil
	case strings.HasPrefix(id, "aws://"):
		// aws:///eu-west-1a/i-0123
		parts := strings.Split(strings.TrimPrefix(id, "aws:///"), "/")
		if len(parts) != 2 {
			return nil, fmt.Errorf("node %s: unexpected providerID %q", node, id)
		}
		region := strings.TrimRight(parts[0], "abcdefghijklmnopqrstuvwxyz")
		return chaosmesh.AWSEC2Stop(meta, region, parts[1], env.CloudSecret, f.Duration), nil
	case strings.HasPrefix(id, "gce://"):
		// gce://PROJECT/ZONE/INSTANCE
		parts := strings.Split(strings.TrimPrefix(id, "gce://"), "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("node %s: unexpected providerID %q", node, id)
		}
		return chaosmesh.GCPNodeStop(meta, parts[0], parts[1], parts[2], env.CloudSecret, f.Duration), nil
	}
	return nil, fmt.Errorf("node %s has providerID %q: Chaos Mesh can stop Azure, AWS and GCP VMs only; in the lab use via: lab", node, id)
}

// chaosPlan finishes a plan that creates one Chaos Mesh object. Apply
// returns once Chaos Mesh reports every target of it injected.
func chaosPlan(env *Env, p *Plan, obj chaosmesh.Object, what string) (*Plan, error) {
	if err := addChaos(p, obj); err != nil {
		return nil, err
	}
	p.Description = what
	p.apply = applyChaos(env, []chaosmesh.Object{obj}, nil)
	return p, nil
}

// addChaos adds a Chaos Mesh object to a plan, with its undo: deleting the
// object (Chaos Mesh recovers the fault through its finalizer). Every
// object is in the undo before Apply creates any, so a crash or a fault
// never confirmed rolls back all that may have been created.
func addChaos(p *Plan, obj chaosmesh.Object) error {
	if err := chaosmesh.Validate(obj); err != nil {
		return err
	}
	gvr, err := chaosmesh.GVR(obj)
	if err != nil {
		return err
	}
	for _, u := range p.Undo {
		if u.Kind == undoDelete && u.Args["resource"] == gvr.Resource && u.Args["namespace"] == obj.GetNamespace() && u.Args["name"] == obj.GetName() {
			return fmt.Errorf("two Chaos Mesh objects of the plan are both named %s %s/%s", gvr.Resource, obj.GetNamespace(), obj.GetName())
		}
	}
	p.Objects = append(p.Objects, obj)
	p.Undo = append(p.Undo, journal.Undo{Kind: undoDelete, Args: map[string]string{
		"group": gvr.Group, "version": gvr.Version, "resource": gvr.Resource, "namespace": obj.GetNamespace(), "name": obj.GetName(),
	}, Describe: fmt.Sprintf("delete %s %s/%s", gvr.Resource, obj.GetNamespace(), obj.GetName())})
	return nil
}

// objName names a Chaos Mesh object after the run, so cleanup finds it.
// A name too long for Kubernetes is cut and ends in a hash of the whole,
// so two long names that differ only at the end (one per node of a zone)
// stay apart.
func objName(env *Env, what string) string {
	n := strings.ToLower(fmt.Sprintf("rebound-%s-%s", env.RunID, what))
	if len(n) <= 63 {
		return strings.TrimRight(n, "-.")
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	return fmt.Sprintf("%s-%08x", strings.TrimRight(n[:63-9], "-."), h.Sum32())
}

// nodeDrain cordons the node and evicts its pods through the Eviction API,
// which honours PodDisruptionBudgets; undo uncordons.
func nodeDrain(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		nodes, err := targetNodes(ctx, env, f)
		if err != nil {
			return nil, err
		}
		node := nodes[0]
		return &Plan{
			Fault: f.Kind, Targets: nodes, Duration: f.Duration,
			Description: fmt.Sprintf("cordon node %s and evict its pods, honouring PodDisruptionBudgets", node),
			Undo:        []journal.Undo{{Kind: undoUncordon, Args: map[string]string{"node": node}, Describe: "uncordon node " + node}},
			// Confirmed when the API server has accepted the cordon and
			// every eviction: the pods are then terminating, and their
			// grace period is part of the outage the probes measure.
			apply: func(ctx context.Context) error { return drain(ctx, env, node) },
		}, nil
	})
}

func drain(ctx context.Context, env *Env, node string) error {
	if err := setUnschedulable(ctx, env, node, true); err != nil {
		return fmt.Errorf("cordon %s: %w", node, err)
	}
	pods, err := env.Kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != node || isDaemonSetPod(&p) || p.DeletionTimestamp != nil {
			continue
		}
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
		for {
			err := env.Kube.CoreV1().Pods(p.Namespace).EvictV1(ctx, ev)
			if err == nil || apierrors.IsNotFound(err) {
				break
			}
			if !apierrors.IsTooManyRequests(err) {
				return fmt.Errorf("evict %s/%s: %w", p.Namespace, p.Name, err)
			}
			// A PodDisruptionBudget says not now: wait, as kubectl drain does.
			select {
			case <-ctx.Done():
				return fmt.Errorf("evict %s/%s: blocked by a PodDisruptionBudget until the phase timed out", p.Namespace, p.Name)
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func isDaemonSetPod(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// nodeTaint puts a NoExecute taint on the node: the generic way to take a
// node away on any cluster; the taint manager evicts what does not tolerate it.
func nodeTaint(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		nodes, err := targetNodes(ctx, env, f)
		if err != nil {
			return nil, err
		}
		node := nodes[0]
		taint := corev1.Taint{Key: "rebound.dev/fault", Value: env.RunID, Effect: corev1.TaintEffectNoExecute}
		if f.Taint != nil {
			taint = *f.Taint
		}
		return &Plan{
			Fault: f.Kind, Targets: nodes, Duration: f.Duration,
			Description: fmt.Sprintf("taint node %s with %s=%s:%s", node, taint.Key, taint.Value, taint.Effect),
			Undo:        []journal.Undo{{Kind: undoUntaint, Args: map[string]string{"node": node, "key": taint.Key, "effect": string(taint.Effect)}, Describe: "remove taint " + taint.Key + " from node " + node}},
			// Confirmed when the API server has accepted the taint: from
			// then the taint manager evicts what does not tolerate it.
			apply: func(ctx context.Context) error {
				n, err := env.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
				if err != nil {
					return err
				}
				taint.TimeAdded = &metav1.Time{Time: time.Now()}
				n.Spec.Taints = append(n.Spec.Taints, taint)
				_, err = env.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
				return err
			},
		}, nil
	})
}
