package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup/mover"
)

// EnvDataDir is the environment variable of the Patroni container that
// names PGDATA (Patroni's own PATRONI_POSTGRESQL_DATA_DIR): a restore
// finds the data directory, and the volume it is on, from it.
const EnvDataDir = "PATRONI_POSTGRESQL_DATA_DIR"

// ErrNotPatroni refuses the restore of a base backup whose objects hold no
// Patroni StatefulSet to restore it into.
var ErrNotPatroni = errors.New("no Patroni StatefulSet to restore the base backup into")

// PlanRestore plans the restore of a base backup into a Patroni cluster
// (App.Restore). One data mover writes the backup's base.tar and WAL into
// the data directory of the StatefulSet's first member, staged on its
// volume and swapped in only once every file is written and synced (a
// failed mover leaves the old data as it was); the other members' data
// directories are emptied, so they clone themselves from the restored
// primary. The engine deletes the running cluster's DCS objects (the
// leader lock, failover and sync keys: RuntimeState) once the workloads
// are stopped, and applies the backup's <scope>-config, whose initialize
// key is the backup's system identifier. When the members start, the
// first finds a data directory with a backup_label and the WAL to replay
// and the cluster's identity matching it: Patroni runs crash recovery
// (replaying the WAL to past the cut), takes the leader lock and
// promotes. The others find an empty directory and an initialized
// cluster, wait for the leader and clone from it. No custom bootstrap
// method is needed, so this works for any Patroni cluster that has:
//
//   - the data directory named in the Patroni container's
//     PATRONI_POSTGRESQL_DATA_DIR, in a subdirectory of a volume from the
//     StatefulSet's volumeClaimTemplates;
//   - Patroni's Kubernetes DCS with ConfigMaps (use_endpoints: false, the
//     default), labelled so the backup's selector takes <scope>-config;
//     with Endpoints the config is not captured, and the StatefulSet
//     must then start its members in order (podManagementPolicy
//     OrderedReady, with a readiness probe on Patroni's /readiness), or
//     an emptied member could initialize a new, empty cluster first;
//   - the backup's PostgreSQL major version.
func PlanRestore(ctx context.Context, in apps.RestoreInput) (*apps.RestorePlan, error) {
	if in.Data.Kind != KindBaseBackup {
		return nil, fmt.Errorf("postgres restore: data of kind %q, want %q", in.Data.Kind, KindBaseBackup)
	}
	var p BackupParams
	if err := json.Unmarshal(in.Data.Params, &p); err != nil {
		return nil, fmt.Errorf("postgres restore: the backup's parameters: %w", err)
	}
	if len(p.Tablespaces) > 0 {
		var locs []string
		for _, ts := range p.Tablespaces {
			locs = append(locs, ts.Location)
		}
		return nil, fmt.Errorf("postgres restore: the backup has tablespaces outside the data directory (%s), which rebound does not restore yet: restore it with pg_basebackup's tools, or move them into pg_default before the backup", strings.Join(locs, ", "))
	}
	for _, o := range []string{ObjectBase, ObjectWAL} {
		if !slices.Contains(in.Data.Objects, o) {
			return nil, fmt.Errorf("postgres restore: the backup lacks %s (it has %v): it is damaged or incomplete", o, in.Data.Objects)
		}
	}
	t, err := findPatroni(in.Objects)
	if err != nil {
		return nil, err
	}
	replicas := int32(1)
	if t.sts.Spec.Replicas != nil {
		replicas = *t.sts.Spec.Replicas
	}
	plan := &apps.RestorePlan{}
	for i := range replicas {
		claim := t.claim(i, in.TargetNamespace)
		o := mover.ArchiveOptions{VolumeRoot: t.mount.MountPath, Dir: t.pgdata, Owner: t.owner(), VolumeGroup: t.fsGroup()}
		if i == 0 {
			o.Backup = in.BackupID
			o.Objects = []mover.ArchiveObject{{Object: ObjectBase, Into: "."}, {Object: ObjectWAL, Into: "pg_wal"}}
		} else if in.Kube != nil {
			// A member whose claim does not exist has no data to clear.
			_, err := in.Kube.CoreV1().PersistentVolumeClaims(in.TargetNamespace).Get(ctx, claim.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("postgres restore: pvc %s/%s: %w", in.TargetNamespace, claim.Name, err)
			}
		}
		plan.Movers = append(plan.Movers, apps.Mover{Target: claim.Name, Claim: claim, Args: o.OwnArgs(), Pod: t.moverPod(claim.Name)})
	}
	return plan, nil
}

