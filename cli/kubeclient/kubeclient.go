package kubeclient

import (
	"context"
	"errors"
	"fmt"
	"net"
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
}

// Load reads the kubeconfig at path (empty: $KUBECONFIG, ~/.kube/config,
// then in-cluster) with context kubeContext (empty: the current one), and
// sets the connect timeout on the configuration it returns.
func Load(path, kubeContext string) (*Cluster, error) {
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

func contextNote(kubeContext string) string {
	if kubeContext == "" {
		return ""
	}
	return fmt.Sprintf(" (context %s)", kubeContext)
}
