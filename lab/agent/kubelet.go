package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/reboundhq/rebound/lab/agent/kubeletapi"
	"github.com/reboundhq/rebound/lab/agent/podexec"
	"github.com/reboundhq/rebound/lab/agent/podspec"
)

// serveKubelet serves the kubelet API of every node on the node's address
// (package kubeletapi) until ctx ends. A node whose certificate cannot be
// had or whose port cannot be bound logs why; its pods run regardless.
func (a *Agent) serveKubelet(ctx context.Context) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(a.caPEM) {
		a.log.Error("kubelet API: the kubeconfig names no cluster CA to verify the API server's client certificate with", "kubeconfig", a.cfg.Kubeconfig)
		return
	}
	var wg sync.WaitGroup
	for _, n := range a.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := a.log.With("node", n.Name)
			ip := net.ParseIP(n.IP)
			crt, err := kubeletapi.IssueServingCert(ctx, a.client, n.Name, ip, time.Minute)
			if err != nil {
				log.Error("kubelet API: serving certificate", "err", err)
				return
			}
			srv := &kubeletapi.Server{Node: n.Name, Pods: kubeletPods{a}, Dial: a.dial, Log: log, ClientCAs: roots, Cert: crt}
			addr := net.JoinHostPort(n.IP, strconv.Itoa(kubeletapi.Port))
			log.Info("kubelet API listening", "addr", addr)
			if err := srv.Serve(ctx, addr); err != nil {
				log.Error("kubelet API", "err", err)
			}
		}()
	}
	wg.Wait()
}

// kubeletPods answers the kubelet API from the pod workers.
type kubeletPods struct{ a *Agent }

