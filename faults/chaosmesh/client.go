package chaosmesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/dynamic"
)

// Object is a Chaos Mesh experiment: any of the *v1alpha1.XxxChaos types,
// such as those the builders return.
type Object interface {
	v1alpha1.InnerObjectWithSelector
	// Validate is Chaos Mesh's own admission webhook check.
	Validate() ([]string, error)
}

// ErrInvalid is wrapped by every error of Validate, and so of Create when
// the object never reached the cluster.
var ErrInvalid = errors.New("invalid Chaos Mesh object")

var scheme = runtime.NewScheme()

func init() {
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// kind is the object's kind, from its Go type: a builder's TypeMeta is not
// trusted, a hand-made object may have none.
func kind(obj Object) (schema.GroupVersionKind, error) {
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("%w: %T is not a Chaos Mesh kind: %v", ErrInvalid, obj, err)
	}
	return gvks[0], nil
}

// GVR is the resource an object is created as: chaos-mesh.org/v1alpha1 and
// the plural, which for every *Chaos kind is the lower-case kind
// (networkchaos, podchaos, ...).
func GVR(obj Object) (schema.GroupVersionResource, error) {
	gvk, err := kind(obj)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	if !strings.HasSuffix(gvk.Kind, "Chaos") {
		return schema.GroupVersionResource{}, fmt.Errorf("%w: kind %s is not a chaos experiment", ErrInvalid, gvk.Kind)
	}
	return gvk.GroupVersion().WithResource(strings.ToLower(gvk.Kind)), nil
}

