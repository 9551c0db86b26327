package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Port is the kubelet API's port, as on every cluster.
const Port = 10250

// ErrNotFound is a pod or container that is not on the node; the server
// answers 404.
var ErrNotFound = errors.New("not found")

// Pods is what the server needs from the node agent. Every method is called
// once per request, from the request's goroutine; an error wrapping
// ErrNotFound becomes a 404, any other a 400 whose body is the error's text,
// so it should say what is wrong and what to do.
type Pods interface {
	// Container describes a container of a pod running on node.
	Container(node, namespace, pod, container string) (Container, error)
	// Exec works out the process that runs cmd (argv, as given) in a
	// running container of a pod on node.
	Exec(node, namespace, pod, container string, cmd []string) (Process, error)
	// Addr is the IP address of a pod on node, and its UID.
	Addr(node, namespace, pod string) (string, types.UID, error)
}

// Container is one container as the logs endpoint needs it.
type Container struct {
	UID types.UID // the pod's
	// Log is the file holding what the container's current (or last) run
	// wrote to stdout and stderr; PreviousLog the one of the run before its
	// last restart, empty when it never restarted.
	Log, PreviousLog string
	// Exited is closed when the current run ends; nil when no run is going.
	Exited <-chan struct{}
}

// Process is a command to run in a container.
type Process struct {
	UID types.UID // the pod's
	// Cmd is the command, not started, that runs in the container: the
	// node agent builds it to enter the container's namespaces as its user,
	// with its environment and working folder. The server sets its stdio
	// and SysProcAttr.
	Cmd *exec.Cmd
	// Exited is closed when the container's run ends; the command is killed
	// then, as a container runtime ends the exec sessions of a container.
	Exited <-chan struct{}
}

// DialFunc opens a connection to a pod's address.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Server is the kubelet API of one node.
type Server struct {
	Node string // the node's name
	Pods Pods
	Dial DialFunc
	Log  *slog.Logger
	// ClientCAs verify the client certificates of requests.
	ClientCAs *x509.CertPool
	// Cert is the serving certificate.
	Cert tls.Certificate
}

// Kubelet's stream timeouts.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// Handler routes the kubelet endpoints the lab serves, behind the client
// certificate check.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.logs)
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{container}", s.exec)
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{uid}/{container}", s.exec)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}", s.portForward)
		mux.HandleFunc(m+" /portForward/{namespace}/{pod}/{uid}", s.portForward)
		mux.HandleFunc(m+" /attach/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the lab does not attach to a running container's streams: its output is in `kubectl logs -f`, and `kubectl exec` runs a command in it", http.StatusBadRequest)
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return s.authenticate(mux)
}

// authenticate lets through requests whose client certificate verifies
// against ClientCAs, and answers 401 to any other.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "Unauthorized: a client certificate of the cluster's CA is required", http.StatusUnauthorized)
			return
		}
		inter := x509.NewCertPool()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: s.ClientCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}); err != nil {
			http.Error(w, "Unauthorized: the client certificate does not verify against the cluster's CA", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Serve listens on addr with TLS and serves until ctx ends.
func (s *Server) Serve(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("kubelet API of node %s: %w", s.Node, err)
	}
	return s.ServeListener(ctx, l)
}

// ServeListener serves on l (wrapping it in TLS) until ctx ends.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	tl := tls.NewListener(l, &tls.Config{
		Certificates: []tls.Certificate{s.Cert},
		// Verified in authenticate, so a wrong certificate gets a 401
		// rather than a failed handshake.
		ClientAuth: tls.RequestClientCert,
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"}, // SPDY and WebSocket upgrades need HTTP/1.1
	})
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	if err := srv.Serve(tl); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubelet API of node %s: %w", s.Node, err)
	}
	return nil
}

// fail writes err as the kubelet would: 404 for what is not here, 400 else.
func fail(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}

// checkUID refuses a request for another incarnation of the pod.
func checkUID(r *http.Request, ns, pod string, uid types.UID) error {
	if want := r.PathValue("uid"); want != "" && types.UID(want) != uid {
		return fmt.Errorf("%w: pod %s/%s with uid %s (it has uid %s now)", ErrNotFound, ns, pod, want, uid)
	}
	return nil
}

func queryInt(r *http.Request, name string) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("query parameter %s=%q: want a whole number, 0 or more", name, v)
	}
	return n, true, nil
}

func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("query parameter %s=%q: want true or false", name, v)
	}
	return b, nil
}
