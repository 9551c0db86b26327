package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/reboundhq/rebound/scenarios"
)

func init() {
	register(scenarios.FaultNamespaceDelete, namespaceDelete)
	register(scenarios.FaultStatefulSetDelete, statefulSetDelete)
	register(scenarios.FaultPVCDeleteAll, pvcDeleteAll)
	register(scenarios.FaultScaleToZero, scaleToZero)
	register(scenarios.FaultAppDelete, appDelete)
}

// Human errors are one-shot: what a person deleted stays deleted until the
// recovery (a restore, or a person) brings it back. Each is confirmed when
// the API that does it has accepted it: the Kubernetes API server for
// deletes and the scale, the app's own API for app-delete. Deleting a
// namespace or StatefulSet then proceeds in the background, as when a
// person does it; the probes measure what follows.

func namespaceDelete(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		return &Plan{Fault: f.Kind, Targets: []string{"namespace " + env.Namespace},
			Description: "delete namespace " + env.Namespace + " and everything in it",
			apply: func(ctx context.Context) error {
				return env.Kube.CoreV1().Namespaces().Delete(ctx, env.Namespace, metav1.DeleteOptions{})
			}}, nil
	})
}

// appStatefulSets finds the StatefulSets that own the app's pods.
func appStatefulSets(ctx context.Context, env *Env) ([]string, error) {
	pods, err := appPods(ctx, env)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range pods {
		for _, o := range p.OwnerReferences {
			if o.Kind == "StatefulSet" && !seen[o.Name] {
				seen[o.Name] = true
				out = append(out, o.Name)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no StatefulSet owns the app's pods in %s", env.Namespace)
	}
	return out, nil
}

func statefulSetDelete(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		sets, err := appStatefulSets(ctx, env)
		if err != nil {
			return nil, err
		}
		return &Plan{Fault: f.Kind, Targets: sets, Description: "delete statefulsets " + strings.Join(sets, ", ") + " (their pods go with them; PVCs stay)",
			apply: func(ctx context.Context) error {
				for _, s := range sets {
					if err := env.Kube.AppsV1().StatefulSets(env.Namespace).Delete(ctx, s, metav1.DeleteOptions{}); err != nil {
						return err
					}
				}
				return nil
			}}, nil
	})
}

func pvcDeleteAll(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		pods, err := appPods(ctx, env)
		if err != nil {
			return nil, err
		}
		var claims, podNames []string
		for _, p := range pods {
			podNames = append(podNames, p.Name)
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					claims = append(claims, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		return &Plan{Fault: f.Kind, Targets: claims, Description: "delete every PVC of the app (" + strings.Join(claims, ", ") + ") and its pods",
			apply: func(ctx context.Context) error {
				for _, c := range claims {
					if err := env.Kube.CoreV1().PersistentVolumeClaims(env.Namespace).Delete(ctx, c, metav1.DeleteOptions{}); err != nil {
						return err
					}
				}
				for _, p := range podNames {
					if err := env.Kube.CoreV1().Pods(env.Namespace).Delete(ctx, p, metav1.DeleteOptions{}); err != nil {
						return err
					}
				}
				return nil
			}}, nil
	})
}

func scaleToZero(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		sets, err := appStatefulSets(ctx, env)
		if err != nil {
			return nil, err
		}
		return &Plan{Fault: f.Kind, Targets: sets, Description: "scale statefulsets " + strings.Join(sets, ", ") + " to zero replicas",
			apply: func(ctx context.Context) error {
				patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"replicas": 0}})
				for _, s := range sets {
					if _, err := env.Kube.AppsV1().StatefulSets(env.Namespace).Patch(ctx, s, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
						return err
					}
				}
				return nil
			}}, nil
	})
}

// appDelete deletes data through the app's own API: etcd keys under a
// prefix, an Elasticsearch index.
func appDelete(f scenarios.Fault) Injector {
	return injectorFunc(func(ctx context.Context, env *Env) (*Plan, error) {
		if f.AppDelete == nil {
			return nil, fmt.Errorf("app-delete needs an appDelete section")
		}
		target := f.AppDelete.Prefix
		what := "every key under " + target
		switch {
		case f.AppDelete.Index != "":
			target, what = f.AppDelete.Index, "index "+f.AppDelete.Index
		case f.AppDelete.Records:
			if env.Records == "" {
				return nil, fmt.Errorf("app-delete records: the run names no probe records")
			}
			target, what = env.Records, "the probe's records ("+env.Records+")"
		}
		return &Plan{Fault: f.Kind, Targets: []string{target}, Description: "delete " + what + " through the app's API",
			apply: func(ctx context.Context) error {
				n, err := env.Driver.DeleteData(ctx, target)
				if err == nil {
					env.Log.Info("app data deleted", "target", target, "records", n)
				}
				return err
			}}, nil
	})
}
