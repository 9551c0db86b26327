package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/lab/agent"
	"github.com/reboundhq/rebound/lab/labnet"
)

const podNetNamespace = "e2e-net"

// peerServer answers each TCP connection on 0.0.0.0:5432 with the address
// the connection came from, as the server sees it.
const peerServer = `use IO::Socket::INET; $| = 1;
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0:5432", Listen => 16, ReuseAddr => 1) or die "listen: $!";
print "listening\n";
while (my $c = $s->accept) { print $c $c->peerhost, "\n"; close $c }`

// peerClient connects to each address in @ARGV and prints what it answered.
const peerClient = `use IO::Socket::INET; $| = 1;
for my $h (@ARGV) {
  my $c = IO::Socket::INET->new(PeerAddr => "$h:5432", Timeout => 5) or die "connect $h: $!";
  my $line = <$c>; chomp $line; print "$h saw $line\n";
}`

func perlPod(name, zone string, restart corev1.RestartPolicy, script string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: podNetNamespace, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			RestartPolicy: restart,
			NodeSelector:  map[string]string{agent.LabelZone: zone},
			Containers: []corev1.Container{{
				Name: "perl", Image: "docker.io/library/perl:5.40",
				Command: append([]string{"perl", "-e", script, "--"}, args...),
				Ports:   []corev1.ContainerPort{{ContainerPort: 5432}},
				// Ready once it listens: a log line could be a previous run's.
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
}

// podLog reads a container's log as the lab agent writes it.
func podLog(ctx context.Context, ns, pod, ctr string) string {
	b, _ := os.ReadFile(filepath.Join(labFrom(ctx).Dir(), "logs", fmt.Sprintf("%s_%s_%s.log", ns, pod, ctr)))
	return string(b)
}

func runningPod(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitFor(t, ctx, "pod "+name+" ready with an IP", 60*time.Second, func() bool {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || !podReady(p) || p.Status.PodIP == "" {
			return false
		}
		pod = p
		return true
	})
	return pod
}

// TestPodNetwork checks the lab's pod network: pods in different zones
// talk over TCP, two pods listen on 0.0.0.0:5432 at once, a server sees its
// client's pod IP as the source, and rebound reaches pods from the lab's
// namespace, never from the host's.
func TestPodNetwork(t *testing.T) {
	f := features.New("pod network").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: podNetNamespace}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			return ctx
		}).
		Assess("pods in three zones: two servers on 0.0.0.0:5432, a client sees itself as the source", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, l := kube(t, ctx), labFrom(ctx)
			servers := make([]*corev1.Pod, 2)
			for i, zone := range []string{l.ZoneName(0), l.ZoneName(1)} {
				if _, err := cs.CoreV1().Pods(podNetNamespace).Create(ctx, perlPod(fmt.Sprintf("server-%d", i), zone, corev1.RestartPolicyAlways, peerServer), metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range servers {
				servers[i] = runningPod(t, ctx, cs, podNetNamespace, fmt.Sprintf("server-%d", i))
			}
			if servers[0].Status.PodIP == servers[1].Status.PodIP {
				t.Fatalf("two pods share the IP %s", servers[0].Status.PodIP)
			}
			plan := l.NetPlan()
			for _, s := range servers {
				if !plan.PodCIDR.Contains(mustAddr(t, s.Status.PodIP)) {
					t.Errorf("pod %s has IP %s, outside the pod range %s", s.Name, s.Status.PodIP, plan.PodCIDR)
				}
			}
			client := perlPod("client", l.ZoneName(2), corev1.RestartPolicyNever, peerClient, servers[0].Status.PodIP, servers[1].Status.PodIP)
			client.Spec.Containers[0].ReadinessProbe = nil
			if _, err := cs.CoreV1().Pods(podNetNamespace).Create(ctx, client, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var clientIP string
			waitFor(t, ctx, "the client to finish", 60*time.Second, func() bool {
				p, err := cs.CoreV1().Pods(podNetNamespace).Get(ctx, "client", metav1.GetOptions{})
				if err != nil {
					return false
				}
				clientIP = p.Status.PodIP
				return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			})
			out := podLog(ctx, podNetNamespace, "client", "perl")
			for _, s := range servers {
				want := fmt.Sprintf("%s saw %s\n", s.Status.PodIP, clientIP)
				if !strings.Contains(out, want) {
					t.Errorf("client log lacks %q (a server in another zone must see the client's pod IP); log:\n%s", want, out)
				}
			}
			// rebound's own dialer reaches both from the lab namespace's infra address.
			for _, s := range servers {
				c, err := labnet.Dial(ctx, "tcp", net.JoinHostPort(s.Status.PodIP, "5432"))
				if err != nil {
					t.Fatalf("labnet.Dial %s: %v", s.Status.PodIP, err)
				}
				b, _ := io.ReadAll(c)
				c.Close()
				if got := strings.TrimSpace(string(b)); got != plan.Infra().String() {
					t.Errorf("server %s saw rebound's connection from %s, want the lab's infra address %s", s.Name, got, plan.Infra())
				}
			}
			// In the host's own namespace the lab's ranges are unreachable
			// (checked by route lookup, so a missing guard sends nothing out).
			for _, a := range []string{servers[0].Status.PodIP, plan.KubernetesServiceIP().String()} {
				if !labnet.Guarded(mustAddr(t, a)) {
					t.Errorf("%s is not unreachable from the host's namespace: a stray connection would leave the machine", a)
				}
			}
			return ctx
		}).
		Assess("a hostPort answers on the node's address; a second pod asking for it on the same node is refused, naming the port", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, l := kube(t, ctx), labFrom(ctx)
			first := perlPod("hostport-0", l.ZoneName(0), corev1.RestartPolicyAlways, peerServer)
			first.Spec.Containers[0].Ports[0].HostPort = 15432
			if _, err := cs.CoreV1().Pods(podNetNamespace).Create(ctx, first, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			p := runningPod(t, ctx, cs, podNetNamespace, "hostport-0")
			c, err := net.DialTimeout("tcp", net.JoinHostPort(p.Status.HostIP, "15432"), 5*time.Second)
			if err != nil {
				t.Fatalf("hostPort 15432 on node %s (%s): %v", p.Spec.NodeName, p.Status.HostIP, err)
			}
			b, _ := io.ReadAll(c)
			c.Close()
			if strings.TrimSpace(string(b)) == "" {
				t.Errorf("hostPort 15432 reached no server")
			}
			// Bound to the same node past the scheduler, as a user's nodeName does.
			second := perlPod("hostport-1", l.ZoneName(0), corev1.RestartPolicyAlways, peerServer)
			second.Spec.NodeName, second.Spec.NodeSelector = p.Spec.NodeName, nil
			second.Spec.Containers[0].Ports[0].HostPort = 15432
			if _, err := cs.CoreV1().Pods(podNetNamespace).Create(ctx, second, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "hostport-1 waiting with the port named", 30*time.Second, func() bool {
				q, err := cs.CoreV1().Pods(podNetNamespace).Get(ctx, "hostport-1", metav1.GetOptions{})
				if err != nil || len(q.Status.ContainerStatuses) == 0 {
					return false
				}
				w := q.Status.ContainerStatuses[0].State.Waiting
				return w != nil && strings.Contains(w.Message, "hostPort 15432 is taken")
			})
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			deleteNamespace(t, ctx, kube(t, ctx), podNetNamespace)
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return a
}
