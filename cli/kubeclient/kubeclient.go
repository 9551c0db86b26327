package kubeclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ConnectTimeout bounds connecting to the API server and the first call
// (Ping). A cluster that answers takes milliseconds; ten seconds leaves room
// for a slow VPN or a cold load balancer.
const ConnectTimeout = 10 * time.Second

// ErrNoAnswer is wrapped by Ping's error when the API server did not answer
// within ConnectTimeout (refused, unroutable, or accepted and silent).
var ErrNoAnswer = errors.New("did not answer")

// Cluster is a loaded kubeconfig: the client configuration and what it names,
// for messages.
type Cluster struct {
	// Config has the connect timeout set; see Load.
	Config *rest.Config
	// Kubeconfig is the file it was loaded from; empty for the usual rules.
	Kubeconfig string
	// Context is the kubeconfig context used; empty when in-cluster or when
	// the file names none.
	Context string
	// InCluster is true when the configuration is the pod's own service
	// account (rest.InClusterConfig), not a kubeconfig.
	InCluster bool
}

// ServiceAccountDir is where the kubelet mounts a pod's service account
// token, ca.crt and namespace, and where rest.InClusterConfig reads them.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InCluster tells whether rebound runs in a pod and has no kubeconfig of its
// own: $KUBERNETES_SERVICE_HOST and _PORT are set (the kubelet sets them in
// every container), the service account token is mounted, and neither
// $KUBECONFIG nor ~/.kube/config exists. Commands use it to pick the pod's
// own credentials instead of the lab's kubeconfig.
func InCluster() bool {
	home, _ := os.UserHomeDir()
	return inCluster(os.LookupEnv, fileExists, home, ServiceAccountDir)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func inCluster(lookupEnv func(string) (string, bool), exists func(string) bool, home, saDir string) bool {
	if v, ok := lookupEnv("KUBECONFIG"); ok && v != "" {
		return false
	}
	if home != "" && exists(filepath.Join(home, ".kube", "config")) {
		return false
	}
	host, _ := lookupEnv("KUBERNETES_SERVICE_HOST")
	port, _ := lookupEnv("KUBERNETES_SERVICE_PORT")
	return host != "" && port != "" && exists(filepath.Join(saDir, "token"))
}

// Load reads the kubeconfig at path (empty: $KUBECONFIG, ~/.kube/config,
// then in-cluster) with context kubeContext (empty: the current one), and
// sets the connect timeout on the configuration it returns. With neither a
// path nor a context, in a pod with no kubeconfig (InCluster), it is the
// pod's service account through rest.InClusterConfig.
func Load(path, kubeContext string) (*Cluster, error) {
	if path == "" && kubeContext == "" && InCluster() {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration (service account in %s): %w", ServiceAccountDir, err)
		}
		return &Cluster{Config: WithConnectTimeout(rc), InCluster: true}, nil
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, err
	}
	name := kubeContext
	if name == "" {
		if raw, err := cc.RawConfig(); err == nil {
			name = raw.CurrentContext
		}
	}
	return &Cluster{Config: WithConnectTimeout(rc), Kubeconfig: path, Context: name}, nil
}

// WithConnectTimeout sets rc's dialer to one that gives up connecting after
// ConnectTimeout, and returns rc. TLS handshakes are already bounded by
// client-go's transport (10s). rest.Config.Timeout is left alone on
// purpose: it bounds whole requests, and would cut watches, exec and
// port-forwards that rightly last minutes.
func WithConnectTimeout(rc *rest.Config) *rest.Config {
	if rc.Dial == nil {
		rc.Dial = (&net.Dialer{Timeout: ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	return rc
}

// Ping makes the first call to the cluster, GET /version, bounded by
// ConnectTimeout. Its error names the server and the context: one wrapping
// ErrNoAnswer when nothing answered in time, another when the server
// answered with an error (such as refused credentials).
func (c *Cluster) Ping(ctx context.Context) error {
	return ping(ctx, c.Config, c.Context, ConnectTimeout)
}

func ping(ctx context.Context, rc *rest.Config, kubeContext string, timeout time.Duration) error {
	cfg := rest.CopyConfig(rc)
	// Bounds this one call even when the server accepts the connection and
	// never answers, which a dial timeout alone does not catch.
	cfg.Timeout = timeout
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("cluster %s%s: %w", rc.Host, contextNote(kubeContext), err)
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = dc.RESTClient().Get().AbsPath("/version").Do(callCtx).Error()
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		// The caller gave up (Ctrl-C): not the cluster's fault.
		return fmt.Errorf("cluster %s%s: %w", rc.Host, contextNote(kubeContext), ctx.Err())
	case errors.As(err, &status):
		return fmt.Errorf("cluster %s%s answered its first call (GET /version) with an error: %w", rc.Host, contextNote(kubeContext), err)
	}
	return fmt.Errorf("cluster %s%s %w within %s: %w", rc.Host, contextNote(kubeContext), ErrNoAnswer, timeout, err)
}

// Describe names the cluster for messages: the server and the context, or
// "in-cluster".
func (c *Cluster) Describe() string {
	if c.InCluster {
		return c.Config.Host + " (in-cluster, the pod's service account)"
	}
	return c.Config.Host + contextNote(c.Context)
}

func contextNote(kubeContext string) string {
	if kubeContext == "" {
		return ""
	}
	return fmt.Sprintf(" (context %s)", kubeContext)
}
