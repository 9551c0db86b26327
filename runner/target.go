package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/scenarios"
)

// Target is the app a scenario acts on, resolved against the cluster.
type Target struct {
	Namespace  string
	Selector   labels.Selector
	DriverName string
	Driver     apps.Driver
	Kube       kubernetes.Interface
	Prefix     string // where this scenario's probe records live
	// Backup is the scenario's backup settings, for the backup engine.
	Backup scenarios.Backup
	// AckedBefore, once the probes run, lists the ids of the write probe
	// acknowledged before an instant of this host's monotonic clock (nil
	// when the instant cannot be placed), so a backup records what a
	// restore of it must hold.
	AckedBefore func(clock.Instant) []string
	mode        scenarios.EndpointMode
	urls        []string
	fwd         *forwarder // for port-forward endpoints
	scheme      string     // http or https, for URLs made from pods
}

// Close releases the driver and any port-forwards.
func (t *Target) Close() {
	if t.Driver != nil {
		t.Driver.Close()
	}
	if t.fwd != nil {
		t.fwd.close()
	}
}

// clientPorts are the client ports of the known apps, for pod-ip endpoints.
var clientPorts = map[scenarios.Driver]int{scenarios.DriverEtcd: 2379, scenarios.DriverElasticsearch: 9200}

// resolveTarget finds the app's pods and connects its driver.
func (r *Runner) resolveTarget(ctx context.Context, s *scenarios.Scenario, runID string) (*Target, error) {
	sel, err := s.Target.Selector()
	if err != nil {
		return nil, fmt.Errorf("%s: target.labelSelector: %w", s.Source, err)
	}
	t := &Target{
		Namespace: s.Target.Namespace, Selector: sel, DriverName: string(s.Target.Driver), Kube: r.kube,
		Prefix: fmt.Sprintf("/rebound/%s/%s", runID, s.Name), mode: s.Target.Endpoints.Mode, urls: s.Target.Endpoints.URLs,
		Backup: s.Backup,
	}
	if t.mode == scenarios.EndpointModeAuto || t.mode == "" {
		// Pod IPs are reachable on the lab and from inside a cluster.
		t.mode = scenarios.EndpointModePortForward
		if r.opts.OnLab || os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
			t.mode = scenarios.EndpointModePodIP
		}
	}
	if t.mode == scenarios.EndpointModePortForward {
		if r.opts.RestConfig == nil {
			return nil, fmt.Errorf("endpoints mode port-forward needs the cluster's API server")
		}
		t.fwd = newForwarder(r.opts.RestConfig, r.kube)
	}
	if s.Target.Driver == scenarios.DriverElasticsearch {
		t.Prefix = fmt.Sprintf("rebound-%s-%s", runID, s.Name) // an index name
	}
	t.scheme = s.Target.Endpoints.Scheme
	if t.scheme == "" {
		t.scheme = "http"
	}
	// Pod IPs of a lab route inside the lab's network namespace only.
	cfg := apps.Config{Prefix: t.Prefix, Dial: labnet.Dial}
	if name := s.Target.Endpoints.Secret; name != "" {
		// Read once, kept in memory only, never logged or journaled.
		sec, err := r.kube.CoreV1().Secrets(t.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: target.endpoints.secretRef: %w", s.Source, err)
		}
		cfg.Username, cfg.Password, cfg.CACert = string(sec.Data["username"]), string(sec.Data["password"]), sec.Data["ca.crt"]
	}
	eps, err := t.endpoints(ctx)
	if err != nil {
		t.Close()
		return nil, err
	}
	cfg.Endpoints = eps
	d, err := apps.New(ctx, t.DriverName, cfg)
	if err != nil {
		t.Close()
		return nil, err
	}
	t.Driver = d
	return t, nil
}

// endpoints lists the app's members as URLs: one per Running pod with an
// IP, or the scenario's explicit URLs.
func (t *Target) endpoints(ctx context.Context) (apps.Endpoints, error) {
	if t.mode == scenarios.EndpointModeURLs {
		return apps.Endpoints{URLs: t.urls}, nil
	}
	pods, err := t.Kube.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector.String()})
	if err != nil {
		return apps.Endpoints{}, fmt.Errorf("list the app's pods: %w", err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var eps apps.Endpoints
	port := clientPorts[scenarios.Driver(t.DriverName)]
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
			continue
		}
		addr := fmt.Sprintf("%s:%d", p.Status.PodIP, port)
		if t.fwd != nil {
			local, err := t.fwd.local(p.Namespace, p.Name, string(p.UID), port)
			if err != nil {
				continue // not running yet; the next refresh tries again
			}
			addr = fmt.Sprintf("127.0.0.1:%d", local)
		}
		eps.URLs = append(eps.URLs, t.scheme+"://"+addr)
		eps.Pods = append(eps.Pods, p.Name)
	}
	if len(eps.URLs) == 0 {
		return eps, fmt.Errorf("no pod of the app in %s (selector %s) has an address", t.Namespace, t.Selector)
	}
	return eps, nil
}

// followEndpoints keeps the driver pointed at the members' current pod IPs
// while the scenario runs: members recreated elsewhere get new addresses.
func (t *Target) followEndpoints(ctx context.Context) {
	up, ok := t.Driver.(apps.EndpointUpdater)
	if !ok || t.mode == scenarios.EndpointModeURLs {
		return
	}
	var last []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		last = t.refreshEndpoints(ctx, up, last)
	}
}

// refreshEndpoints points the driver at the members' current addresses
// when they differ from last, and returns the addresses now in use.
func (t *Target) refreshEndpoints(ctx context.Context, up apps.EndpointUpdater, last []string) []string {
	eps, err := t.endpoints(ctx)
	if err != nil || slices.Equal(eps.URLs, last) {
		return last
	}
	up.SetEndpoints(eps)
	return eps.URLs
}

// replicasReady reports whether every StatefulSet behind the app has its
// desired replicas Ready: the Kubernetes half of full redundancy.
func (t *Target) replicasReady(ctx context.Context) (bool, string) {
	sets, err := t.Kube.AppsV1().StatefulSets(t.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err.Error()
	}
	found := false
	for _, s := range sets.Items {
		if s.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(s.Spec.Template.Labels)) || !t.Selector.Matches(labels.Set(s.Spec.Template.Labels)) {
			continue
		}
		found = true
		want := int32(1)
		if s.Spec.Replicas != nil {
			want = *s.Spec.Replicas
		}
		if want == 0 || s.Status.ReadyReplicas < want {
			return false, fmt.Sprintf("statefulset %s: %d/%d ready", s.Name, s.Status.ReadyReplicas, want)
		}
	}
	if !found {
		return false, "no statefulset of the app"
	}
	return true, "replicas ready"
}
