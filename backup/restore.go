package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/logging"
)

// item is one object of a backup on its way into the cluster.
type item struct {
	kind kindInfo
	u    *unstructured.Unstructured
}

func (it item) String() string { return it.kind.Kind + "/" + it.u.GetName() }

func (it item) workload() bool {
	return it.kind.Resource == ResStatefulSets || it.kind.Resource == ResDeployments
}

// Restore brings a backup back into the cluster. Before it changes
// anything it reads every object of the backup (unless SkipVerify) and
// asks the app of the backup's driver to plan the restore of its native
// data (apps.App.Restore), so a damaged backup or one this build cannot
// restore is refused with the cluster untouched. Then, in dependency
// order: the namespace; the app's running workloads stopped and its
// runtime state deleted (apps.App.RuntimeState); ServiceAccounts, Roles,
// RoleBindings, ConfigMaps, Secrets (unsealed only now), Services, PVCs,
// PDBs; the data (the plan's movers, volumes written back, by data-mover
// pods); the workloads; then it waits until they are Ready, runs the
// plan's AfterReady with a connected driver, and waits until the app
// reports full health.
func (e *Engine) Restore(ctx context.Context, rr RestoreRequest) (*RestoreResult, error) {
	start := e.now()
	progress := rr.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	if rr.Timeout <= 0 {
		rr.Timeout = 10 * time.Minute
	}
	snap, err := e.Resolve(ctx, rr.Backup)
	if err != nil {
		return nil, fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	m, err := e.manifest(ctx, snap.ID)
	if err != nil {
		return nil, fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	if !rr.SkipVerify {
		progress(Progress{Phase: "verify", Message: fmt.Sprintf("reading every object of backup %s", snap.ID.Short())})
		if err := e.verifySnapshot(ctx, snap, true); err != nil {
			return nil, fmt.Errorf("restore refused, nothing was changed: %w", err)
		}
		progress(Progress{Phase: "verify", Done: true})
	}
	target := rr.Namespace
	if target == "" {
		target = m.Namespace
	}
	res := &RestoreResult{ID: snap.ID.String(), Namespace: target}
	rc := &RestoreContext{SourceNamespace: m.Namespace, TargetNamespace: target, Kube: e.kube}

	// Everything is read, unsealed and planned before the cluster changes.
	items, err := e.loadItems(ctx, snap.ID, m, rc, res)
	if err != nil {
		return nil, fmt.Errorf("restore refused, nothing was changed: %w", err)
	}
	app, appErr := apps.Lookup(m.Driver)
	var plans []*apps.RestorePlan
	var pvcData []DataEntry
	for _, d := range m.Data {
		if d.Kind == DataPVCCopy {
			pvcData = append(pvcData, d)
			continue
		}
		plan, err := e.planNative(ctx, app, appErr, m, d, snap.ID, target, items, rr.AppOptions)
		if err != nil {
			return nil, fmt.Errorf("restore refused, nothing was changed: %w", err)
		}
		plans = append(plans, plan)
	}
	if app.RuntimeState != nil {
		items = slices.DeleteFunc(items, func(it item) bool { return app.RuntimeState(it.u) })
	}

	progress(Progress{Phase: "namespace", Message: "namespace " + target})
	if err := e.ensureNamespace(ctx, target, m.NamespaceObject, rr.Timeout); err != nil {
		return res, err
	}
	if err := e.stopWorkloads(ctx, target, items, rr.Timeout, progress); err != nil {
		return res, err
	}
	if err := e.deleteRuntimeState(ctx, app, target, progress); err != nil {
		return res, err
	}
	for _, it := range items {
		if it.workload() {
			continue
		}
		if err := e.apply(ctx, target, it, res); err != nil {
			return res, err
		}
	}

	tok := token()
	var jobs []moverJob
	for _, p := range plans {
		for _, mv := range p.Movers {
			if mv.Claim != nil {
				c := mv.Claim.DeepCopy()
				c.Namespace = target
				if err := e.ensureClaim(ctx, target, c); err != nil {
					return res, err
				}
			}
			jobs = append(jobs, e.nativeMoverJob(target, tok, mv))
		}
	}
	if len(jobs) > 0 {
		progress(Progress{Phase: "data movers", Message: fmt.Sprintf("writing the %s data into %d claims with data movers", m.Driver, len(jobs))})
		if err := e.runMovers(ctx, target, tok, jobs, progress); err != nil {
			return res, fmt.Errorf("restore the %s data: %w", m.Driver, err)
		}
	}
	if len(pvcData) > 0 {
		progress(Progress{Phase: "data movers", Message: fmt.Sprintf("writing back %d volumes", len(pvcData))})
		var jobs []moverJob
		for _, d := range pvcData {
			jobs = append(jobs, e.pvcRestoreJob(target, tok, d, items))
		}
		if err := e.runMovers(ctx, target, tok+"v", jobs, progress); err != nil {
			return res, fmt.Errorf("restore volumes: %w", err)
		}
	}

	for _, it := range items {
		if !it.workload() {
			continue
		}
		if err := e.apply(ctx, target, it, res); err != nil {
			return res, err
		}
	}
	progress(Progress{Phase: "wait", Message: "waiting for the workloads to be Ready"})
	if err := e.waitWorkloads(ctx, target, items, rr.Timeout); err != nil {
		return res, err
	}

	if m.Driver != "" {
		d := rr.Driver
		if d == nil {
			sel, err := labels.Parse(m.Selector)
			if err != nil {
				return res, fmt.Errorf("backup selector %q: %w", m.Selector, err)
			}
			dd, err := e.waitConnect(ctx, m.Driver, target, sel, m.SecretRef, rr.Timeout)
			if err != nil {
				return res, err
			}
			defer dd.Close()
			d = dd
		}
		for _, p := range plans {
			if p.AfterReady == nil {
				continue
			}
			if err := p.AfterReady(ctx, d, func(msg string) { progress(Progress{Phase: "restore " + m.Driver, Message: msg}) }); err != nil {
				return res, fmt.Errorf("restore the %s data into the running app: %w", m.Driver, err)
			}
		}
		progress(Progress{Phase: "health", Message: "waiting for the app to report full health"})
		if err := waitHealthy(ctx, d, rr.Timeout); err != nil {
			return res, err
		}
	}
	res.Duration = e.now().Sub(start)
	progress(Progress{Phase: "done", Done: true, Message: fmt.Sprintf("restored backup %s into %s in %s", snap.ID.Short(), target, res.Duration.Round(100*time.Millisecond))})
	return res, nil
}

// loadItems reads every object of the backup, unseals the Secrets, runs
// the restore actions, and returns the objects in restore order.
func (e *Engine) loadItems(ctx context.Context, id repo.ID, m *Manifest, rc *RestoreContext, res *RestoreResult) ([]item, error) {
	var out []item
	for _, r := range m.Resources {
		k, ok := kindOf(r.Resource)
		if !ok {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s: this build does not restore %s; skipped", r.Kind, r.Name, r.Resource))
			continue
		}
		b, err := e.readObject(ctx, id, r.Object)
		if err != nil {
			return nil, err
		}
		if r.Sealed {
			if b, err = e.sealer.unseal(r.Object, b); err != nil {
				return nil, fmt.Errorf("backup %s: %w: %w", id.Short(), repo.ErrCorrupt, err)
			}
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(b, &u.Object); err != nil {
			return nil, fmt.Errorf("backup %s: %s: %w", id.Short(), r.Object, err)
		}
		u.SetNamespace(rc.TargetNamespace)
		u, warns, err := runRestoreActions(ctx, k.Resource, u, rc)
		res.Warnings = append(res.Warnings, warns...)
		if err != nil {
			return nil, err
		}
		if u != nil {
			out = append(out, item{kind: k, u: u})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return restoreRank(out[i].kind.Resource) < restoreRank(out[j].kind.Resource) })
	return out, nil
}

// ensureNamespace creates the namespace from the backed-up object, after
// waiting out a deletion in progress.
func (e *Engine) ensureNamespace(ctx context.Context, name, captured string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ns, err := e.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err == nil && ns.DeletionTimestamp == nil {
			return nil
		}
		if apierrors.IsNotFound(err) {
			obj := &corev1.Namespace{}
			if captured != "" {
				if err := json.Unmarshal([]byte(captured), obj); err != nil {
					return fmt.Errorf("namespace object of the backup: %w", err)
				}
			}
			obj.ObjectMeta = metav1.ObjectMeta{Name: name, Labels: obj.Labels, Annotations: obj.Annotations}
			obj.Spec, obj.Status = corev1.NamespaceSpec{}, corev1.NamespaceStatus{}
			_, err := e.kube.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{})
			if err == nil {
				return nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create namespace %s: %w", name, err)
			}
		} else if err != nil {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s is still being deleted after %s", name, timeout)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// stopWorkloads deletes the backup's workloads that run in ns and waits
// until their pods are gone, so no member writes while its data is
// replaced. Their claims stay.
func (e *Engine) stopWorkloads(ctx context.Context, ns string, items []item, timeout time.Duration, progress func(Progress)) error {
	var sels []labels.Selector
	for _, it := range items {
		if !it.workload() {
			continue
		}
		cl := it.kind.client(e.kube, ns)
		cur, err := cl.get(ctx, it.u.GetName())
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", it, err)
		}
		ms, _, _ := unstructured.NestedStringMap(cur.Object, "spec", "selector", "matchLabels")
		progress(Progress{Phase: "stop", Message: "stopping " + it.String()})
		if err := cl.delete(ctx, it.u.GetName(), metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("stop %s: %w", it, err)
		}
		if len(ms) > 0 {
			sels = append(sels, labels.SelectorFromSet(ms))
		}
		// Wait for the object itself, so it can be created again.
		if err := waitUntil(ctx, it.String()+" to be deleted", timeout, func() (bool, string) {
			_, err := cl.get(ctx, it.u.GetName())
			return apierrors.IsNotFound(err), it.String() + " still exists"
		}); err != nil {
			return err
		}
	}
	for _, sel := range sels {
		if err := waitUntil(ctx, fmt.Sprintf("the pods of %s (%s) to stop", ns, sel), timeout, func() (bool, string) {
			pods, err := e.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err != nil {
				return false, err.Error()
			}
			n := 0
			for _, p := range pods.Items {
				if p.Labels[LabelManagedBy] != managedBy {
					n++
				}
			}
			return n == 0, fmt.Sprintf("%d pods (%s) still running", n, sel)
		}); err != nil {
			return fmt.Errorf("stop the app: %w", err)
		}
	}
	return nil
}

// apply creates an object, or replaces the one of that name: kept
// cluster-assigned fields (resourceVersion, a Service's cluster IPs) are
// carried over. A PVC that exists is kept as it is: its data is what the
// restore rewrites.
func (e *Engine) apply(ctx context.Context, ns string, it item, res *RestoreResult) error {
	cl := it.kind.client(e.kube, ns)
	err := retryConflict(ctx, func() error { return cl.create(ctx, it.u) })
	if err == nil {
		res.Created = append(res.Created, it.String())
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s in %s: %w", it, ns, err)
	}
	if it.kind.Resource == ResPVCs {
		return nil
	}
	err = retryConflict(ctx, func() error {
		cur, err := cl.get(ctx, it.u.GetName())
		if err != nil {
			return err
		}
		u := it.u.DeepCopy()
		u.SetResourceVersion(cur.GetResourceVersion())
		if it.kind.Resource == ResServices {
			for _, f := range []string{"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} {
				if v, ok, _ := unstructured.NestedFieldCopy(cur.Object, "spec", f); ok {
					_ = unstructured.SetNestedField(u.Object, v, "spec", f)
				}
			}
		}
		return cl.update(ctx, u)
	})
	if err != nil {
		return fmt.Errorf("replace %s in %s: %w", it, ns, err)
	}
	res.Updated = append(res.Updated, it.String())
	return nil
}

func retryConflict(ctx context.Context, fn func() error) error {
	var err error
	for range 5 {
		if err = fn(); !apierrors.IsConflict(err) {
			return err
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return err
}

// ensureClaim creates a claim that does not exist.
func (e *Engine) ensureClaim(ctx context.Context, ns string, c *corev1.PersistentVolumeClaim) error {
	_, err := e.kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, c, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pvc %s: %w", c.Name, err)
	}
	return nil
}

// stsClaim splits a StatefulSet claim name <template>-<set>-<ordinal>.
var stsClaim = regexp.MustCompile(`^(.+)-(\d+)$`)

// pvcRestoreJob is the mover that writes volume d back, placed as the
// pods of the StatefulSet that owns the claim, if any.
func (e *Engine) pvcRestoreJob(ns, tok string, d DataEntry, items []item) moverJob {
	o := mover.PVCOptions{Common: mover.Common{Repo: e.moverURL, KeyFile: keyFile, Token: tok, Target: d.PVC}, Namespace: ns, Path: "/data", Backup: d.Snapshot}
	p := e.moverPod(ns, tok+"v", d.PVC, o.RestoreArgs())
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: d.PVC},
	}})
	p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	if mm := stsClaim.FindStringSubmatch(d.PVC); mm != nil {
		for _, it := range items {
			if it.kind.Resource != ResStatefulSets {
				continue
			}
			sts := new(appsv1.StatefulSet)
			if runtime.DefaultUnstructuredConverter.FromUnstructured(it.u.Object, sts) != nil {
				continue
			}
			for _, v := range sts.Spec.VolumeClaimTemplates {
				if mm[1] == v.Name+"-"+sts.Name {
					mover.CopyScheduling(p, &sts.Spec.Template.Spec)
				}
			}
		}
	}
	return moverJob{target: d.PVC, pod: p}
}

