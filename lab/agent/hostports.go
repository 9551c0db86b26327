package agent

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/reboundhq/rebound/lab/labnet"
)

// openHostPorts publishes the pod's TCP hostPorts on its node's address,
// as a CNI's portmap plugin does: node IP:hostPort reaches pod IP:port. The
// node's address is on the host's loopback and the pod in its own network
// namespace, so the agent forwards each connection. A hostPort that is
// taken fails the pod's set-up with the port named; what was opened is
// closed again. w.mu is held.
func (w *podWorker) openHostPorts(pod *corev1.Pod) error {
	node := w.a.nodes[w.nodeName]
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				w.closeHostPorts()
				return fmt.Errorf("container %s: hostPort %d/%s: the lab publishes TCP hostPorts only; use TCP or reach the pod at its IP", c.Name, p.HostPort, p.Protocol)
			}
			addr := net.JoinHostPort(node.IP, strconv.Itoa(int(p.HostPort)))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				w.closeHostPorts()
				return fmt.Errorf("container %s: hostPort %d is taken on node %s (%v): another pod on the node holds it; choose another hostPort", c.Name, p.HostPort, w.nodeName, err)
			}
			w.hostPorts = append(w.hostPorts, ln)
			go w.forward(ln, net.JoinHostPort(w.ip, strconv.Itoa(int(p.ContainerPort))))
		}
	}
	return nil
}

func (w *podWorker) closeHostPorts() {
	for _, ln := range w.hostPorts {
		ln.Close()
	}
	w.hostPorts = nil
}

// forward splices every connection accepted on ln to the pod's port.
func (w *podWorker) forward(ln net.Listener, to string) {
	dial := labnet.Dialer(w.a.cfg.Name)
	for {
		in, err := ln.Accept()
		if err != nil {
			return // closed with the pod
		}
		go func() {
			defer in.Close()
			out, err := dial(context.Background(), "tcp", to)
			if err != nil {
				return
			}
			defer out.Close()
			labnet.Splice(in, out)
		}()
	}
}
