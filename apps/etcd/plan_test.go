package etcd

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup/mover"

	demoapps "github.com/reboundhq/rebound/scenarios/apps"
)

func demoEtcd(t *testing.T) *appsv1.StatefulSet {
	t.Helper()
	objs, err := demoapps.Objects("etcd")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if s, ok := o.(*appsv1.StatefulSet); ok {
			return s
		}
	}
	t.Fatal("the demo etcd app has no StatefulSet")
	return nil
}

func TestPlanEtcdDemo(t *testing.T) {
	t.Parallel()
	sts := demoEtcd(t)
	p, err := planEtcd(sts)
	if err != nil {
		t.Fatal(err)
	}
	if p.mount.MountPath != "/var/lib/etcd" || p.vct.Name != "data" || p.replicas() != 3 {
		t.Errorf("mount %+v vct %s replicas %d", p.mount, p.vct.Name, p.replicas())
	}
	if p.claim(2) != "data-etcd-2" || p.member(2) != "etcd-2" {
		t.Errorf("claim %s member %s", p.claim(2), p.member(2))
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(sts)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetKind("StatefulSet")
	plan, err := PlanRestore(context.Background(), apps.RestoreInput{
		Data: apps.NativeData{Kind: SnapshotKind, Objects: []string{SnapshotObject}}, BackupID: strings.Repeat("ab", 32),
		Objects: []*unstructured.Unstructured{obj}, SourceNamespace: "rebound-demo", TargetNamespace: "copy",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Movers) != 3 || plan.AfterReady != nil {
		t.Fatalf("plan %+v: want three movers, one per member, and nothing after Ready", plan)
	}
	mv := plan.Movers[1]
	// The engine's pod: one container, labelled with the operation's group.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{mover.LabelGroup: "tok1"}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "mover"}}}}
	mv.Pod(pod)
	c := pod.Spec.Containers[0]
	args := strings.Join(mover.Common{Repo: "/var/lib/rebound/backups/repo", KeyFile: "/key", Token: "tok1", Target: mv.Target}.Command(mv.Args), " ")
	if mv.Target != "etcd-1" || mv.Args[0] != mover.CmdEtcdRestoreMember {
		t.Errorf("mover target %s args %v", mv.Target, mv.Args)
	}
	for _, want := range []string{
		"backup etcd-restore-member", "--name=$(POD_NAME)", "--data-dir=/var/lib/etcd/data", "--volume-root=/var/lib/etcd",
		"--initial-cluster=etcd-0=http://etcd-0.etcd.$(POD_NAMESPACE).svc.cluster.local:2380,",
		"--initial-cluster-token=etcd-$(POD_NAMESPACE)", "--initial-advertise-peer-urls=http://$(POD_NAME).etcd.$(POD_NAMESPACE).svc.cluster.local:2380",
		"--repo=/var/lib/rebound/backups/repo", "--key-file=/key", "--object=" + SnapshotObject,
	} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q:\n%s", want, args)
		}
	}
	env := map[string]string{}
	for _, ev := range c.Env {
		if ev.ValueFrom != nil {
			t.Errorf("env %s still refers to the downward API", ev.Name)
		}
		env[ev.Name] = ev.Value
	}
	if env["POD_NAME"] != "etcd-1" || env["POD_NAMESPACE"] != "copy" {
		t.Errorf("member env %v", env)
	}
	if _, ok := env["POD_IP"]; ok {
		t.Error("POD_IP has no value a mover could know")
	}
	var claim string
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "data-etcd-1" {
		t.Errorf("mover mounts claim %q", claim)
	}
	if len(pod.Spec.TopologySpreadConstraints) != 2 {
		t.Fatalf("spread constraints %v", pod.Spec.TopologySpreadConstraints)
	}
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		if tsc.LabelSelector.MatchLabels[mover.LabelGroup] != "tok1" || len(tsc.LabelSelector.MatchLabels) != 1 {
			t.Errorf("spread constraint counts %v, want the movers", tsc.LabelSelector)
		}
	}
	pvc := plan.Movers[0].Claim
	if pvc.Name != "data-etcd-0" || pvc.Namespace != "copy" || pvc.Labels["app.kubernetes.io/name"] != "etcd" {
		t.Errorf("claim %+v", pvc.ObjectMeta)
	}
}

func TestEtcdFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    corev1.Container
		want map[string]string
	}{
		{"separate values and env", corev1.Container{Command: []string{"etcd", "--name", "m", "--data-dir", "/d"}, Env: []corev1.EnvVar{{Name: "ETCD_INITIAL_CLUSTER", Value: "m=http://m:2380"}}},
			map[string]string{"name": "m", "data-dir": "/d", "initial-cluster": "$(ETCD_INITIAL_CLUSTER)", "initial-cluster-token": "etcd-cluster", "initial-advertise-peer-urls": "http://localhost:2380"}},
		{"args after a command", corev1.Container{Command: []string{"/usr/local/bin/etcd"}, Args: []string{"--name=x", "-data-dir=/v/x", "--initial-cluster-token=t"}},
			map[string]string{"name": "x", "data-dir": "/v/x", "initial-cluster-token": "t", "initial-cluster": "default=http://localhost:2380", "initial-advertise-peer-urls": "http://localhost:2380"}},
	} {
		got := etcdFlags(tc.c)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got[k], v)
			}
		}
	}
	if !isEtcdContainer(corev1.Container{Image: "quay.io/coreos/etcd:v3.5.0"}) || isEtcdContainer(corev1.Container{Image: "etcd-operator:1"}) {
		t.Error("isEtcdContainer by image")
	}
}

func TestPlanEtcdRefusesDataOffClaims(t *testing.T) {
	t.Parallel()
	sts := demoEtcd(t)
	sts.Spec.VolumeClaimTemplates = nil
	if _, err := planEtcd(sts); err == nil || !strings.Contains(err.Error(), "volumeClaimTemplates") {
		t.Errorf("planEtcd without claims: %v", err)
	}
	sts = demoEtcd(t)
	c := &sts.Spec.Template.Spec.Containers[0]
	c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--data-dir") })
	if _, err := planEtcd(sts); err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("planEtcd without --data-dir: %v", err)
	}
}

func TestHashCheck(t *testing.T) {
	t.Parallel()
	body := []byte(strings.Repeat("etcd db page ", 5000))
	sum := sha256Sum(body)
	good := append(append([]byte{}, body...), sum...)
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"intact", good, true},
		{"cut short", good[:len(good)-10], false},
		{"flipped", func() []byte { b := append([]byte{}, good...); b[100] ^= 1; return b }(), false},
	} {
		hc := newHashCheck(strings.NewReader(string(tc.in)), func(int64) {})
		buf := make([]byte, 777)
		for {
			if _, err := hc.Read(buf); err != nil {
				break
			}
		}
		if err := hc.check(); (err == nil) != tc.ok {
			t.Errorf("%s: check %v", tc.name, err)
		}
	}
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