// find returns the worker of a pod on node and its container called name
// ("" for none). A node that is stopped or frozen answers nothing, as its
// kubelet would not.
func (p kubeletPods) find(node, namespace, pod, name string) (*podWorker, *ctr, error) {
	a := p.a
	if n := a.nodes[node]; n == nil || n.Power() != PowerOn {
		return nil, nil, fmt.Errorf("node %s is powered off or frozen in the lab, so its kubelet does not answer: `rebound lab node start %s`", node, node)
	}
	if n := a.nodes[node]; n != nil && n.CutOff() {
		// As behind a partition, the API server does not reach the node.
		return nil, nil, fmt.Errorf("node %s is cut off from the control plane (a lab network partition with --cut-control-plane): its kubelet cannot be reached", node)
	}
	a.mu.Lock()
	var cands []*podWorker
	for _, cand := range a.workers {
		if cand.nodeName == node && cand.namespace == namespace && cand.name == pod {
			cands = append(cands, cand)
		}
	}
	a.mu.Unlock()
	// Not under a.mu: a worker holds its own lock while it takes a.mu.
	var w *podWorker
	for _, cand := range cands {
		if cur, _ := cand.current(); w == nil || cur.DeletionTimestamp == nil {
			w = cand // a new incarnation wins over one being deleted
		}
	}
	if w == nil {
		return nil, nil, fmt.Errorf("%w: pod %s/%s on node %s", kubeletapi.ErrNotFound, namespace, pod, node)
	}
	if name == "" {
		return w, nil, nil
	}
	for _, c := range w.ctrs {
		if c.spec.Name == name {
			return w, c, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: container %q in pod %s/%s", kubeletapi.ErrNotFound, name, namespace, pod)
}

func (p kubeletPods) Container(node, namespace, pod, name string) (kubeletapi.Container, error) {
	w, c, err := p.find(node, namespace, pod, name)
	if err != nil {
		return kubeletapi.Container{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.simulated {
		return kubeletapi.Container{}, errSimulated(c, namespace, pod)
	}
	if c.startCount == 0 {
		return kubeletapi.Container{}, fmt.Errorf("container %q in pod %q is waiting to start: %s", name, pod, orDefault(c.waitReason, "ContainerCreating"))
	}
	out := kubeletapi.Container{UID: w.uid, Log: p.a.cfg.ContainerLog(namespace, pod, name, false)}
	if c.restartCount > 0 {
		out.PreviousLog = p.a.cfg.ContainerLog(namespace, pod, name, true)
	}
	if c.running {
		out.Exited = c.exited
	}
	return out, nil
}

func (p kubeletPods) Exec(node, namespace, pod, name string, cmd []string) (kubeletapi.Process, error) {
	w, c, err := p.find(node, namespace, pod, name)
	if err != nil {
		return kubeletapi.Process{}, err
	}
	c.mu.Lock()
	pid, exited, simulated, reason := c.pid, c.exited, c.simulated, c.waitReason
	c.mu.Unlock()
	switch {
	case simulated:
		return kubeletapi.Process{}, errSimulated(c, namespace, pod)
	case pid == 0:
		return kubeletapi.Process{}, fmt.Errorf("container %q in pod %q is not running (%s): nothing to exec into", name, pod, orDefault(reason, "exited"))
	}
	a := p.a
	podObj, ip := w.current()
	w.mu.Lock()
	volumes := w.volumes
	w.mu.Unlock()
	// Translate the command alone, for its executable and the container's
	// environment; the argv goes as given (exec expands no $(VAR)).
	execCtr := c.spec.DeepCopy()
	execCtr.Command, execCtr.Args = cmd[:1], nil
	in := podspec.Input{
		Pod: podObj, Container: execCtr, Images: a.images, LabBins: a.cfg.LabBins, Self: a.self,
		PodIP: ip, HostIP: a.nodes[w.nodeName].IP, Volumes: volumes, Objects: apiObjects{a},
		APIServerHost: a.apiHost, APIServerPort: a.apiPort,
	}
	env, err := podspec.Environment(in)
	if err == nil {
		execCtr.Command[0] = lookPath(a.images, c.spec.Image, cmd[0], env)
	}
	proc, err := podspec.Translate(in)
	if err != nil {
		return kubeletapi.Process{}, fmt.Errorf("exec in container %q of pod %s/%s: %w (the lab runs only executables its image mapping names: extend it with `rebound lab up --images FILE`, see lab/agent/podspec/images.yaml)", name, namespace, pod, err)
	}
	// In the container's namespaces and as its user, as exec probes run,
	// in its working folder; LabEnv lets `lab down` find a stray session.
	ex := podexec.Enter(a.ctx, pid, proc.User, proc.NoNewPrivs, proc.Path, cmd[1:])
	ex.Args = append([]string{ex.Args[0], "--wd=" + proc.Dir}, ex.Args[1:]...)
	ex.Env = append(proc.Env, LabEnv+"="+a.cfg.Name)
	return kubeletapi.Process{UID: w.uid, Cmd: ex, Exited: exited}, nil
}

func (p kubeletPods) Addr(node, namespace, pod string) (string, types.UID, error) {
	w, _, err := p.find(node, namespace, pod, "")
	if err != nil {
		return "", "", err
	}
	_, ip := w.current()
	if ip == "" {
		return "", "", fmt.Errorf("pod %s/%s has no IP address yet", namespace, pod)
	}
	return ip, w.uid, nil
}

// lookPath finds a bare command name in the container's $PATH among the
// executables its image mapping names, as a runtime finds it in the image.
func lookPath(images podspec.ImageMap, image, name string, env []string) string {
	im, ok := images.Lookup(image)
	if !ok || strings.Contains(name, "/") {
		return name
	}
	if _, ok := im.Binaries[name]; ok {
		return name
	}
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(p) {
				if _, ok := im.Binaries[path.Join(dir, name)]; ok {
					return path.Join(dir, name)
				}
			}
		}
	}
	return name
}

func errSimulated(c *ctr, namespace, pod string) error {
	return fmt.Errorf("container %q in pod %s/%s is simulated: its image %s maps to no executable, so nothing runs (extend the image mapping with `rebound lab up --images FILE`, see lab/agent/podspec/images.yaml)", c.spec.Name, namespace, pod, c.spec.Image)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
