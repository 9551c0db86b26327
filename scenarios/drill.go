package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/reboundhq/rebound/scenarios/v1alpha1"
)

// Drill is a validated restore drill; see v1alpha1.Drill.
type Drill struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Source      Source
	Description string

	// Target is the app; nil when the drill drills a backup already in
	// the repository and the file names no app.
	Target *Target
	// Backup is "latest", "take" or a backup id (or a prefix of one).
	Backup           string
	ScratchNamespace string
	ReuseNamespace   bool
	Keep             bool
	Timeout          time.Duration
	// Probes is how many write-probe ids to write before taking a backup.
	Probes int
	// RTO is the target for the time to a verified copy; nil is none.
	RTO *time.Duration
}

// Takes reports whether the drill takes its own backup of Target.
func (d *Drill) Takes() bool { return d.Backup == v1alpha1.DrillBackupTake }

// Validate returns every problem of d.
func (d *Drill) Validate() field.ErrorList { return ValidateDrill(DrillToV1Alpha1(d)) }

// DrillFromV1Alpha1 converts a defaulted v1alpha1 Drill. It does not
// validate; Load and Parse do.
func DrillFromV1Alpha1(in *v1alpha1.Drill) *Drill {
	s := &in.Spec
	out := &Drill{
		Name:             in.Name,
		Labels:           maps.Clone(in.Labels),
		Annotations:      maps.Clone(in.Annotations),
		Description:      s.Description,
		Backup:           s.Backup,
		ScratchNamespace: s.ScratchNamespace,
		ReuseNamespace:   s.ReuseNamespace,
		Keep:             s.Keep,
		Timeout:          s.Timeout.Duration,
		Probes:           s.Probes,
	}
	if t := s.Target; t != nil {
		out.Target = &Target{
			Kubeconfig:    t.Kubeconfig,
			Context:       t.Context,
			Namespace:     t.Namespace,
			LabelSelector: *t.LabelSelector.DeepCopy(),
			Driver:        Driver(t.Driver),
			Endpoints: Endpoints{
				Mode:   EndpointMode(t.Endpoints.Mode),
				URLs:   slices.Clone(t.Endpoints.URLs),
				Scheme: t.Endpoints.Scheme,
				Secret: secretName(t.Endpoints.SecretRef),
				TLS:    endpointTLS(t.Endpoints.TLS),
			},
		}
	}
	if s.Targets.RTO != nil {
		d := s.Targets.RTO.Duration
		out.RTO = &d
	}
	return out
}

// DrillToV1Alpha1 converts d back to its v1alpha1 form.
func DrillToV1Alpha1(d *Drill) *v1alpha1.Drill {
	out := &v1alpha1.Drill{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.DrillKind},
		ObjectMeta: metav1.ObjectMeta{
			Name:        d.Name,
			Labels:      maps.Clone(d.Labels),
			Annotations: maps.Clone(d.Annotations),
		},
		Spec: v1alpha1.DrillSpec{
			Description:      d.Description,
			Backup:           d.Backup,
			ScratchNamespace: d.ScratchNamespace,
			ReuseNamespace:   d.ReuseNamespace,
			Keep:             d.Keep,
			Timeout:          duration(d.Timeout),
			Probes:           d.Probes,
		},
	}
	if t := d.Target; t != nil {
		out.Spec.Target = &v1alpha1.Target{
			Kubeconfig:    t.Kubeconfig,
			Context:       t.Context,
			Namespace:     t.Namespace,
			LabelSelector: *t.LabelSelector.DeepCopy(),
			Driver:        v1alpha1.Driver(t.Driver),
			Endpoints: v1alpha1.Endpoints{
				Mode:      v1alpha1.EndpointMode(t.Endpoints.Mode),
				URLs:      slices.Clone(t.Endpoints.URLs),
				Scheme:    t.Endpoints.Scheme,
				SecretRef: secretRef(t.Endpoints.Secret),
				TLS:       tlsOf(t.Endpoints.TLS),
			},
		}
	}
	if d.RTO != nil {
		out.Spec.Targets.RTO = &metav1.Duration{Duration: *d.RTO}
	}
	return out
}

// ValidateDrill returns every problem of a defaulted v1alpha1 Drill.
func ValidateDrill(d *v1alpha1.Drill) field.ErrorList {
	errs := validateMeta(&d.ObjectMeta, field.NewPath("metadata"), "Drill", "spec.target.namespace is the app's and spec.scratchNamespace the copy's")
	spec := &d.Spec
	p := field.NewPath("spec")

	bp := p.Child("backup")
	switch b := spec.Backup; {
	case b == v1alpha1.DrillBackupTake && spec.Target == nil:
		errs = append(errs, field.Required(p.Child("target"), "backup: take backs the app up first: name it with namespace, labelSelector and driver"))
	case b == v1alpha1.DrillBackupTake, b == v1alpha1.DrillBackupLatest:
	case !isHex(b):
		errs = append(errs, field.Invalid(bp, b, fmt.Sprintf("give %s, %s, or a backup id or a prefix of one (hex digits, as rebound backup list shows)", v1alpha1.DrillBackupLatest, v1alpha1.DrillBackupTake)))
	}
	if t := spec.Target; t != nil {
		tp := p.Child("target")
		errs = append(errs, validateTarget(t, tp)...)
		if t.Kubeconfig != "" {
			errs = append(errs, field.Forbidden(tp.Child("kubeconfig"), "a drill acts on the run's cluster: give rebound run --kubeconfig instead"))
		}
		if t.Context != "" {
			errs = append(errs, field.Forbidden(tp.Child("context"), "a drill acts on the run's cluster: give rebound run --context instead"))
		}
		ep := t.Endpoints
		if ep.Mode != v1alpha1.EndpointModeAuto || len(ep.URLs) > 0 || ep.Scheme != "" || ep.SecretRef != nil || ep.TLS != nil {
			errs = append(errs, field.Forbidden(tp.Child("endpoints"), "a drill reaches the app as rebound drill does (pod IPs on the lab, port-forward elsewhere): remove endpoints"))
		}
	}
	sp := p.Child("scratchNamespace")
	switch ns := spec.ScratchNamespace; {
	case ns == "" && spec.ReuseNamespace:
		errs = append(errs, field.Required(sp, "reuseNamespace restores into a namespace that exists: name it here"))
	case ns == "":
	case slices.Contains(protectedNamespaces, ns):
		errs = append(errs, field.Forbidden(sp, fmt.Sprintf("rebound never restores into %s, a namespace of Kubernetes itself", ns)))
	case spec.Target != nil && ns == spec.Target.Namespace:
		errs = append(errs, field.Invalid(sp, ns, "is the app's own namespace (spec.target.namespace): the copy goes into a namespace of its own"))
	default:
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(sp, ns, msg))
		}
	}
	errs = append(errs, positive(p.Child("timeout"), spec.Timeout)...)
	if spec.Probes <= 0 {
		errs = append(errs, field.Invalid(p.Child("probes"), spec.Probes, "must be positive"))
	}
	if r := spec.Targets.RTO; r != nil {
		errs = append(errs, positive(p.Child("targets", "rto"), *r)...)
	}
	return errs
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
