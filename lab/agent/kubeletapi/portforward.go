package kubeletapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
)

// portForward serves /portForward/{namespace}/{pod}[/{uid}] with the
// kubelet's portforward library; each forwarded connection dials the pod's
// address with Dial.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("namespace"), r.PathValue("pod")
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		fail(w, err)
		return
	}
	ip, uid, err := s.Pods.Addr(s.Node, ns, pod)
	if err == nil {
		err = checkUID(r, ns, pod, uid)
	}
	if err != nil {
		fail(w, err)
		return
	}
	s.Log.Info("port-forward", "pod", ns+"/"+pod, "ip", ip)
	portforward.ServePortForward(w, r, podForwarder{ip: ip, dial: s.Dial}, pod, string(uid), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// podForwarder connects streams to ports of one pod's address.
type podForwarder struct {
	ip   string
	dial DialFunc
}

// PortForward copies between stream and a new connection to the pod's
// port, until the pod's side ends the connection (its half-closes are
// passed on) or ctx ends.
func (f podForwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	addr := net.JoinHostPort(f.ip, strconv.Itoa(int(port)))
	conn, err := f.dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("port-forward to %s: %w", addr, err)
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, stream)
		if hc, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = hc.CloseWrite()
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(stream, conn)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
	}
	if err != nil {
		return fmt.Errorf("port-forward to %s: %w", addr, err)
	}
	return nil
}
