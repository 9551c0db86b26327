package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/scenarios"
)

// Target is the app a scenario acts on, resolved against the cluster.
// Namespace and Kube are where the app was when the scenario started; the
// probes follow it when a recovery brings it back in a DR cluster
// (moveTo).
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
	urls        []string
	scheme      string // http or https, for URLs made from pods

	mu  sync.Mutex
	loc location // where the app serves now
	old []*forwarder
}

// location is where a target's app serves: its cluster and namespace, and
// how rebound reaches its pods there.
type location struct {
	cluster   string // for people: "lab rebound", a context
	kube      kubernetes.Interface
	namespace string
	mode      scenarios.EndpointMode
	fwd       *forwarder // for port-forward endpoints
}

func (t *Target) where() location {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loc
}

// moveTo points the target at the app's copy in another cluster: from now
// on its endpoints, its redundancy and the probes' driver follow the pods
// there.
func (t *Target) moveTo(loc location) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loc.fwd != nil {
		t.old = append(t.old, t.loc.fwd) // closed with the target: a probe may still use it
	}
	t.loc = loc
}

// Close releases the driver and any port-forwards.
func (t *Target) Close() {
	if t.Driver != nil {
		t.Driver.Close()
	}
	loc := t.where()
	if loc.fwd != nil {
		loc.fwd.close()
	}
	for _, f := range t.old {
		f.close()
	}
}

// locate says how rebound reaches an app's pods in a cluster: the
// scenario's endpoint mode, or for auto, pod IPs on a lab and from inside a
// cluster and port-forwards otherwise.
func locate(mode scenarios.EndpointMode, cluster string, kube kubernetes.Interface, rc *rest.Config, onLab bool, ns string) (location, error) {
	loc := location{cluster: cluster, kube: kube, namespace: ns, mode: mode}
	if loc.mode == scenarios.EndpointModeAuto || loc.mode == "" {
		// Pod IPs are reachable on the lab and from inside a cluster.
		loc.mode = scenarios.EndpointModePortForward
		if onLab || os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
			loc.mode = scenarios.EndpointModePodIP
		}
	}
	if loc.mode == scenarios.EndpointModePortForward {
		if rc == nil {
			return loc, fmt.Errorf("endpoints mode port-forward needs the API server of %s", cluster)
		}
		loc.fwd = newForwarder(rc, kube)
	}
	return loc, nil
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
		Prefix: fmt.Sprintf("/rebound/%s/%s", runID, s.Name), urls: s.Target.Endpoints.URLs,
		Backup: s.Backup,
	}
	loc, err := locate(s.Target.Endpoints.Mode, r.clusterName(), r.kube, r.opts.RestConfig, r.opts.OnLab, s.Target.Namespace)
	if err != nil {
		return nil, err
	}
	t.loc = loc
	if s.Target.Driver == scenarios.DriverElasticsearch {
		t.Prefix = fmt.Sprintf("rebound-%s-%s", runID, s.Name) // an index name
	}
	t.scheme = s.Target.Endpoints.Scheme
	if t.scheme == "" {
		t.scheme = "http"
	}
	// Pod IPs of a lab route inside the lab's network namespace only.
	cfg := apps.Config{Prefix: t.Prefix, Dial: labnet.Dial}
	var secret map[string][]byte
	if name := s.Target.Endpoints.Secret; name != "" {
		// Read once, kept in memory only, never logged or journaled.
		sec, err := r.kube.CoreV1().Secrets(t.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("%s: target.endpoints.secretRef: %w", s.Source, err)
		}
		secret = sec.Data
		cfg.Username, cfg.Password, cfg.CACert = string(sec.Data["username"]), string(sec.Data["password"]), sec.Data["ca.crt"]
	}
	if err := tlsFor(ctx, r.kube, s, sel, secret, &cfg); err != nil {
		return nil, err
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
	loc := t.where()
	if loc.mode == scenarios.EndpointModeURLs {
		return apps.Endpoints{URLs: t.urls}, nil
	}
	pods, err := loc.kube.CoreV1().Pods(loc.namespace).List(ctx, metav1.ListOptions{LabelSelector: t.Selector.String()})
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
		if loc.fwd != nil {
			local, err := loc.fwd.local(p.Namespace, p.Name, string(p.UID), port)
			if err != nil {
				continue // not running yet; the next refresh tries again
			}
			addr = fmt.Sprintf("127.0.0.1:%d", local)
		}
		eps.URLs = append(eps.URLs, t.scheme+"://"+addr)
		eps.Pods = append(eps.Pods, p.Name)
	}
	if len(eps.URLs) == 0 {
		return eps, fmt.Errorf("no pod of the app in %s of %s (selector %s) has an address", loc.namespace, loc.cluster, t.Selector)
	}
	return eps, nil
}

// followEndpoints keeps the driver pointed at the members' current pod IPs
// while the scenario runs: members recreated elsewhere get new addresses.
func (t *Target) followEndpoints(ctx context.Context) {
	up, ok := t.Driver.(apps.EndpointUpdater)
	if !ok || t.where().mode == scenarios.EndpointModeURLs {
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
	loc := t.where()
	sets, err := loc.kube.AppsV1().StatefulSets(loc.namespace).List(ctx, metav1.ListOptions{})
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
		return false, fmt.Sprintf("no statefulset of the app in %s of %s", loc.namespace, loc.cluster)
	}
	return true, "replicas ready"
}
