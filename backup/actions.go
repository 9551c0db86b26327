package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
)

// ResourceSelector says which objects an action applies to.
type ResourceSelector struct {
	// IncludedResources are group resources ("statefulsets.apps",
	// "services", see the Res* constants); empty or "*" means every kind.
	IncludedResources []string
}

// Matches reports whether the selector takes objects of resource.
func (s ResourceSelector) Matches(resource string) bool {
	return len(s.IncludedResources) == 0 || slices.Contains(s.IncludedResources, "*") || slices.Contains(s.IncludedResources, resource)
}

// BackupItemAction changes an object on its way into a backup, or drops
// it. The engine calls Execute once per captured object of the kinds
// AppliesTo selects, in registration order, on the backing-up goroutine;
// item is the engine's own copy, which Execute may change in place. A nil
// item drops the object; an error fails the backup.
type BackupItemAction interface {
	Name() string
	AppliesTo() ResourceSelector
	Execute(ctx context.Context, resource string, item *unstructured.Unstructured, req *Request) (out *unstructured.Unstructured, warnings []string, err error)
}

// RestoreContext is what a restore action knows of the restore.
type RestoreContext struct {
	SourceNamespace, TargetNamespace string
	Kube                             kubernetes.Interface
}

// RestoreItemAction changes an object on its way into the cluster, with
// the same contract as BackupItemAction.
type RestoreItemAction interface {
	Name() string
	AppliesTo() ResourceSelector
	Execute(ctx context.Context, resource string, item *unstructured.Unstructured, rc *RestoreContext) (out *unstructured.Unstructured, warnings []string, err error)
}

var (
	actionsMu      sync.Mutex
	backupActions  []BackupItemAction
	restoreActions []RestoreItemAction
)

// RegisterBackupAction adds a backup item action; the built-in ones are
// registered the same way. A second action of the same name panics.
func RegisterBackupAction(a BackupItemAction) {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	for _, x := range backupActions {
		if x.Name() == a.Name() {
			panic("backup: backup action registered twice: " + a.Name())
		}
	}
	backupActions = append(backupActions, a)
}

// RegisterRestoreAction adds a restore item action.
func RegisterRestoreAction(a RestoreItemAction) {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	for _, x := range restoreActions {
		if x.Name() == a.Name() {
			panic("backup: restore action registered twice: " + a.Name())
		}
	}
	restoreActions = append(restoreActions, a)
}

// BackupActionNames lists the registered backup actions, in order.
func BackupActionNames() []string {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	var out []string
	for _, a := range backupActions {
		out = append(out, a.Name())
	}
	return out
}

// RestoreActionNames lists the registered restore actions, in order.
func RestoreActionNames() []string {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	var out []string
	for _, a := range restoreActions {
		out = append(out, a.Name())
	}
	return out
}

func runBackupActions(ctx context.Context, resource string, u *unstructured.Unstructured, req *Request) (*unstructured.Unstructured, []string, error) {
	actionsMu.Lock()
	list := slices.Clone(backupActions)
	actionsMu.Unlock()
	var warns []string
	for _, a := range list {
		if !a.AppliesTo().Matches(resource) {
			continue
		}
		out, w, err := a.Execute(ctx, resource, u, req)
		warns = append(warns, w...)
		if err != nil {
			return nil, warns, fmt.Errorf("backup action %s on %s %s: %w", a.Name(), resource, u.GetName(), err)
		}
		if out == nil {
			return nil, warns, nil
		}
		u = out
	}
	return u, warns, nil
}

func runRestoreActions(ctx context.Context, resource string, u *unstructured.Unstructured, rc *RestoreContext) (*unstructured.Unstructured, []string, error) {
	actionsMu.Lock()
	list := slices.Clone(restoreActions)
	actionsMu.Unlock()
	var warns []string
	for _, a := range list {
		if !a.AppliesTo().Matches(resource) {
			continue
		}
		out, w, err := a.Execute(ctx, resource, u, rc)
		warns = append(warns, w...)
		if err != nil {
			return nil, warns, fmt.Errorf("restore action %s on %s %s: %w", a.Name(), resource, u.GetName(), err)
		}
		if out == nil {
			return nil, warns, nil
		}
		u = out
	}
	return u, warns, nil
}