// waitWorkloads waits until every workload of the backup has its replicas
// Ready (StatefulSets) or available (Deployments).
func (e *Engine) waitWorkloads(ctx context.Context, ns string, items []item, timeout time.Duration) error {
	for _, it := range items {
		name := it.u.GetName()
		var check func() (bool, string)
		switch it.kind.Resource {
		case ResStatefulSets:
			check = func() (bool, string) {
				s, err := e.kube.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				want := ptr.Deref(s.Spec.Replicas, 1)
				return s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas == want,
					fmt.Sprintf("statefulset %s: %d/%d ready", name, s.Status.ReadyReplicas, want)
			}
		case ResDeployments:
			check = func() (bool, string) {
				d, err := e.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				want := ptr.Deref(d.Spec.Replicas, 1)
				return d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == want,
					fmt.Sprintf("deployment %s: %d/%d available", name, d.Status.AvailableReplicas, want)
			}
		default:
			continue
		}
		if err := waitUntil(ctx, fmt.Sprintf("%s %s/%s to be Ready", it.kind.Resource, ns, name), timeout, check); err != nil {
			return fmt.Errorf("%w: %w", ErrNotHealthy, err)
		}
	}
	return nil
}

// waitConnect connects the driver to the restored pods, retrying while
// they come up.
func (e *Engine) waitConnect(ctx context.Context, driver, ns string, sel labels.Selector, secret string, timeout time.Duration) (apps.Driver, error) {
	var d apps.Driver
	err := waitUntil(ctx, "the restored "+driver+" app to accept connections", timeout, func() (bool, string) {
		c, err := e.connect(ctx, driver, ns, sel, secret)
		if err != nil {
			return false, err.Error()
		}
		d = c
		return true, ""
	})
	if err != nil {
		return nil, fmt.Errorf("%w: connect to the restored app: %w", ErrNotHealthy, err)
	}
	return d, nil
}

