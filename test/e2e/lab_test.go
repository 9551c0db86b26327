package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/agent"
)

func nodeReady(t *testing.T, ctx context.Context, name string) bool {
	n, err := kube(t, ctx).CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	return err == nil && lab.NodeReady(n)
}

func TestNodesReadyInZones(t *testing.T) {
	f := features.New("lab nodes").
		Assess("six nodes over three zones, Ready and labelled like cloud nodes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			nodes, err := kube(t, ctx).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			perZone := map[string]int{}
			for _, n := range nodes.Items {
				if !lab.NodeReady(&n) {
					t.Errorf("node %s is not Ready", n.Name)
				}
				for _, l := range []string{agent.LabelZone, agent.LabelRegion, agent.LabelHostname, agent.LabelInstanceType} {
					if n.Labels[l] == "" {
						t.Errorf("node %s has no %s label", n.Name, l)
					}
				}
				perZone[n.Labels[agent.LabelZone]]++
			}
			if len(nodes.Items) != lab.DefaultNodes || len(perZone) != lab.DefaultZones {
				t.Fatalf("got %d nodes in zones %v, want %d over %d", len(nodes.Items), perZone, lab.DefaultNodes, lab.DefaultZones)
			}
			for z, n := range perZone {
				if n != lab.DefaultNodes/lab.DefaultZones {
					t.Errorf("zone %s has %d nodes, want %d", z, n, lab.DefaultNodes/lab.DefaultZones)
				}
			}
			return ctx
		}).
		Assess("up is idempotent: a second up changes nothing", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l := labFrom(ctx)
			before, _ := os.ReadFile(filepath.Join(l.Dir(), "agent.pid"))
			if err := l.Up(ctx); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(filepath.Join(l.Dir(), "agent.pid"))
			if string(before) != string(after) || len(before) == 0 {
				t.Errorf("second up restarted the agent: pid %q -> %q", before, after)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestEtcdAppHealthy(t *testing.T) {
	f := features.New("demo etcd app").
		Assess("three members, one per zone, on volumes pinned to their node and zone", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			zones := map[string]bool{}
			for _, p := range etcdPods(t, ctx, cs) {
				node, err := cs.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				zone := node.Labels[agent.LabelZone]
				zones[zone] = true
				pvc, err := cs.CoreV1().PersistentVolumeClaims(demoNamespace).Get(ctx, "data-"+p.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				affinity := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions
				got := map[string]string{}
				for _, e := range affinity {
					got[e.Key] = e.Values[0]
				}
				if got[agent.LabelHostname] != p.Spec.NodeName || got[agent.LabelZone] != zone {
					t.Errorf("pv %s affinity %v, want node %s zone %s", pv.Name, got, p.Spec.NodeName, zone)
				}
			}
			if len(zones) != 3 {
				t.Errorf("etcd members in zones %v, want one in each of 3 zones", zones)
			}
			return ctx
		}).
		Assess("a healthy cluster reachable through pod IPs that takes writes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cli, eps := etcdClient(t, ctx, kube(t, ctx))
			members, err := cli.MemberList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(members.Members) != 3 {
				t.Errorf("%d members, want 3", len(members.Members))
			}
			if n := healthyMembers(ctx, cli, eps); n != 3 {
				t.Errorf("%d healthy members, want 3", n)
			}
			w := startWriter(cli, "/e2e/healthy")
			time.Sleep(2 * time.Second)
			assertAllPresent(t, ctx, cli, "/e2e/healthy", w.finish())
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestNodeStop(t *testing.T) {
	f := features.New("node stop").
		Assess("the node turns NotReady in time, etcd keeps quorum and every acknowledged write, and start brings it back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			cli, eps := etcdClient(t, ctx, cs)
			victim := etcdPods(t, ctx, cs)["etcd-1"]
			node := victim.Spec.NodeName
			w := startWriter(cli, "/e2e/nodestop")
			time.Sleep(time.Second)

			stopped := time.Now()
			if err := l.NodePower(ctx, node, lab.PowerStop); err != nil {
				t.Fatal(err)
			}
			took := waitFor(t, ctx, "node "+node+" NotReady", lab.NotReadyWithin+5*time.Second, func() bool { return !nodeReady(t, ctx, node) })
			t.Logf("node %s NotReady %.1fs after stop (documented: within %s)", node, took.Seconds(), lab.NotReadyWithin)
			if took > lab.NotReadyWithin {
				t.Errorf("node NotReady after %s, documented within %s", took, lab.NotReadyWithin)
			}
			if n := w.ackedSince(stopped.Add(2 * time.Second)); n == 0 {
				t.Errorf("no write acknowledged while one member was down: quorum lost")
			}

			if err := l.NodePower(ctx, node, lab.PowerStart); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "node "+node+" Ready again", 30*time.Second, func() bool { return nodeReady(t, ctx, node) })
			waitFor(t, ctx, "three healthy members again", 60*time.Second, func() bool { return healthyMembers(ctx, cli, eps) == 3 })
			p, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, victim.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.UID != victim.UID || p.Status.ContainerStatuses[0].RestartCount <= victim.Status.ContainerStatuses[0].RestartCount {
				t.Errorf("after the node's reboot the member should run again in the same pod with a restart counted; restarts %d -> %d",
					victim.Status.ContainerStatuses[0].RestartCount, p.Status.ContainerStatuses[0].RestartCount)
			}
			assertAllPresent(t, ctx, cli, "/e2e/nodestop", w.finish())
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestZoneStopAndFreeze(t *testing.T) {
	f := features.New("zone power").
		Assess("stopping a zone turns all its nodes NotReady; etcd keeps quorum; start brings everything back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			cli, eps := etcdClient(t, ctx, cs)
			node, err := cs.CoreV1().Nodes().Get(ctx, etcdPods(t, ctx, cs)["etcd-2"].Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			zone := node.Labels[agent.LabelZone]
			w := startWriter(cli, "/e2e/zonestop")
			stopped := time.Now()
			names, err := l.ZonePower(ctx, zone, lab.PowerStop)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != lab.DefaultNodes/lab.DefaultZones {
				t.Errorf("zone %s stopped nodes %v", zone, names)
			}
			took := waitFor(t, ctx, "every node of zone "+zone+" NotReady", lab.NotReadyWithin+5*time.Second, func() bool {
				for _, n := range names {
					if nodeReady(t, ctx, n) {
						return false
					}
				}
				return true
			})
			if took > lab.NotReadyWithin {
				t.Errorf("zone NotReady after %s, documented within %s", took, lab.NotReadyWithin)
			}
			if n := w.ackedSince(stopped.Add(2 * time.Second)); n == 0 {
				t.Errorf("no write acknowledged with one zone down: quorum lost")
			}
			if _, err := l.ZonePower(ctx, zone, lab.PowerStart); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "zone "+zone+" Ready again", 30*time.Second, func() bool {
				for _, n := range names {
					if !nodeReady(t, ctx, n) {
						return false
					}
				}
				return true
			})
			waitFor(t, ctx, "three healthy members again", 60*time.Second, func() bool { return healthyMembers(ctx, cli, eps) == 3 })
			assertAllPresent(t, ctx, cli, "/e2e/zonestop", w.finish())
			return ctx
		}).
		Assess("a frozen node hangs its member; start thaws it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			victim := etcdPods(t, ctx, cs)["etcd-0"]
			cli, _ := etcdClient(t, ctx, cs)
			ep := "http://" + victim.Status.PodIP + ":2379"
			if err := l.NodePower(ctx, victim.Spec.NodeName, lab.PowerFreeze); err != nil {
				t.Fatal(err)
			}
			c, cancel := context.WithTimeout(ctx, time.Second)
			_, err := cli.Status(c, ep)
			cancel()
			if err == nil {
				t.Errorf("a frozen member answered")
			}
			if err := l.NodePower(ctx, victim.Spec.NodeName, lab.PowerStart); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "the thawed member answers", 20*time.Second, func() bool {
				c, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				_, err := cli.Status(c, ep)
				return err == nil
			})
			p, _ := cs.CoreV1().Pods(demoNamespace).Get(ctx, victim.Name, metav1.GetOptions{})
			if p.Status.ContainerStatuses[0].RestartCount != victim.Status.ContainerStatuses[0].RestartCount {
				t.Errorf("a thawed process should resume, not restart")
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func TestDiskFaultsAndSimulatedPods(t *testing.T) {
	const ns = "rebound-e2e-disk"
	f := features.New("disk faults on a lab volume, on a pod whose image maps to nothing").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			sts := &appsv1.StatefulSet{
				ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: appsv1.StatefulSetSpec{
					Replicas: ptr.To[int32](1), ServiceName: "web",
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{
							Name: "nginx", Image: "docker.io/library/nginx:1.29",
							VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/usr/share/nginx/html"}},
						}}},
					},
					VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
						ObjectMeta: metav1.ObjectMeta{Name: "data"},
						Spec: corev1.PersistentVolumeClaimSpec{
							AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
							Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("16Mi")}},
						},
					}},
				},
			}
			if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("the pod is simulated as Running and says so", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			var pod *corev1.Pod
			waitFor(t, ctx, "web-0 Running", 60*time.Second, func() bool {
				p, err := cs.CoreV1().Pods(ns).Get(ctx, "web-0", metav1.GetOptions{})
				pod = p
				return err == nil && p.Status.Phase == corev1.PodRunning
			})
			found := false
			for _, c := range pod.Status.Conditions {
				if c.Type == agent.SimulatedCondition && c.Status == corev1.ConditionTrue && strings.Contains(c.Message, "nginx") {
					found = true
				}
			}
			if !found {
				t.Errorf("simulated pod has no %s condition naming its container: %+v", agent.SimulatedCondition, pod.Status.Conditions)
			}
			return ctx
		}).
		Assess("fill, readonly, wipe and corrupt act on the volume and undo cleanly", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l := labFrom(ctx)
			dir, err := l.VolumePath(ctx, ns, "data-web-0")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(strings.Repeat("hello ", 100)), 0o644); err != nil {
				t.Fatal(err)
			}
			do := func(action string) {
				t.Helper()
				if _, err := l.DiskFault(ctx, ns, "data-web-0", action); err != nil {
					t.Fatalf("%s: %v", action, err)
				}
			}
			do(lab.DiskFill)
			if err := os.WriteFile(filepath.Join(dir, "more"), make([]byte, 1<<20), 0o644); err == nil {
				t.Error("a full volume took 1 MiB more")
			}
			do(lab.DiskUnfill)
			do(lab.DiskReadOnly)
			if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644); err == nil {
				t.Error("a read-only volume took a write")
			}
			do(lab.DiskReadWrite)
			if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644); err != nil {
				t.Errorf("volume still read-only after readwrite: %v", err)
			}
			before, _ := os.ReadFile(filepath.Join(dir, "index.html"))
			do(lab.DiskCorrupt)
			after, _ := os.ReadFile(filepath.Join(dir, "index.html"))
			if string(before) == string(after) {
				t.Error("corrupt changed nothing")
			}
			do(lab.DiskWipe)
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("wipe left %d entries", len(entries))
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			_ = kube(t, ctx).CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
