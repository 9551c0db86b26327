package drill

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
)

// A drill with ReuseNamespace restores into a namespace made for drills
// (the Helm chart's drill.scratchNamespace, where a Role grants exactly
// the restore's verbs) instead of creating one: a namespace cannot be
// created under a per-namespace Role, and namespaces cannot be limited by
// name on create. The namespace must hold no workloads and no claims, nor
// any object of the backup; afterwards the drill deletes the backup's
// objects and the claims (the only claims there are the restore's own)
// and leaves the namespace and everything else in it.

// checkReusable refuses a namespace that does not exist, or that holds
// StatefulSets, Deployments or PersistentVolumeClaims: the restore's
// workloads and data must be the only ones there, so that the drill can
// delete every claim afterwards.
func checkReusable(ctx context.Context, kube kubernetes.Interface, ns string) error {
	if _, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: namespace %s does not exist: --reuse-namespace restores into a namespace made for drills (the Helm chart's drill.scratchNamespace); create it, or leave --reuse-namespace out for a new namespace", ErrRefused, ns)
	} else if err != nil {
		return fmt.Errorf("look up the scratch namespace %s: %w", ns, err)
	}
	var found []string
	sts, err := kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the StatefulSets of the scratch namespace %s: %w", ns, err)
	}
	for _, o := range sts.Items {
		found = append(found, "StatefulSet/"+o.Name)
	}
	deps, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the Deployments of the scratch namespace %s: %w", ns, err)
	}
	for _, o := range deps.Items {
		found = append(found, "Deployment/"+o.Name)
	}
	pvcs, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the claims of the scratch namespace %s: %w", ns, err)
	}
	for _, o := range pvcs.Items {
		found = append(found, "PersistentVolumeClaim/"+o.Name)
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: the scratch namespace %s is not empty: it holds %s; a drill with --reuse-namespace restores only where no workloads or claims are (a drill left with --keep? delete them, e.g. kubectl -n %s delete statefulsets,deployments,pvc --all)",
			ErrRefused, ns, strings.Join(found, ", "), ns)
	}
	return nil
}

// checkNoneOf refuses a restore into ns when an object of the backup is
// there already: the drill would replace it, and delete it afterwards.
func checkNoneOf(ctx context.Context, kube kubernetes.Interface, ns string, m *backup.Manifest) error {
	var found []string
	for _, r := range m.Resources {
		if _, known := backup.GroupVersionResource(r.Resource); !known {
			continue // the restore skips it too
		}
		ok, err := backup.ObjectExists(ctx, kube, r.Resource, ns, r.Name)
		if err != nil {
			return fmt.Errorf("look up %s %s in the scratch namespace %s: %w", r.Kind, r.Name, ns, err)
		}
		if ok {
			found = append(found, r.Kind+"/"+r.Name)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: the scratch namespace %s already holds %s of the backup: nothing was restored; delete them, or drill into another namespace", ErrRefused, ns, strings.Join(found, ", "))
	}
	return nil
}

// objectUndo is the journal's steps deleting the backup's objects from ns
// (claims among them), for rebound cleanup after a crash.
func objectUndo(ns string, m *backup.Manifest) []journal.Undo {
	var undo []journal.Undo
	for _, r := range restoredLastFirst(m) {
		gvr, ok := backup.GroupVersionResource(r.Resource)
		if !ok {
			continue // a kind the restore skips
		}
		undo = append(undo, faults.DeleteObjectUndo(gvr.Group, gvr.Version, gvr.Resource, ns, r.Name))
	}
	return undo
}

// restoredLastFirst is the backup's objects, workloads first, so that the
// pods stop before their claims and config go.
func restoredLastFirst(m *backup.Manifest) []backup.ResourceEntry {
	rs := slices.Clone(m.Resources)
	workload := func(r backup.ResourceEntry) bool {
		return r.Resource == backup.ResStatefulSets || r.Resource == backup.ResDeployments
	}
	slices.SortStableFunc(rs, func(a, b backup.ResourceEntry) int {
		switch {
		case workload(a) && !workload(b):
			return -1
		case !workload(a) && workload(b):
			return 1
		}
		return 0
	})
	return rs
}

// deleteRestored deletes from ns the backup's objects and every claim (the
// restore's and its StatefulSets': checkReusable saw none before), and
// waits until they are gone, up to timeout.
func deleteRestored(ctx context.Context, kube kubernetes.Interface, ns string, m *backup.Manifest, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rs := restoredLastFirst(m)
	for _, r := range rs {
		if _, ok := backup.GroupVersionResource(r.Resource); !ok {
			continue
		}
		if err := backup.DeleteObject(ctx, kube, r.Resource, ns, r.Name); err != nil {
			return fmt.Errorf("delete %s %s: %w", r.Kind, r.Name, err)
		}
	}
	// One by one: list and delete are what the chart's Role grants, not
	// deletecollection.
	pvcs, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the claims: %w", err)
	}
	for _, c := range pvcs.Items {
		if err := kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, c.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete PersistentVolumeClaim %s: %w", c.Name, err)
		}
	}
	for {
		var left []string
		for _, r := range rs {
			if _, ok := backup.GroupVersionResource(r.Resource); !ok {
				continue
			}
			ok, err := backup.ObjectExists(ctx, kube, r.Resource, ns, r.Name)
			if err != nil {
				return fmt.Errorf("look up %s %s: %w", r.Kind, r.Name, err)
			}
			if ok {
				left = append(left, r.Kind+"/"+r.Name)
			}
		}
		pvcs, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list the claims: %w", err)
		}
		for _, c := range pvcs.Items {
			left = append(left, "PersistentVolumeClaim/"+c.Name)
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still there after %s: %s", timeout, strings.Join(left, ", "))
		case <-time.After(500 * time.Millisecond):
		}
	}
}
