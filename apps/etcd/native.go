package etcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup/mover"
)

// SnapshotKind is the kind of the data an etcd backup records
// (apps.NativeData.Kind).
const SnapshotKind = "etcd-snapshot"

// SnapshotObject is the name of the snapshot in the backup.
const SnapshotObject = "data/etcd/snapshot.db"

var _ apps.NativeBackuper = (*Driver)(nil)

// NativeBackup streams an etcd snapshot into the backup (opts is unused).
func (d *Driver) NativeBackup(ctx context.Context, w apps.BackupWriter, _ any) (apps.NativeData, error) {
	return snapshot(ctx, d.cli, w)
}

// etcdSnapshot streams an etcd snapshot into the backup. The cut is taken
// before a linearizable read on the member the snapshot then comes from:
// that member has applied every write acknowledged before the cut when it
// answers the read, and its snapshot holds at least that state.
func snapshot(ctx context.Context, base *clientv3.Client, w apps.BackupWriter) (apps.NativeData, error) {
	var errs []error
	for _, ep := range base.Endpoints() {
		nd, err := snapshotFrom(ctx, base, ep, w)
		if err == nil {
			return nd, nil
		}
		if errors.Is(err, errStreamStarted) || ctx.Err() != nil {
			return apps.NativeData{}, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
	}
	return apps.NativeData{}, fmt.Errorf("etcd snapshot: no member could give one: %w", errors.Join(errs...))
}

// errStreamStarted marks a failure after bytes went into the backup: the
// object cannot be retried under the same name.
var errStreamStarted = errors.New("snapshot stream failed")

func snapshotFrom(ctx context.Context, base *clientv3.Client, ep string, w apps.BackupWriter) (apps.NativeData, error) {
	// One connection to ep alone, with the client's TLS and credentials,
	// carries the status, the read and the snapshot: through the client's
	// balancer they could reach different members, and a snapshot from a
	// member behind the read would lack writes acknowledged before the cut.
	conn, err := base.Dial(ep)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	kv := clientv3.NewKVFromKVClient(pb.NewKVClient(conn), base)
	mt := clientv3.NewMaintenanceFromMaintenanceClient(pb.NewMaintenanceClient(conn), base)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := mt.Status(sctx, ep)
	cancel()
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("status: %w", err)
	}
	// The cut, then the read that every write acknowledged before it
	// precedes. A failed read leaves the cut to the next member's.
	w.Cut()
	gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	resp, err := kv.Get(gctx, "\x00rebound-backup-cut")
	cancel()
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("linearizable read: %w", err)
	}
	rc, err := mt.Snapshot(ctx)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("snapshot: %w", err)
	}
	defer rc.Close()
	w.Progress(fmt.Sprintf("etcd snapshot: from %s (revision %d, %d bytes)", ep, resp.Header.Revision, st.DbSize), 0, st.DbSize, false)
	hr := newHashCheck(rc, func(n int64) { w.Progress("etcd snapshot", n, st.DbSize, false) })
	if err := w.AddObject(ctx, SnapshotObject, hr); err != nil {
		return apps.NativeData{}, fmt.Errorf("%w: %w", errStreamStarted, err)
	}
	if err := hr.check(); err != nil {
		return apps.NativeData{}, fmt.Errorf("%w: %w", errStreamStarted, err)
	}
	w.Progress("etcd snapshot", hr.n, hr.n, true)
	return apps.NativeData{Kind: SnapshotKind, Objects: []string{SnapshotObject}, Size: hr.n,
		Position: strconv.FormatInt(resp.Header.Revision, 10), Endpoint: ep}, nil
}

// hashCheck passes an etcd snapshot stream through and checks its
// trailer: the SHA-256 of everything before it, which the server appends.
type hashCheck struct {
	r      io.Reader
	h      hash.Hash
	tail   []byte
	n      int64
	report func(int64)
	last   time.Time
}

func newHashCheck(r io.Reader, report func(int64)) *hashCheck {
	return &hashCheck{r: r, h: sha256.New(), report: report}
}

func (c *hashCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.tail = append(c.tail, p[:n]...)
		if len(c.tail) > sha256.Size {
			cut := len(c.tail) - sha256.Size
			c.h.Write(c.tail[:cut])
			c.tail = append(c.tail[:0], c.tail[cut:]...)
		}
		if time.Since(c.last) > 200*time.Millisecond {
			c.last = time.Now()
			c.report(c.n)
		}
	}
	return n, err
}

func (c *hashCheck) check() error {
	if len(c.tail) != sha256.Size || !bytes.Equal(c.h.Sum(nil), c.tail) {
		return errors.New("etcd snapshot: the stream's SHA-256 trailer does not match its content (cut short or damaged in transit)")
	}
	return nil
}

