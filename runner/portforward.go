package runner

import (
	"fmt"
	"io"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// forwarder keeps one port-forward per member pod, like kubectl
// port-forward, so rebound reaches an app from outside the cluster network.
type forwarder struct {
	rc   *rest.Config
	kube kubernetes.Interface

	mu    sync.Mutex
	ports map[string]fwd // by namespace/pod
}

type fwd struct {
	uid   string
	local uint16
	stop  chan struct{}
	done  chan struct{} // closed when the forward ended by itself
}

func newForwarder(rc *rest.Config, kube kubernetes.Interface) *forwarder {
	return &forwarder{rc: rc, kube: kube, ports: map[string]fwd{}}
}

// local returns a local 127.0.0.1 port forwarded to the pod's port, making
// a new forward when the pod is new (a recreated pod has a new uid) or the
// old one ended (its connection to the kubelet broke).
func (f *forwarder) local(ns, pod, uid string, port int) (uint16, error) {
	key := ns + "/" + pod
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.ports[key]; ok {
		select {
		case <-p.done:
		default:
			if p.uid == uid {
				return p.local, nil
			}
		}
		close(p.stop)
		delete(f.ports, key)
	}
	req := f.kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(f.rc)
	if err != nil {
		return 0, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, req.URL())
	if ws, err := portforward.NewSPDYOverWebsocketDialer(req.URL(), f.rc); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return 0, fmt.Errorf("port-forward to %s: %w", key, err)
	}
	errc, done := make(chan error, 1), make(chan struct{})
	go func() { errc <- pf.ForwardPorts(); close(done) }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, fmt.Errorf("port-forward to %s: %w", key, err)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return 0, fmt.Errorf("port-forward to %s: no local port", key)
	}
	f.ports[key] = fwd{uid: uid, local: ports[0].Local, stop: stop, done: done}
	return ports[0].Local, nil
}

// close ends every forward.
func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, p := range f.ports {
		close(p.stop)
		delete(f.ports, k)
	}
}
