package apps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/reboundhq/rebound/logging"
)

// Patroni's role label values (Patroni 3.0's Kubernetes DCS writes "master"
// on the leader and the member's role, "replica", on the others).
const (
	PatroniPrimaryRole = "master"
	PatroniReplicaRole = "replica"
	patroniAPIPort     = 8008
)

// PatroniCluster is a Patroni cluster as its pods' role labels and its
// primary's REST API (GET /patroni: the primary's pg_stat_replication) show
// it.
type PatroniCluster struct {
	Primary   string // pod name of the member labelled role=master
	PrimaryIP string
	Replicas  []string // pods labelled role=replica
	// Streaming are the members the primary streams WAL to, and Sync those
	// of them that are synchronous standbys.
	Streaming []string
	Sync      []string
}

// String says where the cluster stands, for progress and errors.
func (c PatroniCluster) String() string {
	if c.Primary == "" {
		return fmt.Sprintf("no primary; replicas %v", c.Replicas)
	}
	return fmt.Sprintf("primary %s, replicas %v, streaming %v, synchronous %v", c.Primary, c.Replicas, c.Streaming, c.Sync)
}

// patroniStatus is the part of Patroni's GET /patroni answer used here.
type patroniStatus struct {
	Role        string `json:"role"`
	State       string `json:"state"`
	Replication []struct {
		ApplicationName string `json:"application_name"`
		State           string `json:"state"`
		SyncState       string `json:"sync_state"`
	} `json:"replication"`
}

// WaitPatroni waits until the Patroni cluster of the pods matching selector
// has one primary and members-1 replicas streaming from it, and, with sync,
// a synchronous standby among them. It reads the primary's REST API through
// a port-forward, so it works from outside any cluster network.
func WaitPatroni(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, namespace, selector string, members int, sync bool, timeout time.Duration) (PatroniCluster, error) {
	deadline := time.Now().Add(timeout)
	defer logging.Heartbeat(ctx, fmt.Sprintf("Patroni cluster %s/%s to have a primary and %d streaming replicas", namespace, selector, members-1), timeout)()
	var last PatroniCluster
	var lastErr error
	for {
		last, lastErr = ReadPatroni(ctx, rc, cs, namespace, selector)
		if lastErr == nil {
			switch {
			case last.Primary == "":
				lastErr = fmt.Errorf("no pod is labelled role=%s", PatroniPrimaryRole)
			case len(last.Streaming) < members-1:
				lastErr = fmt.Errorf("%d of %d replicas streaming", len(last.Streaming), members-1)
			case sync && len(last.Sync) == 0:
				lastErr = fmt.Errorf("no synchronous standby yet")
			default:
				return last, nil
			}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("Patroni cluster in %s not up after %s: %w (%s); pods: %s", namespace, timeout, lastErr, last, podSummary(ctx, cs, namespace))
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// ReadPatroni reads the cluster once: the role labels of the pods matching
// selector, and the replication the primary reports.
func ReadPatroni(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, namespace, selector string) (PatroniCluster, error) {
	var c PatroniCluster
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return c, fmt.Errorf("list pods %s in %s: %w", selector, namespace, err)
	}
	var primary *corev1.Pod
	for i, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		switch p.Labels["role"] {
		case PatroniPrimaryRole:
			if primary != nil {
				return c, fmt.Errorf("two pods are labelled role=%s: %s and %s", PatroniPrimaryRole, primary.Name, p.Name)
			}
			primary = &pods.Items[i]
		case PatroniReplicaRole:
			c.Replicas = append(c.Replicas, p.Name)
		}
	}
	sort.Strings(c.Replicas)
	if primary == nil {
		return c, nil
	}
	c.Primary, c.PrimaryIP = primary.Name, primary.Status.PodIP
	st, err := patroniGet(ctx, rc, cs, namespace, primary.Name)
	if err != nil {
		return c, err
	}
	for _, r := range st.Replication {
		if r.State == "streaming" && slices.Contains(c.Replicas, r.ApplicationName) {
			c.Streaming = append(c.Streaming, r.ApplicationName)
			if r.SyncState == "sync" || r.SyncState == "quorum" {
				c.Sync = append(c.Sync, r.ApplicationName)
			}
		}
	}
	sort.Strings(c.Streaming)
	sort.Strings(c.Sync)
	return c, nil
}

// patroniGet asks a member's Patroni for GET /patroni through a
// port-forward to its REST API port.
func patroniGet(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, namespace, pod string) (patroniStatus, error) {
	var st patroniStatus
	local, stop, err := forward(rc, cs, namespace, pod, patroniAPIPort)
	if err != nil {
		return st, err
	}
	defer close(stop)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/patroni", local), nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("Patroni REST API of %s/%s: %w", namespace, pod, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return st, fmt.Errorf("Patroni REST API of %s/%s: %w", namespace, pod, err)
	}
	// /patroni answers 200 on a running member and 503 otherwise, with the
	// same JSON body.
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("Patroni REST API of %s/%s: HTTP %d: %s", namespace, pod, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return st, nil
}

// forward opens a port-forward to a pod's port on 127.0.0.1, as kubectl
// port-forward does; closing stop ends it.
func forward(rc *rest.Config, cs kubernetes.Interface, namespace, pod string, port int) (uint16, chan struct{}, error) {
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		return 0, nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, req.URL())
	if ws, err := portforward.NewSPDYOverWebsocketDialer(req.URL(), rc); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return 0, nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return 0, nil, fmt.Errorf("port-forward to %s/%s: no local port", namespace, pod)
	}
	return ports[0].Local, stop, nil
}

// PostgresSelector selects the members of the demo PostgreSQL cluster.
const PostgresSelector = "app.kubernetes.io/name=postgres,cluster-name=postgres"

// WaitReady waits until a deployed demo app serves: every member of its
// StatefulSet Ready and, for postgres, a primary with every replica
// streaming from it (and a synchronous standby in the sync variant).
func WaitReady(ctx context.Context, rc *rest.Config, cs kubernetes.Interface, app, variant, namespace string, timeout time.Duration) error {
	start := time.Now()
	if err := WaitStatefulSetReady(ctx, cs, namespace, app, timeout); err != nil {
		return err
	}
	if app != "postgres" {
		return nil
	}
	_, err := WaitPatroni(ctx, rc, cs, namespace, PostgresSelector, 3, variant == "sync", max(timeout-time.Since(start), 10*time.Second))
	return err
}