// etcdPlan is how the members of an etcd StatefulSet are rebuilt from a
// snapshot: one data-mover pod per member, with the member's volume
// mounted where etcd mounts it and the member's own flags, so that
// `etcdutl snapshot restore` writes exactly the data directory that member
// will start from.
type etcdPlan struct {
	sts       *appsv1.StatefulSet
	container corev1.Container
	mount     corev1.VolumeMount // the data volume, as the etcd container mounts it
	vct       corev1.PersistentVolumeClaim
	flags     map[string]string // the restore flags, as written (may hold $(VAR))
}

// The etcd flags a member restore needs.
var etcdRestoreFlags = []string{"name", "data-dir", "initial-cluster", "initial-cluster-token", "initial-advertise-peer-urls"}

// etcd's own defaults for them.
var etcdDefaults = map[string]string{
	"name":                        "default",
	"initial-cluster":             "default=http://localhost:2380",
	"initial-cluster-token":       "etcd-cluster",
	"initial-advertise-peer-urls": "http://localhost:2380",
}

// planEtcd finds the etcd container of sts and how its members are laid out.
func planEtcd(sts *appsv1.StatefulSet) (*etcdPlan, error) {
	spec := sts.Spec.Template.Spec
	idx := -1
	for i, c := range spec.Containers {
		if isEtcdContainer(c) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("statefulset %s: no container runs etcd (command or image named etcd)", sts.Name)
	}
	c := spec.Containers[idx]
	p := &etcdPlan{sts: sts, container: c, flags: etcdFlags(c)}
	if p.flags["data-dir"] == "" {
		return nil, fmt.Errorf("statefulset %s: container %s sets no --data-dir; rebound restores members into the data directory the StatefulSet names", sts.Name, c.Name)
	}
	dataDir := expand(p.flags["data-dir"], staticEnv(c))
	if !path.IsAbs(dataDir) {
		return nil, fmt.Errorf("statefulset %s: --data-dir %q is not an absolute path", sts.Name, dataDir)
	}
	// The volume holding the data directory: the deepest mount above it.
	best := -1
	for i, m := range c.VolumeMounts {
		if (dataDir == m.MountPath || strings.HasPrefix(dataDir, strings.TrimSuffix(m.MountPath, "/")+"/")) && (best < 0 || len(m.MountPath) > len(c.VolumeMounts[best].MountPath)) {
			best = i
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("statefulset %s: the data directory %s is on no volume of container %s", sts.Name, dataDir, c.Name)
	}
	p.mount = c.VolumeMounts[best]
	found := false
	for _, v := range sts.Spec.VolumeClaimTemplates {
		if v.Name == p.mount.Name {
			p.vct, found = v, true
		}
	}
	if !found {
		return nil, fmt.Errorf("statefulset %s: the data directory %s is on volume %q, which is not one of its volumeClaimTemplates; rebound restores etcd members into their claims", sts.Name, dataDir, p.mount.Name)
	}
	return p, nil
}

func isEtcdContainer(c corev1.Container) bool {
	if len(c.Command) > 0 {
		return path.Base(c.Command[0]) == "etcd"
	}
	img := c.Image
	if i := strings.LastIndex(img, "/"); i >= 0 {
		img = img[i+1:]
	}
	return strings.HasPrefix(img, "etcd:") || img == "etcd" || strings.HasPrefix(img, "etcd@")
}

// etcdFlags reads the restore flags from the container's command and
// args (--flag=value or --flag value), then from its ETCD_* environment,
// then etcd's defaults.
func etcdFlags(c corev1.Container) map[string]string {
	var argv []string
	if len(c.Command) > 1 {
		argv = append(argv, c.Command[1:]...)
	}
	argv = append(argv, c.Args...)
	out := map[string]string{}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		} else if i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
			val, hasVal = argv[i+1], true
			i++
		}
		if hasVal {
			out[name] = val
		}
	}
	for _, f := range etcdRestoreFlags {
		if _, ok := out[f]; ok {
			continue
		}
		envName := "ETCD_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		for _, e := range c.Env {
			if e.Name == envName {
				out[f] = "$(" + envName + ")"
			}
		}
		if _, ok := out[f]; !ok && etcdDefaults[f] != "" {
			out[f] = etcdDefaults[f]
		}
	}
	return out
}

// staticEnv is the container's literal environment, for working out paths.
func staticEnv(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			m[e.Name] = expand(e.Value, m)
		}
	}
	return m
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand replaces $(VAR) as Kubernetes does, leaving unknown ones.
func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// replicas is the StatefulSet's member count.
func (p *etcdPlan) replicas() int {
	if p.sts.Spec.Replicas == nil {
		return 1
	}
	return int(*p.sts.Spec.Replicas)
}