// Unstructured converts obj for a dynamic client, with apiVersion and kind
// set from its type and without status, which Chaos Mesh's controller owns.
func Unstructured(obj Object) (*unstructured.Unstructured, error) {
	gvk, err := kind(obj)
	if err != nil {
		return nil, err
	}
	// Through JSON, not runtime.DefaultUnstructuredConverter: that keeps
	// uint32 fields (IOChaos errno) as uint32, on which DeepCopy panics.
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	m := map[string]any{}
	if err := utiljson.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// Validate checks obj before it reaches a cluster, which in the lab or
// without Chaos Mesh's webhook checks only the CRD schema. It runs Chaos
// Mesh's own webhook validation, then rebound's rules: a name, a namespace
// and the run labels; a positive duration unless the action is one-shot, so
// that Chaos Mesh ends the fault even if rebound dies; no empty pod name,
// node label value or cloud machine name, which would select nothing or the
// wrong thing; an I/O percent of 1 to 100, since 0 is dropped and Chaos
// Mesh's default is 100. Every problem is reported with its field path.
func Validate(obj Object) error {
	gvk, err := kind(obj)
	if err != nil {
		return err
	}
	u, err := Unstructured(obj)
	if err != nil {
		return err
	}
	var errs field.ErrorList
	meta, spec := field.NewPath("metadata"), field.NewPath("spec")
	if obj.GetName() == "" {
		errs = append(errs, field.Required(meta.Child("name"), ""))
	}
	if obj.GetNamespace() == "" {
		errs = append(errs, field.Required(meta.Child("namespace"), ""))
	}
	if obj.GetLabels()[LabelRun] == "" {
		errs = append(errs, field.Required(meta.Child("labels").Key(LabelRun), "cleanup finds a run's faults by it"))
	}
	if v := obj.GetLabels()[LabelManagedBy]; v != ManagedBy {
		errs = append(errs, field.NotSupported(meta.Child("labels").Key(LabelManagedBy), v, []string{ManagedBy}))
	}
	if !obj.IsOneShot() {
		d, _, _ := unstructured.NestedString(u.Object, "spec", "duration")
		switch dur, err := time.ParseDuration(d); {
		case d == "":
			errs = append(errs, field.Required(spec.Child("duration"), "rebound only creates faults that Chaos Mesh ends by itself"))
		case err == nil && dur <= 0:
			errs = append(errs, field.Invalid(spec.Child("duration"), d, "must be positive"))
		}
		// An unparsable duration is Chaos Mesh's own check below.
	}
	for key, sel := range obj.GetSelectorSpecs() {
		errs = append(errs, validateSelector(selectorPath(key), sel)...)
	}
	if io, ok := obj.(*v1alpha1.IOChaos); ok && (io.Spec.Percent < 1 || io.Spec.Percent > 100) {
		errs = append(errs, field.Invalid(spec.Child("percent"), io.Spec.Percent, "give 1 to 100: Chaos Mesh takes 0 as 100"))
	}
	if az, ok := obj.(*v1alpha1.AzureChaos); ok && (az.Spec.SecretName == nil || *az.Spec.SecretName == "") {
		errs = append(errs, field.Required(spec.Child("secretName"), "Chaos Mesh reads Azure credentials from it unconditionally"))
	}

	var all []error
	if agg := errs.ToAggregate(); agg != nil {
		all = append(all, agg)
	}
	if _, err := obj.Validate(); err != nil {
		all = append(all, fmt.Errorf("chaos mesh webhook: %w", err))
	}
	if len(all) > 0 {
		return fmt.Errorf("%w: %s %s/%s: %w", ErrInvalid, gvk.Kind, obj.GetNamespace(), obj.GetName(), errors.Join(all...))
	}
	return nil
}

// selectorPath turns a key of GetSelectorSpecs (".", ".Target") into a field
// path.
func selectorPath(key string) *field.Path {
	p := field.NewPath("spec")
	for _, part := range strings.Split(strings.Trim(key, "."), ".") {
		if part != "" {
			p = p.Child(strings.ToLower(part[:1]) + part[1:])
		}
	}
	return p
}

func validateSelector(path *field.Path, sel any) field.ErrorList {
	var errs field.ErrorList
	required := func(p *field.Path, v string) {
		if v == "" {
			errs = append(errs, field.Required(p, ""))
		}
	}
	switch s := sel.(type) {
	case *v1alpha1.ContainerSelector:
		return validateSelector(path, &s.PodSelector)
	case *v1alpha1.PodSelector:
		p := path.Child("selector")
		for ns, names := range s.Selector.Pods {
			required(p.Child("pods").Key(ns), ns)
			for i, n := range names {
				required(p.Child("pods").Key(ns).Index(i), n)
			}
		}
		for k, v := range s.Selector.NodeSelectors {
			required(p.Child("nodeSelectors").Key(k), v)
		}
	case *v1alpha1.AWSSelector:
		required(path.Child("awsRegion"), s.AWSRegion)
		required(path.Child("ec2Instance"), s.Ec2Instance)
	case *v1alpha1.AzureSelector:
		required(path.Child("subscriptionID"), s.SubscriptionID)
		required(path.Child("resourceGroupName"), s.ResourceGroupName)
		required(path.Child("vmName"), s.VMName)
	case *v1alpha1.GCPSelector:
		required(path.Child("project"), s.Project)
		required(path.Child("zone"), s.Zone)
		required(path.Child("instance"), s.Instance)
	}
	return errs
}

// Create validates obj and creates it, with strict field validation: a
// field the cluster's CRD does not know (an older Chaos Mesh) is an error
// rather than silently pruned, since a pruned selector could select more
// than was meant. An object of that name already there is an error
// (apierrors.IsAlreadyExists): it may be another run's.
func Create(ctx context.Context, dyn dynamic.Interface, obj Object) error {
	if err := Validate(obj); err != nil {
		return err
	}
	gvr, err := GVR(obj)
	if err != nil {
		return err
	}
	u, err := Unstructured(obj)
	if err != nil {
		return err
	}
	if _, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Create(ctx, u, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}); err != nil {
		if apierrors.IsNotFound(err) {
			// No such resource: the cluster has no CRD for the kind.
			return fmt.Errorf("create %s %s/%s: %w (the cluster serves no %s: install Chaos Mesh; in the lab, apply its CRD from `make chaos-crds`, e.g. kubectl apply --server-side -f $REBOUND_CHAOS_CRDS/%s_%s.yaml)", u.GetKind(), obj.GetNamespace(), obj.GetName(), err, gvr.Resource, gvr.Group, gvr.Resource)
		}
		return fmt.Errorf("create %s %s/%s: %w", u.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// Delete deletes obj, and is idempotent like rm -f: an object already gone
// is no error. Chaos Mesh recovers the fault before the object disappears,
// through its finalizer; Delete does not wait for that.
func Delete(ctx context.Context, dyn dynamic.Interface, obj Object) error {
	gvr, err := GVR(obj)
	if err != nil {
		return err
	}
	err = dyn.Resource(gvr).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s/%s: %w", gvr.Resource, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
