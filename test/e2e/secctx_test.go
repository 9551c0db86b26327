package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/backup"
)

// The user the non-root server runs as. Not 999: on Debian that is the
// systemd-journal group, and a lab pod's process is a process of the host.
const (
	serverUID     = 1001
	serverFSGroup = 2000
	serverSupp    = 3000
)

// nonRootServer is a pod as a chart for a server that refuses root writes
// it: a user, a group, an fsGroup for its volume, runAsNonRoot, no
// privilege escalation. Its shell records what it sees on its volume.
func nonRootServer(marker string) *corev1.Pod {
	const data = "/var/lib/rebound-e2e/data"
	script := strings.Join([]string{
		"set -e",
		"id -u > " + data + "/uid",
		"id -g > " + data + "/gid",
		"id -G > " + data + "/groups",
		"mkdir -p " + data + "/sub",
		"echo hello > " + data + "/sub/file",
		"echo mine > /tmp/" + marker,
		"ls -A /tmp > " + data + "/tmp-list",
		"cat /var/run/secrets/kubernetes.io/serviceaccount/token > /dev/null",
		"cat /var/run/app-conf/greeting > " + data + "/greeting",
		"echo done > " + data + "/done",
		"exec sleep 3600",
	}, "\n")
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "server"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsUser: ptr.To[int64](serverUID), RunAsGroup: ptr.To[int64](serverUID), RunAsNonRoot: ptr.To(true),
				FSGroup: ptr.To[int64](serverFSGroup), SupplementalGroups: []int64{serverSupp},
			},
			Containers: []corev1.Container{{
				Name: "server", Image: "busybox:1.37", Command: []string{"sh", "-c", script},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)},
				// An exec probe runs as the container's user too.
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test \"$(id -u)\" = 1001 && test -f " + data + "/done"}}},
					PeriodSeconds: 1,
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "data", MountPath: data},
					{Name: "conf", MountPath: "/var/run/app-conf"},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}, DefaultMode: ptr.To[int32](0o440),
				}}},
			},
		},
	}
}

func TestSecurityContext(t *testing.T) {
	const ns = "rebound-e2e-secctx"
	marker := "rebound-e2e-secctx-" + time.Now().Format("150405.000000")
	f := features.New("pod security context").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "conf"}, Data: map[string]string{"greeting": "hi"},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("16Mi")}},
				},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, p := range []*corev1.Pod{nonRootServer(marker), rootImageUnderRunAsNonRoot()} {
				if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			return ctx
		}).
		Assess("a non-root server runs as its user and groups and owns its volume through its fsGroup", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			waitFor(t, ctx, "the server Ready (its exec probe, as uid 1001, sees its files)", 90*time.Second, func() bool {
				p, err := cs.CoreV1().Pods(ns).Get(ctx, "server", metav1.GetOptions{})
				return err == nil && podReady(p)
			})
			dir, err := labFrom(ctx).VolumePath(ctx, ns, "data")
			if err != nil {
				t.Fatal(err)
			}
			read := func(name string) string {
				t.Helper()
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("the server did not write %s: %v", name, err)
				}
				return strings.TrimSpace(string(b))
			}
			if got := read("uid"); got != "1001" {
				t.Errorf("the server runs as uid %s, want its runAsUser 1001", got)
			}
			if got := read("gid"); got != "1001" {
				t.Errorf("the server runs as gid %s, want its runAsGroup 1001", got)
			}
			groups := strings.Fields(read("groups"))
			for _, g := range []string{"2000", "3000"} {
				if !slices.Contains(groups, g) {
					t.Errorf("the server's groups %v lack %s (fsGroup and supplementalGroups)", groups, g)
				}
			}
			if got := read("greeting"); got != "hi" {
				t.Errorf("the configMap file (defaultMode 0440, readable through the fsGroup) reads %q", got)
			}
			// Private /tmp: the container saw only its own file there, and
			// the host's /tmp never had it.
			if got := read("tmp-list"); got != marker {
				t.Errorf("the server's /tmp holds %q, want only its own %s", got, marker)
			}
			if _, err := os.Lstat(filepath.Join("/tmp", marker)); err == nil {
				t.Errorf("the server's /tmp/%s is in the host's /tmp", marker)
			}
			// Ownership as the kubelet sets it: the volume's root has the
			// fsGroup, group rwx and setgid, so what the server makes there
			// is its own and the fsGroup's.
			own := func(name string) (os.FileMode, uint32, uint32) {
				t.Helper()
				st, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				sys := st.Sys().(*syscall.Stat_t)
				return st.Mode(), sys.Uid, sys.Gid
			}
			if m, _, gid := own("."); gid != serverFSGroup || m&os.ModeSetgid == 0 || m.Perm()&0o070 != 0o070 {
				t.Errorf("volume root: mode %v gid %d, want group %d with rwx and setgid", m, gid, serverFSGroup)
			}
			for _, name := range []string{"sub", "sub/file", "uid"} {
				if m, uid, gid := own(name); uid != serverUID || gid != serverFSGroup {
					t.Errorf("%s: uid %d gid %d (%v), want the server's %d and the fsGroup %d", name, uid, gid, m, serverUID, serverFSGroup)
				}
			}
			return ctx
		}).
		Assess("runAsNonRoot with an image that runs as root does not start, as on a kubelet", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			var st corev1.ContainerStatus
			waitFor(t, ctx, "the root container refused", 60*time.Second, func() bool {
				p, err := cs.CoreV1().Pods(ns).Get(ctx, "refused", metav1.GetOptions{})
				if err != nil || len(p.Status.ContainerStatuses) == 0 {
					return false
				}
				st = p.Status.ContainerStatuses[0]
				return st.State.Waiting != nil && st.State.Waiting.Reason == "CreateContainerConfigError"
			})
			if want := "container has runAsNonRoot and image will run as root"; !strings.Contains(st.State.Waiting.Message, want) {
				t.Errorf("waiting message %q, want the kubelet's %q", st.State.Waiting.Message, want)
			}
			if st.RestartCount != 0 || st.LastTerminationState.Terminated != nil {
				t.Errorf("the refused container ran: %+v", st)
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if err := backup.DeleteNamespace(ctx, kube(t, ctx), ns, 2*time.Minute); err != nil {
				t.Error(err)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// rootImageUnderRunAsNonRoot asks for a non-root user and names none: the
// busybox mapping has no user, so the image would run as root.
func rootImageUnderRunAsNonRoot() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "refused"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			Containers:      []corev1.Container{{Name: "root", Image: "busybox:1.37", Command: []string{"sleep", "3600"}}},
		},
	}
}