// patroniTarget is where a base backup goes in a Patroni StatefulSet.
type patroniTarget struct {
	sts    *appsv1.StatefulSet
	c      *corev1.Container
	pgdata string
	mount  corev1.VolumeMount
	tmpl   *corev1.PersistentVolumeClaim
}

// findPatroni finds the StatefulSet with a container naming its PGDATA in
// PATRONI_POSTGRESQL_DATA_DIR, and the claim template PGDATA is on.
func findPatroni(objs []*unstructured.Unstructured) (*patroniTarget, error) {
	var seen []string
	for _, u := range objs {
		if u.GetKind() != "StatefulSet" {
			continue
		}
		seen = append(seen, u.GetName())
		sts := new(appsv1.StatefulSet)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, sts); err != nil {
			return nil, fmt.Errorf("postgres restore: statefulset %s: %w", u.GetName(), err)
		}
		for ci := range sts.Spec.Template.Spec.Containers {
			c := &sts.Spec.Template.Spec.Containers[ci]
			pgdata := ""
			for _, e := range c.Env {
				if e.Name == EnvDataDir {
					pgdata = filepath.Clean(e.Value)
				}
			}
			if pgdata == "" || pgdata == "." {
				continue
			}
			if !filepath.IsAbs(pgdata) {
				return nil, fmt.Errorf("postgres restore: statefulset %s, container %s: %s=%q is not an absolute path", sts.Name, c.Name, EnvDataDir, pgdata)
			}
			t := &patroniTarget{sts: sts, c: c, pgdata: pgdata}
			for _, m := range c.VolumeMounts {
				rel, err := filepath.Rel(m.MountPath, pgdata)
				if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || len(m.MountPath) <= len(t.mount.MountPath) {
					continue
				}
				for vi := range sts.Spec.VolumeClaimTemplates {
					if sts.Spec.VolumeClaimTemplates[vi].Name == m.Name {
						t.mount, t.tmpl = m, &sts.Spec.VolumeClaimTemplates[vi]
					}
				}
			}
			if t.tmpl == nil {
				return nil, fmt.Errorf("postgres restore: statefulset %s, container %s: PGDATA %s is on no volume from the StatefulSet's volumeClaimTemplates: rebound restores the data into the members' claims", sts.Name, c.Name, pgdata)
			}
			if rel, _ := filepath.Rel(t.mount.MountPath, pgdata); rel == "." {
				return nil, fmt.Errorf("postgres restore: statefulset %s, container %s: PGDATA %s is the volume's mount point: put it in a subdirectory (e.g. %s/pgdata), as PostgreSQL wants and Patroni's examples do", sts.Name, c.Name, pgdata, t.mount.MountPath)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("postgres restore: %w: none of the backup's StatefulSets %v has a container with %s set (Patroni's data directory): set it in the Patroni container's env", ErrNotPatroni, seen, EnvDataDir)
}

// claim is member i's claim, as the StatefulSet controller would make it.
func (t *patroniTarget) claim(i int32, ns string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-%s-%d", t.tmpl.Name, t.sts.Name, i), Namespace: ns,
			Labels: map[string]string{}, Annotations: t.tmpl.Annotations,
		},
		Spec: *t.tmpl.Spec.DeepCopy(),
	}
	for k, v := range t.tmpl.Labels {
		c.Labels[k] = v
	}
	if t.sts.Spec.Selector != nil {
		for k, v := range t.sts.Spec.Selector.MatchLabels {
			c.Labels[k] = v
		}
	}
	return c
}

// owner is "UID:GID" of the user the Patroni container runs as, when its
// security context says (runAsUser; runAsGroup, else fsGroup, else the
// user's id), or "".
func (t *patroniTarget) owner() string {
	var uid, gid *int64
	if ps := t.sts.Spec.Template.Spec.SecurityContext; ps != nil {
		uid, gid = ps.RunAsUser, ps.RunAsGroup
		if gid == nil {
			gid = ps.FSGroup
		}
	}
	if cs := t.c.SecurityContext; cs != nil {
		if cs.RunAsUser != nil {
			uid = cs.RunAsUser
		}
		if cs.RunAsGroup != nil {
			gid = cs.RunAsGroup
		}
	}
	if uid == nil {
		return ""
	}
	if gid == nil {
		gid = uid
	}
	return fmt.Sprintf("%d:%d", *uid, *gid)
}