func (p *etcdPlan) member(i int) string { return p.sts.Name + "-" + strconv.Itoa(i) }
func (p *etcdPlan) claim(i int) string  { return p.vct.Name + "-" + p.sts.Name + "-" + strconv.Itoa(i) }

// claimFor is the PVC of member i, as the StatefulSet controller makes it.
func (p *etcdPlan) claimFor(i int, ns string) *corev1.PersistentVolumeClaim {
	c := p.vct.DeepCopy()
	c.ObjectMeta = metav1.ObjectMeta{Name: p.claim(i), Namespace: ns, Labels: map[string]string{}, Annotations: c.Annotations}
	for k, v := range p.vct.Labels {
		c.Labels[k] = v
	}
	if p.sts.Spec.Selector != nil {
		for k, v := range p.sts.Spec.Selector.MatchLabels {
			c.Labels[k] = v
		}
	}
	c.Status = corev1.PersistentVolumeClaimStatus{}
	return c
}

// memberEnv is the etcd container's environment as member's pod would
// have it: downward-API names and namespaces become literal values.
func memberEnv(c corev1.Container, member, ns string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, ev := range c.Env {
		switch {
		case ev.ValueFrom == nil:
			out = append(out, ev)
		case ev.ValueFrom.FieldRef != nil:
			switch ev.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				out = append(out, corev1.EnvVar{Name: ev.Name, Value: member})
			case "metadata.namespace":
				out = append(out, corev1.EnvVar{Name: ev.Name, Value: ns})
			}
		case ev.ValueFrom.ConfigMapKeyRef != nil || ev.ValueFrom.SecretKeyRef != nil:
			out = append(out, ev)
		}
	}
	return out
}

// errNoStatefulSet: an etcd snapshot with nothing to restore it into.
var errNoStatefulSet = errors.New("the backup holds an etcd snapshot but no StatefulSet running etcd to restore it into (back up with the app's metadata)")

// PlanRestore is the etcd RestorePlanner: every member of the backup's
// etcd StatefulSet is rebuilt from the snapshot by a data-mover pod with
// the member's volume mounted where etcd mounts it and the member's own
// flags, so that `etcdutl snapshot restore` writes exactly the data
// directory that member will start from.
func PlanRestore(_ context.Context, in apps.RestoreInput) (*apps.RestorePlan, error) {
	if in.Data.Kind != SnapshotKind {
		return nil, fmt.Errorf("etcd restore: data of kind %q: this driver restores %s", in.Data.Kind, SnapshotKind)
	}
	object := SnapshotObject
	if len(in.Data.Objects) > 0 {
		object = in.Data.Objects[0]
	}
	var p *etcdPlan
	for _, u := range in.Objects {
		if u.GetKind() != "StatefulSet" {
			continue
		}
		sts := new(appsv1.StatefulSet)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, sts); err != nil {
			return nil, fmt.Errorf("statefulset %s of the backup: %w", u.GetName(), err)
		}
		if pl, err := planEtcd(sts); err == nil {
			p = pl
			break
		}
	}
	if p == nil {
		return nil, errNoStatefulSet
	}
	plan := &apps.RestorePlan{}
	for i := range p.replicas() {
		plan.Movers = append(plan.Movers, p.mover(i, in.TargetNamespace, in.BackupID, object))
	}
	return plan, nil
}

// mover is the data mover that rebuilds member i in ns from the snapshot
// object of backup id.
func (p *etcdPlan) mover(i int, ns, backupID, object string) apps.Mover {
	member := p.member(i)
	o := mover.EtcdMemberOptions{
		Backup:     backupID,
		Object:     object,
		VolumeRoot: p.mount.MountPath,
		// Kubernetes expands $(VAR) in args from the mover's environment,
		// which holds the member's values (memberEnv).
		DataDir: p.flags["data-dir"], Name: p.flags["name"], InitialCluster: p.flags["initial-cluster"],
		InitialClusterToken: p.flags["initial-cluster-token"], InitialAdvertisePeerURLs: p.flags["initial-advertise-peer-urls"],
	}
	return apps.Mover{
		Target: member,
		Claim:  p.claimFor(i, ns),
		Args:   o.OwnArgs(),
		Pod: func(pod *corev1.Pod) {
			m := p.mount
			m.Name = "data"
			pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: p.claim(i)},
			}})
			c := &pod.Spec.Containers[0]
			c.VolumeMounts = append(c.VolumeMounts, m)
			c.Env = memberEnv(p.container, member, ns)
			c.SecurityContext = p.container.SecurityContext.DeepCopy()
			mover.CopyScheduling(pod, &p.sts.Spec.Template.Spec)
		},
	}
}
