package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/faults/chaosmesh"
)

// ErrNotConfirmed is wrapped by Apply's error when the fault was sent but
// its injector never confirmed it in effect before ctx's deadline. The
// message starts "fault never took effect: " and carries the injector's own
// account of why (a Chaos Mesh object's conditions and events, a node still
// Ready). The fault may still be partly in effect: roll it back.
var ErrNotConfirmed = errors.New("fault never took effect")

// confirmInterval is how often a fault's state is read back while Apply
// waits for it: T0 is known to within it.
const confirmInterval = 200 * time.Millisecond

// confirmCheck reads where a fault stands: done when it is in effect, else
// why not, naming what it read. An error is a failed read, which is retried.
type confirmCheck func(ctx context.Context) (done bool, why string, err error)

// confirm polls check until the fault is in effect or ctx ends. At ctx's
// deadline the error wraps ErrNotConfirmed with the last reason; when ctx
// is cancelled it wraps ctx's error instead, as nothing was disproved.
func confirm(ctx context.Context, check confirmCheck) error {
	start := time.Now()
	why := "not read back yet"
	t := time.NewTicker(confirmInterval)
	defer t.Stop()
	for {
		done, w, err := check(ctx)
		if ctx.Err() == nil {
			switch {
			case err != nil:
				why = err.Error()
			case done:
				return nil
			default:
				why = w
			}
		}
		select {
		case <-ctx.Done():
			waited := time.Since(start).Round(100 * time.Millisecond)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %s (waited %s)", ErrNotConfirmed, why, waited)
			}
			return fmt.Errorf("stopped after %s before the fault was confirmed in effect (%s): %w", waited, why, ctx.Err())
		case <-t.C:
		}
	}
}

// applyChaos creates Chaos Mesh objects, then waits until Chaos Mesh
// reports every target of every one injected and, for a cloud node stop,
// until each of nodes is NotReady. The plan's undo already holds every
// object, so a create that fails halfway leaves nothing unjournaled.
func applyChaos(env *Env, objs []chaosmesh.Object, nodes []string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if env.Dynamic == nil {
			return fmt.Errorf("no dynamic client for Chaos Mesh objects")
		}
		for _, o := range objs {
			if err := chaosmesh.Create(ctx, env.Dynamic, o); err != nil {
				return err
			}
		}
		var names []string
		for _, o := range objs {
			gvr, _ := chaosmesh.GVR(o)
			names = append(names, fmt.Sprintf("%s %s/%s", gvr.Resource, o.GetNamespace(), o.GetName()))
		}
		return confirm(ctx, func(ctx context.Context) (bool, string, error) {
			var why []string
			for i, o := range objs {
				in, err := chaosmesh.ReadInjection(ctx, env.Dynamic, o)
				if err != nil {
					return false, "", err
				}
				if !in.Injected {
					why = append(why, names[i]+": "+in.Message)
				}
			}
			// A stop Chaos Mesh has sent may take a while to stop the VM;
			// the node going NotReady is the cluster's own word that it did.
			for _, n := range nodes {
				ready, err := nodeReady(ctx, env, n)
				if err != nil {
					return false, "", err
				}
				if ready {
					why = append(why, fmt.Sprintf("node %s is still Ready (the node controller marks a stopped node NotReady after its grace period, 40-50 s by default)", n))
				}
			}
			return len(why) == 0, strings.Join(why, "; "), nil
		})
	}
}

// taintNodeShutdown is the cloud node lifecycle controller's taint on a
// node whose VM is shut down (k8s.io/cloud-provider/api).
const taintNodeShutdown = "node.cloudprovider.kubernetes.io/shutdown"

// nodeReady tells whether a node still counts as up: its Ready condition
// is True and the cloud controller has not marked its VM shut down. A node
// that is gone, NotReady (False, or Unknown: no heartbeats), or tainted
// with the shutdown taint (the VM is stopped) is down.
func nodeReady(ctx context.Context, env *Env, name string) (bool, error) {
	n, err := env.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read node %s: %w", name, err)
	}
	for _, t := range n.Spec.Taints {
		if t.Key == taintNodeShutdown {
			return false, nil
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue, nil
		}
	}
	return false, nil
}
