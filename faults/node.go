package faults

import (
	"context"
	"fmt"
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
			return cloudNodeStop(ctx, env, f, p, node)
		}
		if env.Lab == nil {
			return nil, fmt.Errorf("%s: %w", f.Kind, errNeedsLab)
		}
		p.Description = fmt.Sprintf("%s lab node %s", action, node)
		p.Undo = []journal.Undo{{Kind: undoLabNode, Args: map[string]string{"node": node, "action": lab.PowerStart}, Describe: "start lab node " + node}}
		p.apply = func(ctx context.Context) error { return env.Lab.NodePower(ctx, node, action) }
		return p, nil
	})
}

// cloudNodeStop stops the node's VM with AzureChaos, AWSChaos or GCPChaos,
// read from the node's providerID; deleting the object starts it again.
func cloudNodeStop(ctx context.Context, env *Env, f scenarios.Fault, p *Plan, node string) (*Plan, error) {
	n, err := env.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	meta := chaosmesh.Meta{Namespace: env.Namespace, Name: objName(env, "node-stop"), RunID: env.RunID}
	var obj chaosmesh.Object
	id := n.Spec.ProviderID
	switch {
	case strings.HasPrefix(id, "azure://"):
		// azure:///subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM
		parts := strings.Split(strings.TrimPrefix(id, "azure:///"), "/")
		if len(parts) < 8 || parts[6] != "virtualMachines" {
			return nil, fmt.Errorf("node %s is a scale-set instance (%s): AzureChaos stops single VMs only; use node-drain or node-taint, or zone-partition", node, id)
		}
		obj = chaosmesh.AzureVMStop(meta, parts[1], parts[3], parts[7], env.CloudSecret, f.Duration)
	case strings.HasPrefix(id, "aws://"):
		// aws:///eu-west-1a/i-0123
		parts := strings.Split(strings.TrimPrefix(id, "aws:///"), "/")
		if len(parts) != 2 {
			return nil, fmt.Errorf("node %s: unexpected providerID %q", node, id)
		}
		region := strings.TrimRight(parts[0], "abcdefghijklmnopqrstuvwxyz")
		obj = chaosmesh.AWSEC2Stop(meta, region, parts[1], env.CloudSecret, f.Duration)
	case strings.HasPrefix(id, "gce://"):
		// gce://PROJECT/ZONE/INSTANCE
		parts := strings.Split(strings.TrimPrefix(id, "gce://"), "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("node %s: unexpected providerID %q", node, id)
		}
		obj = chaosmesh.GCPNodeStop(meta, parts[0], parts[1], parts[2], env.CloudSecret, f.Duration)
	default:
		return nil, fmt.Errorf("node %s has providerID %q: Chaos Mesh can stop Azure, AWS and GCP VMs only; in the lab use via: lab", node, id)
	}
	return chaosPlan(env, p, obj, "stop the VM of node "+node+" through Chaos Mesh")
}

// chaosPlan finishes a plan that creates one Chaos Mesh object; deleting
// the object is the undo (Chaos Mesh recovers the fault through its finalizer).
func chaosPlan(env *Env, p *Plan, obj chaosmesh.Object, what string) (*Plan, error) {
	if err := chaosmesh.Validate(obj); err != nil {
		return nil, err
	}
	gvr, err := chaosmesh.GVR(obj)
	if err != nil {
		return nil, err
	}
	p.Description = what
	p.Objects = append(p.Objects, obj)
	p.Undo = append(p.Undo, journal.Undo{Kind: undoDelete, Args: map[string]string{
		"group": gvr.Group, "version": gvr.Version, "resource": gvr.Resource, "namespace": obj.GetNamespace(), "name": obj.GetName(),
	}, Describe: fmt.Sprintf("delete %s %s/%s", gvr.Resource, obj.GetNamespace(), obj.GetName())})
	p.apply = func(ctx context.Context) error {
		if env.Dynamic == nil {
			return fmt.Errorf("no dynamic client for Chaos Mesh objects")
		}
		return chaosmesh.Create(ctx, env.Dynamic, obj)
	}
	return p, nil
}

// objName names a Chaos Mesh object after the run, so cleanup finds it.
func objName(env *Env, what string) string {
	n := strings.ToLower(fmt.Sprintf("rebound-%s-%s", env.RunID, what))
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.TrimRight(n, "-")
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
			apply:       func(ctx context.Context) error { return drain(ctx, env, node) },
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