// The built-in actions.
func init() {
	RegisterBackupAction(skipClusterManaged{})
	RegisterBackupAction(stripMetadata{})
	RegisterBackupAction(stripPodTemplate{})
	RegisterBackupAction(stripService{})
	RegisterBackupAction(stripPVCBinding{})
	RegisterRestoreAction(mapSubjectNamespaces{})
	RegisterRestoreAction(missingStorageClass{})
}

type stripMetadata struct{}

func (stripMetadata) Name() string                { return "strip-metadata" }
func (stripMetadata) AppliesTo() ResourceSelector { return ResourceSelector{} }

// Execute drops status and every field the cluster assigns: uid,
// resourceVersion, creationTimestamp, generation, managedFields,
// ownerReferences, selfLink, deletion marks, and the annotations the
// controllers and kubectl keep.
func (stripMetadata) Execute(_ context.Context, _ string, u *unstructured.Unstructured, _ *Request) (*unstructured.Unstructured, []string, error) {
	StripClusterFields(u)
	return u, nil, nil
}

// StripClusterFields removes status and the cluster-assigned metadata of
// an object, in place.
func StripClusterFields(u *unstructured.Unstructured) {
	delete(u.Object, "status")
	md, _ := u.Object["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "ownerReferences", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "generateName"} {
		delete(md, f)
	}
	if ann := u.GetAnnotations(); ann != nil {
		for k := range ann {
			if k == "kubectl.kubernetes.io/last-applied-configuration" || k == "deployment.kubernetes.io/revision" || strings.HasPrefix(k, "pv.kubernetes.io/") {
				delete(ann, k)
			}
		}
		if len(ann) == 0 {
			ann = nil
		}
		u.SetAnnotations(ann)
	}
}

type stripPodTemplate struct{}

func (stripPodTemplate) Name() string { return "strip-pod-template" }
func (stripPodTemplate) AppliesTo() ResourceSelector {
	return ResourceSelector{IncludedResources: []string{ResStatefulSets, ResDeployments}}
}

// Execute drops the null creationTimestamps and statuses of the pod
// template and the volume claim templates.
func (stripPodTemplate) Execute(_ context.Context, _ string, u *unstructured.Unstructured, _ *Request) (*unstructured.Unstructured, []string, error) {
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	vcts, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
	for i := range vcts {
		if m, ok := vcts[i].(map[string]any); ok {
			delete(m, "status")
			unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
		}
	}
	if vcts != nil {
		_ = unstructured.SetNestedSlice(u.Object, vcts, "spec", "volumeClaimTemplates")
	}
	return u, nil, nil
}

type stripService struct{}

func (stripService) Name() string { return "strip-service" }
func (stripService) AppliesTo() ResourceSelector {
	return ResourceSelector{IncludedResources: []string{ResServices}}
}

// Execute drops the addresses and ports the cluster allocated: clusterIP
// and clusterIPs (unless headless, "None"), node ports and the health
// check node port.
func (stripService) Execute(_ context.Context, _ string, u *unstructured.Unstructured, _ *Request) (*unstructured.Unstructured, []string, error) {
	if ip, _, _ := unstructured.NestedString(u.Object, "spec", "clusterIP"); ip != corev1.ClusterIPNone {
		unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
	}
	unstructured.RemoveNestedField(u.Object, "spec", "healthCheckNodePort")
	ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
	for i := range ports {
		if m, ok := ports[i].(map[string]any); ok {
			delete(m, "nodePort")
		}
	}
	if ports != nil {
		_ = unstructured.SetNestedSlice(u.Object, ports, "spec", "ports")
	}
	return u, nil, nil
}

type stripPVCBinding struct{}

func (stripPVCBinding) Name() string { return "strip-pvc-binding" }
func (stripPVCBinding) AppliesTo() ResourceSelector {
	return ResourceSelector{IncludedResources: []string{ResPVCs}}
}

// Execute unbinds a claim: its volume name and the binding, provisioner
// and selected-node annotations, so a restore provisions a new volume
// wherever the first pod using it lands.
func (stripPVCBinding) Execute(_ context.Context, _ string, u *unstructured.Unstructured, _ *Request) (*unstructured.Unstructured, []string, error) {
	unstructured.RemoveNestedField(u.Object, "spec", "volumeName")
	if ann := u.GetAnnotations(); ann != nil {
		for _, k := range []string{"volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner", "volume.kubernetes.io/selected-node"} {
			delete(ann, k)
		}
		if len(ann) == 0 {
			ann = nil
		}
		u.SetAnnotations(ann)
	}
	return u, nil, nil
}