// waitHealthy waits until the app reports full health: every member
// healthy, redundancy complete.
func waitHealthy(ctx context.Context, d apps.Driver, timeout time.Duration) error {
	err := waitUntil(ctx, "the restored app to report full health", timeout, func() (bool, string) {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		h, err := d.Health(hctx)
		if err != nil {
			return false, err.Error()
		}
		return h.Full, h.Detail
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotHealthy, err)
	}
	return nil
}

// planNative asks the app of the backup's driver how to restore one
// native data entry, before anything in the cluster changes.
func (e *Engine) planNative(ctx context.Context, app apps.App, appErr error, m *Manifest, d DataEntry, id repo.ID, target string, items []item, opts any) (*apps.RestorePlan, error) {
	switch {
	case m.Driver == "":
		return nil, fmt.Errorf("data of kind %q: the backup names no app driver to restore it", d.Kind)
	case appErr != nil:
		return nil, fmt.Errorf("data of kind %q: %w; this build cannot restore it", d.Kind, appErr)
	case app.Restore == nil:
		return nil, fmt.Errorf("data of kind %q: app driver %q has no native restore; this build cannot restore it", d.Kind, m.Driver)
	}
	objs := make([]*unstructured.Unstructured, len(items))
	for i, it := range items {
		objs[i] = it.u.DeepCopy()
	}
	plan, err := app.Restore(ctx, apps.RestoreInput{
		Data: d.NativeData, BackupID: id.String(), Objects: objs,
		SourceNamespace: m.Namespace, TargetNamespace: target, Kube: e.kube, Options: opts,
	})
	if err != nil {
		return nil, err
	}
	if plan == nil {
		plan = &apps.RestorePlan{}
	}
	for _, mv := range plan.Movers {
		if mv.Target == "" || len(mv.Args) == 0 {
			return nil, fmt.Errorf("app driver %q planned a data mover without a target or a command (%+v)", m.Driver, mv.Args)
		}
	}
	return plan, nil
}

