package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/lab/addons"
	"github.com/reboundhq/rebound/lab/labnet"
)

// netNamespace holds the Services and pods of TestServicesAndDNS.
const netNamespace = "rebound-net-e2e"

// netcheckPod runs `rebound lab netcheck ARGS` in a lab pod: the image
// ghcr.io/reboundhq/rebound maps to the rebound binary itself.
func netcheckPod(name string, labels map[string]string, restart corev1.RestartPolicy, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: netNamespace, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy: restart,
			Containers: []corev1.Container{{
				Name: "netcheck", Image: "ghcr.io/reboundhq/rebound:dev",
				Args: append([]string{"lab", "netcheck"}, args...),
			}},
		},
	}
}

// webPod serves whoami on 8080 behind the web Services; ready tells
// whether its readiness probe can pass (web-nr's probes a closed port).
func webPod(name string, ready bool) *corev1.Pod {
	p := netcheckPod(name, map[string]string{"app": "web"}, corev1.RestartPolicyAlways, "serve", ":8080")
	p.Spec.Hostname, p.Spec.Subdomain = name, "web-hl"
	port := int32(8080)
	if !ready {
		port = 8081
	}
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(port)}},
		PeriodSeconds: 1,
	}
	return p
}

func service(name string, selector map[string]string, headless, publishNotReady bool) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: netNamespace},
		Spec: corev1.ServiceSpec{
			Selector:                 selector,
			PublishNotReadyAddresses: publishNotReady,
			Ports:                    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if headless {
		s.Spec.ClusterIP = corev1.ClusterIPNone
	}
	return s
}

// waitPodDone waits for a run-once pod to end and returns its output; a
// failed pod fails the test with it.
func waitPodDone(t *testing.T, ctx context.Context, cs kubernetes.Interface, name string) string {
	t.Helper()
	var phase corev1.PodPhase
	waitFor(t, ctx, "pod "+name+" to finish", 3*time.Minute, func() bool {
		p, err := cs.CoreV1().Pods(netNamespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			phase = p.Status.Phase
		}
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	})
	// The container's own output, without the agent's "--- rebound lab:
	// start …" lines.
	var lines []string
	for _, line := range strings.SplitAfter(podLog(ctx, netNamespace, name, "netcheck"), "\n") {
		if !strings.HasPrefix(line, "--- rebound lab: ") {
			lines = append(lines, line)
		}
	}
	log := strings.Join(lines, "")
	if phase != corev1.PodSucceeded {
		t.Fatalf("pod %s %s:\n%s", name, phase, log)
	}
	return log
}

