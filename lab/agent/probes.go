package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/reboundhq/rebound/lab/agent/podexec"
	"github.com/reboundhq/rebound/lab/agent/podspec"
)

type probeKind string

const (
	probeStartup   probeKind = "startup"
	probeReadiness probeKind = "readiness"
	probeLiveness  probeKind = "liveness"
)

// startProbers starts one goroutine per probe of the container's current
// run; ctx ends them when the process exits. c.mu is held.
func (c *ctr) startProbers(ctx context.Context, gen int) {
	if c.spec.ReadinessProbe == nil {
		c.ready = true // ready as soon as it runs (and has started)
	}
	for kind, p := range map[probeKind]*corev1.Probe{probeStartup: c.spec.StartupProbe, probeReadiness: c.spec.ReadinessProbe, probeLiveness: c.spec.LivenessProbe} {
		if p != nil {
			go c.probeLoop(ctx, gen, kind, p)
		}
	}
}

// probeLoop runs a probe every periodSeconds after initialDelaySeconds, with
// the kubelet's success and failure thresholds. Readiness and liveness wait
// for the startup probe; a failed liveness or startup probe kills the
// container, which then restarts by the pod's policy.
func (c *ctr) probeLoop(ctx context.Context, gen int, kind probeKind, p *corev1.Probe) {
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	success, failure := max(p.SuccessThreshold, 1), max(p.FailureThreshold, 1)
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
	}
	var okRun, failRun int32
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		c.mu.Lock()
		started, pid := c.started, c.pid
		c.mu.Unlock()
		if kind == probeStartup && started {
			return
		}
		// A frozen node runs no probes; neither does a stopped one.
		if (kind == probeStartup || started) && c.w.a.nodes[c.w.nodeName].Power() == PowerOn {
			err := c.w.runProbe(ctx, c, pid, p)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				okRun, failRun = okRun+1, 0
			} else {
				okRun, failRun = 0, failRun+1
				if failRun == 1 || failRun == failure {
					c.w.a.log.Info("probe failed", "pod", c.w.namespace+"/"+c.w.name, "container", c.spec.Name, "probe", kind, "err", err)
				}
			}
			c.apply(gen, kind, okRun >= success, failRun >= failure)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *ctr) apply(gen int, kind probeKind, passed, failed bool) {
	c.mu.Lock()
	if gen != c.startCount || !c.running {
		c.mu.Unlock()
		return
	}
	changed := false
	switch kind {
	case probeStartup:
		if passed && !c.started {
			c.started, changed = true, true
			if c.spec.ReadinessProbe == nil {
				c.ready = true
			}
		}
	case probeReadiness:
		if passed && !c.ready {
			c.ready, changed = true, true
		} else if failed && c.ready {
			c.ready, changed = false, true
		}
	}
	kill := failed && (kind == probeLiveness || kind == probeStartup)
	c.mu.Unlock()
	if kill {
		grace := 30 * time.Second
		if tg := c.w.pod.Spec.TerminationGracePeriodSeconds; tg != nil {
			grace = time.Duration(*tg) * time.Second
		}
		c.w.a.log.Info("killing container: probe failed", "pod", c.w.namespace+"/"+c.w.name, "container", c.spec.Name, "probe", kind)
		c.stop(grace)
		changed = true
	}
	if changed {
		c.w.poke()
	}
}

// runProbe runs one probe against the pod's address.
func (w *podWorker) runProbe(ctx context.Context, c *ctr, pid int, p *corev1.Probe) error {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := w.ip
	switch {
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, &c.spec)
		if err != nil {
			return err
		}
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		conn, err := w.dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := resolvePort(g.Port, &c.spec)
		if err != nil {
			return err
		}
		if g.Host != "" {
			host = g.Host
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := g.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path), nil)
		if err != nil {
			return err
		}
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		// As the kubelet: no certificate checks, no proxies.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Proxy: nil, DisableKeepAlives: true, DialContext: w.dial}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.Exec != nil:
		if pid == 0 {
			return fmt.Errorf("exec probe: container not running")
		}
		probeCtr := c.spec.DeepCopy()
		probeCtr.Command, probeCtr.Args = p.Exec.Command, nil
		proc, err := podspec.Translate(podspec.Input{
			Pod: w.pod, Container: probeCtr, Images: w.a.images, LabBins: w.a.cfg.LabBins, Self: w.a.self,
			PodIP: w.ip, HostIP: w.a.nodes[w.nodeName].IP, Volumes: w.volumes, Objects: apiObjects{w.a},
			APIServerHost: w.a.apiHost, APIServerPort: w.a.apiPort,
		})
		if err != nil {
			return fmt.Errorf("exec probe: %w", err)
		}
		// Run inside the container's mount, UTS and network namespaces
		// and as its user, as the kubelet does.
		cmd := podexec.Enter(ctx, pid, proc.User, proc.NoNewPrivs, proc.Path, proc.Argv[1:])
		cmd.Env = proc.Env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("exec probe: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	case p.GRPC != nil:
		conn, err := grpc.NewClient(net.JoinHostPort(host, strconv.Itoa(int(p.GRPC.Port))), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return w.dial(ctx, "tcp", addr) }))
		if err != nil {
			return err
		}
		defer conn.Close()
		svc := ""
		if p.GRPC.Service != nil {
			svc = *p.GRPC.Service
		}
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			return err
		}
		if res.Status != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("grpc probe: status %s", res.Status)
		}
		return nil
	}
	return fmt.Errorf("probe sets no handler")
}

func resolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("container %q has no port named %q", c.Name, port.StrVal)
}

// apiObjects reads ConfigMaps and Secrets for env vars from the API.
type apiObjects struct{ a *Agent }

func (o apiObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return o.a.client.CoreV1().ConfigMaps(ns).Get(o.a.ctx, name, metav1.GetOptions{})
}

func (o apiObjects) Secret(ns, name string) (*corev1.Secret, error) {
	return o.a.client.CoreV1().Secrets(ns).Get(o.a.ctx, name, metav1.GetOptions{})
}

// dial reaches the pod as the kubelet does from its node: from the lab's
// namespace (a hostNetwork pod's own).
func (w *podWorker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return w.a.dial(ctx, network, addr)
}