// nativeMoverJob is the data-mover pod of an app's restore plan: the
// engine's pod running `rebound backup <Args>` with the common flags,
// adjusted by the plan (its volumes, environment and scheduling).
func (e *Engine) nativeMoverJob(ns, tok string, mv apps.Mover) moverJob {
	args := mover.Common{Repo: e.moverURL, KeyFile: keyFile, Token: tok, Target: mv.Target}.Command(mv.Args)
	p := e.moverPod(ns, tok, mv.Target, args)
	if mv.Pod != nil {
		mv.Pod(p)
	}
	return moverJob{target: mv.Target, pod: p}
}

// deleteRuntimeState deletes the objects of ns that hold state the
// running app writes for itself (apps.App.RuntimeState), once its
// workloads are stopped: the restored app starts from its data, not from
// the state of the app it replaces.
func (e *Engine) deleteRuntimeState(ctx context.Context, app apps.App, ns string, progress func(Progress)) error {
	if app.RuntimeState == nil {
		return nil
	}
	for _, k := range kinds {
		list, err := k.list(ctx, e.kube, ns, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list %s in %s for the app's runtime state: %w", k.Resource, ns, err)
		}
		for _, obj := range list {
			u, err := toUnstructured(obj, k)
			if err != nil {
				return err
			}
			if !app.RuntimeState(u) {
				continue
			}
			progress(Progress{Phase: "stop", Message: fmt.Sprintf("deleting %s/%s: state the running %s app keeps for itself", k.Kind, u.GetName(), app.Name)})
			if err := k.client(e.kube, ns).delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s/%s, the app's runtime state: %w", k.Kind, u.GetName(), err)
			}
		}
	}
	return nil
}

// waitUntil polls cond every 500ms until it holds or timeout passes; the
// error carries cond's last word. A wait of more than a few seconds logs
// a heartbeat naming what.
func waitUntil(ctx context.Context, what string, timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	defer logging.Heartbeat(ctx, what, timeout)()
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %s", timeout, why)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