func podReadyNow(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// netFixture is what the setup made: the pods' IPs and Services' ClusterIPs.
type netFixture struct {
	podIP     map[string]string
	clusterIP map[string]string
}

type netKey struct{}

func netFrom(ctx context.Context) *netFixture { return ctx.Value(netKey{}).(*netFixture) }

// setupNet makes the namespace of TestServicesAndDNS: three web pods (two
// ready, one never ready) behind a ClusterIP Service, a headless Service
// that publishes not-ready addresses and one that does not, a selector-less
// Service with a hand-written Endpoints object, and RBAC for the default
// service account to list pods.
func setupNet(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
	cs := kube(t, ctx)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: netNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := map[string]string{"app": "web"}
	for _, s := range []*corev1.Service{
		service("web", web, false, false),
		service("web-hl", web, true, true),
		service("web-ready", web, true, false),
		service("manual", nil, false, false),
		service("loopback", map[string]string{"app": "hairpin"}, false, false),
	} {
		if _, err := cs.CoreV1().Services(netNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*corev1.Pod{webPod("web-0", true), webPod("web-1", true), webPod("web-nr", false)} {
		if _, err := cs.CoreV1().Pods(netNamespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rbac := cs.RbacV1()
	if _, err := rbac.Roles(netNamespace).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "list-pods"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rbac.RoleBindings(netNamespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "list-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "list-pods"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: netNamespace}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	f := &netFixture{podIP: map[string]string{}, clusterIP: map[string]string{}}
	waitFor(t, ctx, "web-0 and web-1 Ready, web-nr Running", 2*time.Minute, func() bool {
		pods, err := cs.CoreV1().Pods(netNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false
		}
		ok := 0
		for i := range pods.Items {
			p := &pods.Items[i]
			f.podIP[p.Name] = p.Status.PodIP
			if p.Status.PodIP != "" && (podReadyNow(p) || p.Name == "web-nr" && p.Status.Phase == corev1.PodRunning) {
				ok++
			}
		}
		return ok == 3
	})
	// The selector-less Service gets its endpoint by hand: web-0.
	if _, err := cs.CoreV1().Endpoints(netNamespace).Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "manual"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: f.podIP["web-0"]}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svcs, err := cs.CoreV1().Services(netNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs.Items {
		f.clusterIP[s.Name] = s.Spec.ClusterIP
	}
	k, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.clusterIP["kubernetes"] = k.Spec.ClusterIP
	return context.WithValue(ctx, netKey{}, f)
}

func teardownNet(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
	cs := kube(t, ctx)
	if err := cs.CoreV1().Namespaces().Delete(ctx, netNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
	waitFor(t, ctx, "namespace "+netNamespace+" gone", 2*time.Minute, func() bool {
		_, err := cs.CoreV1().Namespaces().Get(ctx, netNamespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	return ctx
}

// lookups parses `netcheck lookup` output: name -> addresses or "ERROR KIND".
func lookups(t *testing.T, log string) (map[string][]string, map[string]time.Duration) {
	t.Helper()
	got, took := map[string][]string{}, map[string]time.Duration{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if f[1] == "ERROR" {
			got[f[0]] = []string{"ERROR " + f[2]}
		} else {
			addrs := strings.Split(f[1], ",")
			slices.Sort(addrs)
			got[f[0]] = addrs
		}
		for _, x := range f {
			if ms, ok := strings.CutPrefix(x, "elapsed="); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(ms, "ms"))
				took[f[0]] = time.Duration(n) * time.Millisecond
			}
		}
	}
	return got, took
}

// labGet GETs url from inside the lab network namespace, as `rebound lab
// exec` tools and rebound's own clients do.
func labGet(ctx context.Context, lab, url string) (string, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: labnet.Dialer(lab), DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// labExec runs a command inside the lab network namespace: `rebound lab
// exec` where this rebound has it, else nsenter, which is what it does.
func labExec(ctx context.Context, args ...string) ([]byte, error) {
	l := labFrom(ctx)
	rebound := os.Getenv("REBOUND_BINARY")
	if out, err := exec.CommandContext(ctx, rebound, "lab", "exec", "--help").CombinedOutput(); err == nil && strings.Contains(string(out), "exec") {
		return cli(ctx, append([]string{"lab", "exec", "--name", l.Name, "--"}, args...)...).CombinedOutput()
	}
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + labnet.NetnsPath(l.Name), "--"}, args...)...).CombinedOutput()
}

// TestServicesAndDNS checks that the lab's network behaves like a cluster's:
// pods reach the API server through the kubernetes Service, ClusterIP
// Services route (through the real kube-proxy) from pods and from the lab
// namespace, and CoreDNS serves Services, headless Services, pod hostnames
// and selector-less Services, and refuses outside names at once.
func TestServicesAndDNS(t *testing.T) {
	f := features.New("Services, DNS and the API server as on a cluster").
		Setup(setupNet).
		Teardown(teardownNet).
		Assess("the kubernetes Service routes to the API server forwarder on the infra address", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			plan := labFrom(ctx).NetPlan()
			if got := netFrom(ctx).clusterIP["kubernetes"]; got != plan.KubernetesServiceIP().String() {
				t.Errorf("default/kubernetes has ClusterIP %s, want %s (first of the Service range %s)", got, plan.KubernetesServiceIP(), plan.ServiceCIDR)
			}
			port, err := addons.APIServerPort(mustRESTHost(t, ctx))
			if err != nil {
				t.Fatal(err)
			}
			slice, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := net.JoinHostPort(plan.Infra().String(), port)
			if len(slice.Endpoints) != 1 || len(slice.Ports) != 1 || net.JoinHostPort(slice.Endpoints[0].Addresses[0], strconv.Itoa(int(*slice.Ports[0].Port))) != want {
				t.Errorf("EndpointSlice default/kubernetes = %+v %+v, want the one endpoint %s", slice.Endpoints, slice.Ports, want)
			}
			dns, err := cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
			if err != nil || dns.Spec.ClusterIP != plan.DNSServiceIP().String() {
				t.Errorf("kube-system/kube-dns = %v, %v; want ClusterIP %s", dns, err, plan.DNSServiceIP())
			}
			return ctx
		}).
		Assess("a lab pod lists pods through in-cluster config, via the kubernetes Service", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if _, err := cs.CoreV1().Pods(netNamespace).Create(ctx, netcheckPod("lister", nil, corev1.RestartPolicyNever, "list-pods", netNamespace), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			log := waitPodDone(t, ctx, cs, "lister")
			wantServer := "server https://" + net.JoinHostPort(netFrom(ctx).clusterIP["kubernetes"], "443")
			for _, want := range []string{wantServer, "pod web-0", "pod web-1", "pod lister"} {
				if !strings.Contains(log, want) {
					t.Errorf("the lister's log lacks %q:\n%s", want, log)
				}
			}
			return ctx
		}).
		Assess("a ClusterIP Service answers from a pod, by name and by address, with the pod's own IP as the source, and only from ready pods", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, fx := kube(t, ctx), netFrom(ctx)
			urls := []string{"http://web/", "http://web." + netNamespace + "/", "http://web." + netNamespace + ".svc.cluster.local/", "http://manual/"}
			for range 20 {
				urls = append(urls, "http://"+fx.clusterIP["web"]+"/")
			}
			if _, err := cs.CoreV1().Pods(netNamespace).Create(ctx, netcheckPod("client", nil, corev1.RestartPolicyNever, append([]string{"get", "--retry", "60s"}, urls...)...), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			log := waitPodDone(t, ctx, cs, "client")
			client, err := cs.CoreV1().Pods(netNamespace).Get(ctx, "client", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			served := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
				u, body, ok := strings.Cut(line, " -> ")
				if !ok {
					t.Errorf("unexpected line %q", line)
					continue
				}
				var pod, from string
				if _, err := fmt.Sscanf(body, "pod=%s client=%s", &pod, &from); err != nil {
					t.Errorf("%s answered %q", u, body)
					continue
				}
				served[pod]++
				if from != client.Status.PodIP {
					t.Errorf("%s: the server saw the client as %s, want the client pod's IP %s", u, from, client.Status.PodIP)
				}
				if u == "http://manual/" && pod != "web-0" {
					t.Errorf("the selector-less Service answered from %s, want web-0, its hand-written endpoint", pod)
				}
			}
			if served["web-nr"] > 0 {
				t.Errorf("the never-ready pod answered %d requests through the Service: %v", served["web-nr"], served)
			}
			if served["web-0"]+served["web-1"] != len(urls) {
				t.Errorf("answers by pod %v, want all %d from web-0 and web-1", served, len(urls))
			}
			return ctx
		}).
		Assess("a pod reaches itself through its own Service (hairpin)", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			// Not the pod's own name: that is in its /etc/hosts, as on a cluster.
			p := netcheckPod("hairpin", map[string]string{"app": "hairpin"}, corev1.RestartPolicyNever, "get", "--serve", ":8080", "--retry", "90s", "http://loopback/")
			if _, err := cs.CoreV1().Pods(netNamespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if log := waitPodDone(t, ctx, cs, "hairpin"); !strings.Contains(log, "http://loopback/ -> pod=hairpin ") {
				t.Errorf("the hairpin pod did not reach itself:\n%s", log)
			}
			return ctx
		}).
		Assess("a ClusterIP Service answers inside the lab namespace: rebound's dialer and `rebound lab exec`", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			fx, l := netFrom(ctx), labFrom(ctx)
			url := "http://" + fx.clusterIP["web"] + "/"
			var body string
			waitFor(t, ctx, "the web Service through rebound's lab dialer", time.Minute, func() bool {
				var err error
				body, err = labGet(ctx, l.Name, url)
				return err == nil
			})
			if !strings.HasPrefix(body, "pod=web-0 ") && !strings.HasPrefix(body, "pod=web-1 ") {
				t.Errorf("GET %s in the lab namespace answered %q, want web-0 or web-1", url, body)
			}
			out, err := labExec(ctx, os.Getenv("REBOUND_BINARY"), "lab", "netcheck", "get", "--retry", "30s", url)
			if err != nil || !strings.Contains(string(out), url+" -> pod=web-") {
				t.Errorf("netcheck get %s inside the lab namespace: %v\n%s", url, err, out)
			}
			return ctx
		}).
		Assess("CoreDNS resolves Services, headless Services, pod hostnames and selector-less Services, and refuses outside names at once", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, fx := kube(t, ctx), netFrom(ctx)
			ns := netNamespace
			dashed := strings.ReplaceAll(fx.podIP["web-0"], ".", "-")
			names := []string{"web", "web." + ns, "web." + ns + ".svc.cluster.local", "web-hl", "web-ready",
				"web-0.web-hl", "web-nr.web-hl." + ns + ".svc.cluster.local", "manual", "kubernetes.default",
				dashed + "." + ns + ".pod.cluster.local", "no-such-service", "example.com", "rebound.invalid"}
			if _, err := cs.CoreV1().Pods(ns).Create(ctx, netcheckPod("resolver", nil, corev1.RestartPolicyNever, append([]string{"lookup"}, names...)...), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			log := waitPodDone(t, ctx, cs, "resolver")
			got, took := lookups(t, log)
			sorted := func(a ...string) []string { slices.Sort(a); return a }
			want := map[string][]string{
				"web":                              {fx.clusterIP["web"]},
				"web." + ns:                        {fx.clusterIP["web"]},
				"web." + ns + ".svc.cluster.local": {fx.clusterIP["web"]},
				// Headless: one A record per pod; publishNotReadyAddresses
				// lists the never-ready pod too, the other does not.
				"web-hl":       sorted(fx.podIP["web-0"], fx.podIP["web-1"], fx.podIP["web-nr"]),
				"web-ready":    sorted(fx.podIP["web-0"], fx.podIP["web-1"]),
				"web-0.web-hl": {fx.podIP["web-0"]},
				"web-nr.web-hl." + ns + ".svc.cluster.local": {fx.podIP["web-nr"]},
				"manual":                                 {fx.clusterIP["manual"]},
				"kubernetes.default":                     {fx.clusterIP["kubernetes"]},
				dashed + "." + ns + ".pod.cluster.local": {fx.podIP["web-0"]},
				"no-such-service":                        {"ERROR NXDOMAIN"},
				"example.com":                            {"ERROR NXDOMAIN"},
				"rebound.invalid":                        {"ERROR NXDOMAIN"},
			}
			for name, w := range want {
				if !slices.Equal(got[name], w) {
					t.Errorf("lookup %s = %v, want %v", name, got[name], w)
				}
			}
			// NXDOMAIN comes from CoreDNS at once: a resolver that waited
			// for a server that does not answer takes 5 s per try.
			for _, name := range []string{"example.com", "rebound.invalid"} {
				if took[name] > 3*time.Second {
					t.Errorf("lookup %s took %s: an outside name must fail at once", name, took[name])
				}
			}
			if t.Failed() {
				t.Logf("resolver log:\n%s", log)
			}
			// The pod's resolv.conf, as the kubelet writes it.
			resolver, err := cs.CoreV1().Pods(ns).Get(ctx, "web-0", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			conf, err := os.ReadFile(filepath.Join(labFrom(ctx).Dir(), "pods", string(resolver.UID), "resolv.conf"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{
				"nameserver " + labFrom(ctx).NetPlan().DNSServiceIP().String() + "\n",
				"search " + ns + ".svc.cluster.local svc.cluster.local cluster.local\n",
				"options ndots:5\n",
			} {
				if !strings.Contains(string(conf), line) {
					t.Errorf("web-0's resolv.conf lacks %q:\n%s", line, conf)
				}
			}
			return ctx
		}).
		Assess("kube-dns answers inside the lab namespace through kube-proxy", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			l, fx := labFrom(ctx), netFrom(ctx)
			dial := labnet.Dialer(l.Name)
			dnsAddr := net.JoinHostPort(l.NetPlan().DNSServiceIP().String(), "53")
			for _, network := range []string{"udp", "tcp"} {
				r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return dial(ctx, network, dnsAddr)
				}}
				addrs, err := r.LookupHost(ctx, "web."+netNamespace+".svc.cluster.local.")
				if err != nil || !slices.Equal(addrs, []string{fx.clusterIP["web"]}) {
					t.Errorf("%s %s: web = %v, %v; want %s", network, dnsAddr, addrs, err, fx.clusterIP["web"])
				}
				_, err = r.LookupHost(ctx, "example.com.")
				var de *net.DNSError
				if !errors.As(err, &de) || !de.IsNotFound {
					t.Errorf("%s %s: example.com = %v, want NXDOMAIN", network, dnsAddr, err)
				}
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// mustRESTHost is the API server URL of the lab's kubeconfig.
func mustRESTHost(t *testing.T, ctx context.Context) string {
	t.Helper()
	return labREST(t, ctx).Host
}
