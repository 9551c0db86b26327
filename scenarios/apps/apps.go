package apps

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/reboundhq/rebound/logging"
)

//go:embed */*.yaml
var manifests embed.FS

// Names lists the demo apps.
func Names() []string {
	entries, _ := fs.ReadDir(manifests, ".")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// VariantSep separates a manifest file's name from the variant it belongs
// to: with variant "sync", patroni+sync.yaml is read in place of
// patroni.yaml; without a variant, files of variants are not read.
const VariantSep = "+"

// Variants lists the variants of an app (the names after VariantSep in its
// manifests' file names).
func Variants(app string) []string {
	files, _ := fs.Glob(manifests, path.Join(app, "*.yaml"))
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if _, v, ok := strings.Cut(strings.TrimSuffix(path.Base(f), ".yaml"), VariantSep); ok && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// Objects decodes the manifests of an app.
func Objects(app string) ([]runtime.Object, error) {
	return VariantObjects(app, "")
}

// VariantObjects decodes the manifests of one variant of an app ("" for
// the default): a file base+variant.yaml stands in for base.yaml.
func VariantObjects(app, variant string) ([]runtime.Object, error) {
	files, err := fs.Glob(manifests, path.Join(app, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no demo app %q (have %v)", app, Names())
	}
	if variant != "" && !slices.Contains(Variants(app), variant) {
		return nil, fmt.Errorf("demo app %s has no variant %q (variants: %v)", app, variant, Variants(app))
	}
	var chosen []string
	for _, f := range files {
		base, v, isVariant := strings.Cut(strings.TrimSuffix(path.Base(f), ".yaml"), VariantSep)
		switch {
		case isVariant && v != variant:
			continue
		case !isVariant && variant != "" && slices.Contains(files, path.Join(app, base+VariantSep+variant+".yaml")):
			continue // the variant's file stands in for it
		}
		chosen = append(chosen, f)
	}
	var out []runtime.Object
	for _, f := range chosen {
		data, _ := manifests.ReadFile(f)
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// Deploy creates the namespace and the app's objects in it; objects that
// exist are left as they are, so Deploy is idempotent.
func Deploy(ctx context.Context, cs kubernetes.Interface, app, namespace string) error {
	return DeployVariant(ctx, cs, app, "", namespace)
}

// DeployVariant is Deploy of one variant of an app (see VariantObjects).
func DeployVariant(ctx context.Context, cs kubernetes.Interface, app, variant, namespace string) error {
	objs, err := VariantObjects(app, variant)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "rebound-demo"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	for _, obj := range objs {
		var err error
		opts := metav1.CreateOptions{}
		switch o := obj.(type) {
		case *corev1.Service:
			_, err = cs.CoreV1().Services(namespace).Create(ctx, o, opts)
		case *corev1.ConfigMap:
			_, err = cs.CoreV1().ConfigMaps(namespace).Create(ctx, o, opts)
		case *corev1.Secret:
			_, err = cs.CoreV1().Secrets(namespace).Create(ctx, o, opts)
		case *corev1.ServiceAccount:
			_, err = cs.CoreV1().ServiceAccounts(namespace).Create(ctx, o, opts)
		case *rbacv1.Role:
			_, err = cs.RbacV1().Roles(namespace).Create(ctx, o, opts)
		case *rbacv1.RoleBinding:
			_, err = cs.RbacV1().RoleBindings(namespace).Create(ctx, o, opts)
		case *appsv1.StatefulSet:
			_, err = cs.AppsV1().StatefulSets(namespace).Create(ctx, o, opts)
		case *appsv1.Deployment:
			_, err = cs.AppsV1().Deployments(namespace).Create(ctx, o, opts)
		case *policyv1.PodDisruptionBudget:
			_, err = cs.PolicyV1().PodDisruptionBudgets(namespace).Create(ctx, o, opts)
		default:
			return fmt.Errorf("demo app %s: kind %T is not supported by Deploy", app, obj)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("deploy %s: %w", app, err)
		}
	}
	return nil
}

// WaitStatefulSetReady waits until a StatefulSet has all its replicas Ready.
func WaitStatefulSetReady(ctx context.Context, cs kubernetes.Interface, namespace, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	defer logging.Heartbeat(ctx, fmt.Sprintf("statefulset %s/%s to be Ready", namespace, name), timeout)()
	for {
		sts, err := cs.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil && sts.Spec.Replicas != nil && sts.Status.ReadyReplicas == *sts.Spec.Replicas && sts.Status.ObservedGeneration >= sts.Generation {
			return nil
		}
		if time.Now().After(deadline) {
			ready := int32(0)
			if sts != nil {
				ready = sts.Status.ReadyReplicas
			}
			return fmt.Errorf("statefulset %s/%s: %d replicas ready after %s (last error: %v); pods: %s", namespace, name, ready, timeout, err, podSummary(ctx, cs, namespace))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// podSummary says where each pod of a namespace stands, for errors.
func podSummary(ctx context.Context, cs kubernetes.Interface, namespace string) string {
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, p := range pods.Items {
		part := fmt.Sprintf("%s %s on %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				part += fmt.Sprintf(" [%s: %s]", c.Type, c.Message)
			}
		}
		for _, c := range p.Status.ContainerStatuses {
			if w := c.State.Waiting; w != nil {
				part += fmt.Sprintf(" [%s: %s %s]", c.Name, w.Reason, w.Message)
			}
			if c.RestartCount > 0 {
				part += fmt.Sprintf(" [%s restarted %d times]", c.Name, c.RestartCount)
			}
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// DeployedVariant tells which variant of an app is deployed in a namespace:
// the one whose ConfigMaps are there as its manifests have them ("" for the
// default). An app with no variants, or none deployed, is "".
func DeployedVariant(ctx context.Context, cs kubernetes.Interface, app, namespace string) (string, error) {
	for _, v := range Variants(app) {
		objs, err := VariantObjects(app, v)
		if err != nil {
			return "", err
		}
		matched, compared := true, false
		for _, o := range objs {
			cm, ok := o.(*corev1.ConfigMap)
			if !ok {
				continue
			}
			got, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, cm.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("read ConfigMap %s/%s: %w", namespace, cm.Name, err)
			}
			compared = true
			matched = matched && maps.Equal(got.Data, cm.Data)
		}
		if compared && matched {
			return v, nil
		}
	}
	return "", nil
}