// fsGroup is the pod's fsGroup, or "".
func (t *patroniTarget) fsGroup() string {
	if ps := t.sts.Spec.Template.Spec.SecurityContext; ps != nil && ps.FSGroup != nil {
		return strconv.FormatInt(*ps.FSGroup, 10)
	}
	return ""
}

// moverPod mounts claim where the Patroni container mounts its volume and
// places the mover as the app's pods are placed. When the app's user is
// known (owner) the mover runs as the engine made it and gives the files
// to that user (--owner): it must read the repository and its key, which
// the app's user may not; else it runs as the app runs (its pod and
// container security context).
func (t *patroniTarget) moverPod(claim string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "pgdata", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
		}})
		c := &p.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "pgdata", MountPath: t.mount.MountPath, SubPath: t.mount.SubPath})
		ps := t.sts.Spec.Template.Spec
		if t.owner() == "" {
			if ps.SecurityContext != nil {
				p.Spec.SecurityContext = ps.SecurityContext.DeepCopy()
			}
			if t.c.SecurityContext != nil {
				c.SecurityContext = t.c.SecurityContext.DeepCopy()
			}
		}
		p.Spec.NodeSelector = ps.NodeSelector
		p.Spec.Tolerations = ps.Tolerations
		if ps.Affinity != nil && ps.Affinity.NodeAffinity != nil {
			// Node affinity only: pod (anti-)affinity refers to the app's
			// pods, which are stopped while movers run.
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: ps.Affinity.NodeAffinity.DeepCopy()}
		}
	}
}

// dcsSuffixes are the names Patroni's Kubernetes DCS gives the objects
// of a running cluster after its scope: the leader lock (<scope>-leader,
// or the <scope> Endpoints with use_endpoints), a planned failover and the
// synchronous standby. <scope>-config is not among them: see
// IsRuntimeState.
var dcsSuffixes = []string{"", "-leader", "-failover", "-sync"}

// patroniAnnotations are annotations only Patroni's DCS objects carry.
var patroniAnnotations = []string{"leader", "acquireTime", "renewTime", "optime", "member", "sync_standby", "transitions"}

// IsRuntimeState reports whether u is one of the objects in which
// Patroni's Kubernetes DCS keeps the running cluster's state
// (App.RuntimeState): the ConfigMaps (or Endpoints, with use_endpoints)
// named <scope>, <scope>-leader, <scope>-failover and <scope>-sync,
// labelled with the scope. A backup does not capture them, and a restore
// deletes them once the members are stopped, so no member of the
// restored cluster follows a leader or a failover of the cluster it
// replaces.
//
// <scope>-config is kept, captured with the other config: it holds the
// cluster's dynamic configuration and its initialize key, the system
// identifier of the data, which is the backup's own. Deleting it would
// let a member whose data directory the restore emptied win the race to
// initialize the cluster (with podManagementPolicy Parallel all members
// start at once) and initdb an empty one, after which the member holding
// the restored data refuses to join (system ID mismatch). With the key
// in place the empty members wait for a leader and clone from it.
//
// An object counts when its name is a label value plus one of those
// suffixes and either that label is Patroni's default scope label
// (cluster-name) or the object carries Patroni's annotations: a user's
// ConfigMap named "<app>-leader" is not taken for one.
func IsRuntimeState(u *unstructured.Unstructured) bool {
	if k := u.GetKind(); k != "ConfigMap" && k != "Endpoints" {
		return false
	}
	name := u.GetName()
	ann := u.GetAnnotations()
	patroniAnn := slices.ContainsFunc(patroniAnnotations, func(a string) bool { _, ok := ann[a]; return ok })
	for k, scope := range u.GetLabels() {
		if scope == "" || !strings.HasPrefix(name, scope) || !slices.Contains(dcsSuffixes, name[len(scope):]) {
			continue
		}
		if k == "cluster-name" || patroniAnn {
			return true
		}
	}
	return false
}