type skipClusterManaged struct{}

func (skipClusterManaged) Name() string { return "skip-cluster-managed" }
func (skipClusterManaged) AppliesTo() ResourceSelector {
	return ResourceSelector{IncludedResources: []string{ResSecrets, ResConfigMaps, ResServiceAccounts}}
}

// Execute drops what every namespace gets from the cluster: the default
// ServiceAccount, the kube-root-ca.crt ConfigMap and service account
// token Secrets.
func (skipClusterManaged) Execute(_ context.Context, resource string, u *unstructured.Unstructured, _ *Request) (*unstructured.Unstructured, []string, error) {
	switch {
	case resource == ResServiceAccounts && u.GetName() == "default",
		resource == ResConfigMaps && u.GetName() == "kube-root-ca.crt":
		return nil, nil, nil
	case resource == ResSecrets:
		if t, _, _ := unstructured.NestedString(u.Object, "type"); t == string(corev1.SecretTypeServiceAccountToken) {
			return nil, nil, nil
		}
	}
	return u, nil, nil
}

type mapSubjectNamespaces struct{}

func (mapSubjectNamespaces) Name() string { return "map-subject-namespaces" }
func (mapSubjectNamespaces) AppliesTo() ResourceSelector {
	return ResourceSelector{IncludedResources: []string{ResRoleBindings}}
}

// Execute points subjects in the source namespace at the target one.
func (mapSubjectNamespaces) Execute(_ context.Context, _ string, u *unstructured.Unstructured, rc *RestoreContext) (*unstructured.Unstructured, []string, error) {
	subs, _, _ := unstructured.NestedSlice(u.Object, "subjects")
	for i := range subs {
		if m, ok := subs[i].(map[string]any); ok && m["namespace"] == rc.SourceNamespace {
			m["namespace"] = rc.TargetNamespace
		}
	}
	if subs != nil {
		_ = unstructured.SetNestedSlice(u.Object, subs, "subjects")
	}
	return u, nil, nil
}

type missingStorageClass struct{}

func (missingStorageClass) Name() string { return "missing-storage-class" }
func (missingStorageClass) AppliesTo() ResourceSelector {
	return ResourceSelector{IncludedResources: []string{ResPVCs, ResStatefulSets}}
}

// Execute clears a storage class the target cluster lacks, so the claim
// gets the cluster's default class, with a warning.
func (missingStorageClass) Execute(ctx context.Context, resource string, u *unstructured.Unstructured, rc *RestoreContext) (*unstructured.Unstructured, []string, error) {
	var warns []string
	check := func(spec map[string]any, what string) error {
		sc, ok := spec["storageClassName"].(string)
		if !ok || sc == "" {
			return nil
		}
		_, err := rc.Kube.StorageV1().StorageClasses().Get(ctx, sc, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			delete(spec, "storageClassName")
			warns = append(warns, fmt.Sprintf("%s: storage class %q does not exist in the target cluster; using its default class", what, sc))
		case apierrors.IsForbidden(err):
			// Cannot tell: leave it as it was.
		case err != nil:
			return err
		}
		return nil
	}
	switch resource {
	case ResPVCs:
		spec, _, _ := unstructured.NestedMap(u.Object, "spec")
		if err := check(spec, "persistentvolumeclaim "+u.GetName()); err != nil {
			return nil, warns, err
		}
		_ = unstructured.SetNestedMap(u.Object, spec, "spec")
	case ResStatefulSets:
		vcts, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
		for i := range vcts {
			m, _ := vcts[i].(map[string]any)
			spec, _ := m["spec"].(map[string]any)
			if spec == nil {
				continue
			}
			if err := check(spec, "statefulset "+u.GetName()+" volumeClaimTemplate"); err != nil {
				return nil, warns, err
			}
		}
		if vcts != nil {
			_ = unstructured.SetNestedSlice(u.Object, vcts, "spec", "volumeClaimTemplates")
		}
	}
	return u, warns, nil
}
