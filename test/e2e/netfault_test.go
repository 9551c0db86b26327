package e2e

import (
	"context"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/lab/netfault"
)

// canCommit tells whether a Put through the given client commits in time.
func canCommit(ctx context.Context, cli *clientv3.Client, key string) bool {
	c, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := cli.Put(c, key, "v")
	return err == nil
}

// failedProbes connects n times to addr from the lab namespace, each with
// a short timeout, and returns the share (%) that failed.
func failedProbes(ctx context.Context, addr string, n int) int {
	failed := 0
	for range n {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		conn, err := labnet.Dial(c, "tcp", addr)
		cancel()
		if err != nil {
			failed++
			continue
		}
		conn.Close()
	}
	return failed * 100 / n
}

func TestNetworkFaults(t *testing.T) {
	f := features.New("lab network faults").
		Assess("a zone partition: its etcd member cannot commit, the other two take writes, none lost; heal brings it back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			pods := etcdPods(t, ctx, cs)
			victim := pods["etcd-2"]
			node, err := cs.CoreV1().Nodes().Get(ctx, victim.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			zone := node.Labels[agent.LabelZone]
			var others []string
			for name, p := range pods {
				if name != victim.Name {
					others = append(others, "http://"+net.JoinHostPort(p.Status.PodIP, "2379"))
				}
			}
			victimEP := "http://" + net.JoinHostPort(victim.Status.PodIP, "2379")
			majority, alone := labEtcd(t, others), labEtcd(t, []string{victimEP})
			if !canCommit(ctx, alone, "/e2e/partition/before") {
				t.Fatal("before the partition, a write through the victim member does not commit")
			}
			w := startWriter(majority, "/e2e/partition")
			// The catalog's zone-partition in the lab: the zone from the
			// other zones; rebound (in the lab namespace) still reaches both.
			id, err := l.NetApply(ctx, lab.NetFault{Kind: netfault.Partition, Target: lab.NetTarget{Zone: zone}, Peers: &lab.NetTarget{ExceptZone: zone}})
			if err != nil {
				t.Fatal(err)
			}
			applied := time.Now()
			// A member cut from its peers keeps running and answering, but
			// commits nothing (once a leader there steps down: CheckQuorum).
			waitFor(t, ctx, "the partitioned member stops committing", 20*time.Second, func() bool {
				return !canCommit(ctx, alone, "/e2e/partition/victim")
			})
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = alone.Status(c, victimEP)
			cancel()
			if err != nil {
				t.Errorf("the partitioned member does not answer a status request (%v): it should run on, cut off from its peers only", err)
			}
			time.Sleep(3 * time.Second)
			if n := w.ackedSince(applied.Add(5 * time.Second)); n == 0 {
				t.Error("the two members outside the zone took no write during the partition")
			}
			if err := l.NetHeal(ctx, id); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "the healed member commits again", 30*time.Second, func() bool {
				return canCommit(ctx, alone, "/e2e/partition/after")
			})
			assertAllPresent(t, ctx, majority, "/e2e/partition", w.finish())
			return ctx
		}).
		Assess("--cut-control-plane: the zone's nodes turn NotReady in the documented time, their processes run on", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			victim := etcdPods(t, ctx, cs)["etcd-0"]
			node, err := cs.CoreV1().Nodes().Get(ctx, victim.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			zone := node.Labels[agent.LabelZone]
			out, err := cli(ctx, "lab", "net", "partition", "--zone", zone, "--cut-control-plane").CombinedOutput()
			if err != nil {
				t.Fatalf("rebound lab net partition: %v\n%s", err, out)
			}
			cut := time.Now()
			var names []string
			states, err := l.NodeStates(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range states {
				if n.Zone == zone {
					names = append(names, n.Name)
					if !n.CutOff || n.Power != agent.PowerOn {
						t.Errorf("node %s: cut off %v, power %s; want cut off and on", n.Name, n.CutOff, n.Power)
					}
				}
			}
			waitFor(t, ctx, "every node of zone "+zone+" NotReady", lab.NotReadyWithin+5*time.Second, func() bool {
				for _, n := range names {
					if nodeReady(t, ctx, n) {
						return false
					}
				}
				return true
			})
			if took := time.Since(cut); took > lab.NotReadyWithin {
				t.Errorf("zone NotReady after %s, documented within %s", took, lab.NotReadyWithin)
			}
			if body, err := cs.CoreV1().Pods(demoNamespace).GetLogs(victim.Name, &corev1.PodLogOptions{}).DoRaw(ctx); err == nil || !strings.Contains(string(body), "cut off from the control plane") {
				t.Errorf("logs of a pod on a cut-off node: %v, %q; want the kubelet unreachable", err, body)
			}
			list, err := cli(ctx, "lab", "net", "list").CombinedOutput()
			if err != nil || !strings.Contains(string(list), "partition zone "+zone) {
				t.Errorf("rebound lab net list: %v\n%s", err, list)
			}
			if out, err := cli(ctx, "lab", "net", "heal", "--all").CombinedOutput(); err != nil {
				t.Fatalf("rebound lab net heal --all: %v\n%s", err, out)
			}
			waitFor(t, ctx, "zone "+zone+" Ready again", 30*time.Second, func() bool {
				for _, n := range names {
					if !nodeReady(t, ctx, n) {
						return false
					}
				}
				return true
			})
			ecli, eps := etcdClient(t, ctx, cs)
			waitFor(t, ctx, "three healthy members again", 60*time.Second, func() bool { return healthyMembers(ctx, ecli, eps) == 3 })
			p, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, victim.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.UID != victim.UID || p.Status.ContainerStatuses[0].RestartCount != victim.Status.ContainerStatuses[0].RestartCount {
				t.Errorf("the member of the cut-off zone was restarted or replaced; its process should have run on")
			}
			return ctx
		}).
		Assess("30% loss fails about 30% of the probes one way, about half both ways", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			victim := etcdPods(t, ctx, cs)["etcd-1"]
			addr := net.JoinHostPort(victim.Status.PodIP, "2379")
			if f := failedProbes(ctx, addr, 50); f > 5 {
				t.Fatalf("before any fault %d%% of the probes fail", f)
			}
			target := lab.NetTarget{Namespace: demoNamespace, Selector: "statefulset.kubernetes.io/pod-name=" + victim.Name}
			for _, tc := range []struct {
				dir      netfault.Direction
				min, max int
			}{
				// Wide bounds around 30% and 1-0.7² = 51%.
				{netfault.Egress, 15, 45},
				{netfault.Both, 35, 67},
			} {
				id, err := l.NetApply(ctx, lab.NetFault{Kind: netfault.Loss, Percent: 30, Direction: tc.dir, Target: target})
				if err != nil {
					t.Fatal(err)
				}
				failed := failedProbes(ctx, addr, 150)
				t.Logf("30%% loss %s: %d%% of the probes failed", tc.dir, failed)
				if failed < tc.min || failed > tc.max {
					t.Errorf("30%% loss %s: %d%% of the probes failed, want %d–%d%%", tc.dir, failed, tc.min, tc.max)
				}
				if err := l.NetHeal(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if f := failedProbes(ctx, addr, 50); f > 5 {
				t.Errorf("after heal %d%% of the probes fail", f)
			}
			return ctx
		}).
		Assess("a bandwidth limit holds traffic to a pod near its rate", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, cs := labFrom(ctx), kube(t, ctx)
			victim := etcdPods(t, ctx, cs)["etcd-1"]
			// A sink of the test's own inside the pod's namespace.
			sink, err := labnet.Listen(labnet.PodNetnsPath(l.Name, victim.UID), "tcp4", net.JoinHostPort(victim.Status.PodIP, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			var got atomic.Int64
			go func() {
				for {
					c, err := sink.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						b := make([]byte, 64<<10)
						for {
							n, err := c.Read(b)
							got.Add(int64(n))
							if err != nil {
								return
							}
						}
					}()
				}
			}()
			out, err := cli(ctx, "lab", "net", "bandwidth", "--rate", "8mbit", "--pods", demoNamespace+"/statefulset.kubernetes.io/pod-name="+victim.Name, "--id", "e2e-bandwidth").CombinedOutput()
			if err != nil {
				t.Fatalf("rebound lab net bandwidth: %v\n%s", err, out)
			}
			conn, err := labnet.Dial(ctx, "tcp", sink.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					if _, err := conn.Write(buf); err != nil {
						return
					}
				}
			}()
			time.Sleep(time.Second) // past the first burst
			start, before := time.Now(), got.Load()
			time.Sleep(2 * time.Second)
			rate := float64(got.Load()-before) / time.Since(start).Seconds()
			t.Logf("8mbit limit: %.0f bytes/s reached the pod", rate)
			// Wide bounds around 1 MB/s.
			if rate < 0.4e6 || rate > 2e6 {
				t.Errorf("8mbit limit: %.0f bytes/s reached the pod, want 0.4–2 MB/s", rate)
			}
			if out, err := cli(ctx, "lab", "net", "heal", "e2e-bandwidth").CombinedOutput(); err != nil {
				t.Fatalf("rebound lab net heal: %v\n%s", err, out)
			}
			return ctx
		}).
		Assess("kill -9 during the catalog's zone-partition, then rebound cleanup heals it from the journal", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l := labFrom(ctx)
			file := writeScenarioFile(t, scenarioYAML("zone-partition", "zone", "kind: zone-partition\nzone: lab-1a\nduration: 5m", ""))
			cmd, out := startUntilFault(t, ctx, file)
			list, err := l.NetList(ctx)
			if err != nil || len(list) != 1 || list[0].Kind != netfault.Partition {
				t.Fatalf("while the scenario runs: faults %v, %v; want its one partition\n%s", list, err, out)
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if list, _ := l.NetList(ctx); len(list) != 1 {
				t.Fatalf("after kill -9 the partition should still be in effect: %v", list)
			}
			cleaned, err := cli(ctx, "cleanup").CombinedOutput()
			if err != nil || !strings.Contains(string(cleaned), "rolled back") {
				t.Fatalf("rebound cleanup: %v\n%s", err, cleaned)
			}
			if list, err := l.NetList(ctx); err != nil || len(list) != 0 {
				t.Errorf("after cleanup: faults %v, %v; want none", list, err)
			}
			ecli, eps := etcdClient(t, ctx, kube(t, ctx))
			waitFor(t, ctx, "three healthy members after cleanup", 60*time.Second, func() bool { return healthyMembers(ctx, ecli, eps) == 3 })
			return ctx
		}).
		Assess("delay is refused with the kernel option named, and nothing is left", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if _, err := os.Stat("/proc/config.gz"); err != nil {
				t.Skip("no /proc/config.gz to tell whether the kernel has netem")
			}
			out, err := cli(ctx, "lab", "net", "delay", "--latency", "100ms", "--pods", demoNamespace+"/app.kubernetes.io/name=etcd").CombinedOutput()
			if netfault.NetemAvailable() == nil {
				t.Skip("this kernel has netem")
			}
			if exitCode(err) != 5 || !strings.Contains(string(out), "CONFIG_NET_SCH_NETEM") {
				t.Errorf("rebound lab net delay: exit %d, output %q; want exit 5 naming CONFIG_NET_SCH_NETEM", exitCode(err), out)
			}
			list, err := labFrom(ctx).NetList(ctx)
			if err != nil || len(list) != 0 {
				t.Errorf("faults left: %v, %v", list, err)
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
