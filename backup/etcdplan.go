package backup

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/backup/mover"
)

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

// memberJob is the mover pod that rebuilds member i in ns from the etcd
// snapshot of backup id.
func (e *Engine) etcdMemberJob(p *etcdPlan, i int, ns, tok, backupID string, revisionBump uint64) moverJob {
	member := p.member(i)
	o := mover.EtcdMemberOptions{
		Common:     mover.Common{Repo: e.moverURL, KeyFile: keyFile, Token: tok, Target: member},
		Backup:     backupID,
		Object:     etcdObject,
		VolumeRoot: p.mount.MountPath,
		// Kubernetes expands $(VAR) in args from the mover's environment,
		// which holds the member's values (memberEnv).
		DataDir: p.flags["data-dir"], Name: p.flags["name"], InitialCluster: p.flags["initial-cluster"],
		InitialClusterToken: p.flags["initial-cluster-token"], InitialAdvertisePeerURLs: p.flags["initial-advertise-peer-urls"],
		RevisionBump: revisionBump,
	}
	pod := e.moverPod(ns, tok, member, o.Args())
	m := p.mount
	m.Name = "data"
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: p.claim(i)},
	}})
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, m)
	c.Env = memberEnv(p.container, member, ns)
	c.SecurityContext = p.container.SecurityContext.DeepCopy()
	copyScheduling(&pod.Spec, &p.sts.Spec.Template.Spec, tok)
	return moverJob{target: member, pod: pod}
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

// copyScheduling gives a mover pod the placement rules of the app's pods,
// with the spread and anti-affinity rules counting the movers of tok
// instead of the app's pods (which do not run during a restore). The
// volumes the movers make are then where the app's pods may run.
func copyScheduling(dst, src *corev1.PodSpec, tok string) {
	dst.NodeSelector = src.NodeSelector
	dst.Tolerations = src.Tolerations
	dst.SecurityContext = src.SecurityContext.DeepCopy()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{LabelMoverGroup: tok}}
	if a := src.Affinity; a != nil {
		dst.Affinity = &corev1.Affinity{NodeAffinity: a.NodeAffinity.DeepCopy()}
		if aa := a.PodAntiAffinity; aa != nil {
			anti := &corev1.PodAntiAffinity{}
			for _, t := range aa.RequiredDuringSchedulingIgnoredDuringExecution {
				t = *t.DeepCopy()
				t.LabelSelector, t.NamespaceSelector, t.Namespaces, t.MatchLabelKeys, t.MismatchLabelKeys = sel, nil, nil, nil, nil
				anti.RequiredDuringSchedulingIgnoredDuringExecution = append(anti.RequiredDuringSchedulingIgnoredDuringExecution, t)
			}
			for _, w := range aa.PreferredDuringSchedulingIgnoredDuringExecution {
				w = *w.DeepCopy()
				w.PodAffinityTerm.LabelSelector, w.PodAffinityTerm.NamespaceSelector, w.PodAffinityTerm.Namespaces = sel, nil, nil
				w.PodAffinityTerm.MatchLabelKeys, w.PodAffinityTerm.MismatchLabelKeys = nil, nil
				anti.PreferredDuringSchedulingIgnoredDuringExecution = append(anti.PreferredDuringSchedulingIgnoredDuringExecution, w)
			}
			dst.Affinity.PodAntiAffinity = anti
		}
	}
	for _, t := range src.TopologySpreadConstraints {
		t = *t.DeepCopy()
		t.LabelSelector, t.MatchLabelKeys = sel, nil
		dst.TopologySpreadConstraints = append(dst.TopologySpreadConstraints, t)
	}
}

// errNoEtcdStatefulSet: an etcd snapshot with nothing to restore it into.
var errNoEtcdStatefulSet = errors.New("the backup holds an etcd snapshot but no StatefulSet running etcd to restore it into (back up with the app's metadata)")
