package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/reboundhq/rebound/lab/agent/kubeletapi"
	"github.com/reboundhq/rebound/lab/agent/podspec"
	"github.com/reboundhq/rebound/lab/labnet"
)

// Power is a lab node's power state.
type Power string

const (
	PowerOn     Power = "running"
	PowerOff    Power = "stopped"
	PowerFrozen Power = "frozen"
)

// Agent runs every lab node.
type Agent struct {
	cfg    *Config
	log    *slog.Logger
	client kubernetes.Interface
	rest   *rest.Config
	images podspec.ImageMap
	self   string
	ctx    context.Context // Run's; ends every pod worker and prober

	pods corelisters.PodLister
	pvcs corelisters.PersistentVolumeClaimLister
	pvs  corelisters.PersistentVolumeLister

	nodes map[string]*node // by name; fixed after New

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	ips     map[netip.Addr]types.UID
	created []string // mount targets made on the host

	// server is the API server's URL in the agent's kubeconfig; apiHost
	// and apiPort are what containers get as $KUBERNETES_SERVICE_HOST and
	// _PORT (apiServerAddr), set before the first pod starts.
	server           string
	apiHost, apiPort string

	// caPEM is the cluster's CA (from the kubeconfig): the kubelet API
	// trusts client certificates it signed. dial reaches pod addresses
	// from the lab's namespace, as a kubelet from its node: probes and
	// port-forwards.
	caPEM []byte
	dial  kubeletapi.DialFunc
}

type node struct {
	NodeConfig
	mu    sync.Mutex
	power Power
	cut   bool          // cut off from the control plane: no heartbeats, no status
	wake  chan struct{} // heartbeat now
}

func (n *node) Power() Power {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.power
}

// CutOff tells whether the node is cut off from the control plane.
func (n *node) CutOff() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cut
}

// New builds an agent from its config.
func New(cfg *Config, log *slog.Logger) (*Agent, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	rc.QPS, rc.Burst = 200, 400
	rc.UserAgent = "rebound-lab-agent"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	images, err := podspec.LoadImages(cfg.ImagesFile)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	caPEM := rc.CAData
	if len(caPEM) == 0 && rc.CAFile != "" {
		if caPEM, err = os.ReadFile(rc.CAFile); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: cluster CA: %w", cfg.Kubeconfig, err)
		}
	}
	a := &Agent{
		cfg: cfg, log: log, client: client, rest: rc, images: images, self: self,
		nodes:   map[string]*node{},
		workers: map[types.UID]*podWorker{},
		ips:     map[netip.Addr]types.UID{},
		server:  rc.Host,
		caPEM:   caPEM,
		dial:    kubeletapi.DialFunc(labnet.Dialer(cfg.Name)),
	}
	saved := a.loadPower()
	for _, nc := range cfg.Nodes {
		p := saved[nc.Name]
		if p == "" {
			p = PowerOn
		}
		a.nodes[nc.Name] = &node{NodeConfig: nc, power: p, wake: make(chan struct{}, 1)}
	}
	return a, nil
}

// Run serves until ctx ends, then kills every pod process it started.
func (a *Agent) Run(ctx context.Context) error {
	a.ctx = ctx
	for _, d := range []string{a.cfg.LogDir(), a.cfg.StateDir + "/pods", a.cfg.StateDir + "/volumes"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := a.ensureStorageClass(ctx); err != nil {
		return err
	}
	// lab up made the lab's namespace; an agent restarted by hand finds
	// it again, or makes it.
	if err := labnet.Up(labnet.Network{Lab: a.cfg.Name, Plan: a.cfg.Net}); err != nil {
		return fmt.Errorf("the lab's network: %w", err)
	}
	waitAddons, err := a.startAddons(ctx)
	if err != nil {
		return fmt.Errorf("the lab's add-ons (kube-proxy, CoreDNS, API server forwarder): %w", err)
	}
	defer waitAddons()
	if err := a.resolveAPIServer(ctx); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(a.client, 0)
	podInf := factory.Core().V1().Pods()
	pvcInf := factory.Core().V1().PersistentVolumeClaims()
	pvInf := factory.Core().V1().PersistentVolumes()
	a.pods, a.pvcs, a.pvs = podInf.Lister(), pvcInf.Lister(), pvInf.Lister()

	podHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.podChanged(o) },
		UpdateFunc: func(_, o any) { a.podChanged(o) },
		DeleteFunc: func(o any) { a.podChanged(o) },
	}
	if _, err := podInf.Informer().AddEventHandler(podHandler); err != nil {
		return err
	}
	prov := &provisioner{a: a, queue: make(chan struct{}, 1)}
	for _, inf := range []cache.SharedIndexInformer{pvcInf.Informer(), pvInf.Informer()} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { prov.poke() }, UpdateFunc: func(any, any) { prov.poke() }, DeleteFunc: func(any) { prov.poke() },
		}); err != nil {
			return err
		}
	}

	var wg sync.WaitGroup
	for _, n := range a.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); a.runNode(ctx, n) }()
	}
	factory.Start(ctx.Done())
	for t, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("sync %v informer", t)
		}
	}
	wg.Add(4)
	go func() { defer wg.Done(); a.runChaos(ctx) }()
	go func() { defer wg.Done(); a.serveKubelet(ctx) }()
	go func() { defer wg.Done(); prov.run(ctx) }()
	go func() { defer wg.Done(); a.serveAPI(ctx) }()
	a.log.Info("agent running", "nodes", len(a.nodes))
	<-ctx.Done()

	a.mu.Lock()
	workers := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	for _, w := range workers {
		w.killAll()
	}
	wg.Wait()
	return nil
}

// podChanged hands a pod event to the pod's worker, starting one for pods
// newly bound to a lab node.
func (a *Agent) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || a.nodes[pod.Spec.NodeName] == nil {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	if w == nil {
		w = newPodWorker(a, pod)
		a.workers[pod.UID] = w
		go w.run()
	}
	a.mu.Unlock()
	w.poke()
}

func (a *Agent) removeWorker(uid types.UID) {
	a.mu.Lock()
	delete(a.workers, uid)
	a.mu.Unlock()
	a.releaseIPs(uid)
}

// releaseIPs frees the addresses held by a pod.
func (a *Agent) releaseIPs(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ip, owner := range a.ips {
		if owner == uid {
			delete(a.ips, ip)
		}
	}
}

// allocateIP gives a pod an address of its node's pod range, keeping the
// one in its status when it has one (an agent restart must not renumber
// running pods).
func (a *Agent) allocateIP(uid types.UID, n *node, current string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ip, owner := range a.ips {
		if owner == uid {
			return ip.String(), nil
		}
	}
	if ip, err := netip.ParseAddr(current); err == nil && n.PodCIDR.Contains(ip) {
		if _, taken := a.ips[ip]; !taken {
			a.ips[ip] = uid
			return current, nil
		}
	}
	ip, err := labnet.NextPodIP(n.PodCIDR, func(ip netip.Addr) bool { _, taken := a.ips[ip]; return taken })
	if err != nil {
		return "", fmt.Errorf("node %s: %w", n.Name, err)
	}
	a.ips[ip] = uid
	return ip.String(), nil
}

func (a *Agent) recordCreated(paths []string) {
	if len(paths) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.OpenFile(a.cfg.CreatedPathsFile(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		a.log.Error("record created mount targets", "err", err)
		return
	}
	defer f.Close()
	for _, p := range paths {
		fmt.Fprintln(f, p)
	}
}

func (a *Agent) loadPower() map[string]Power {
	out := map[string]Power{}
	if data, err := os.ReadFile(a.cfg.powerFile()); err == nil {
		_ = json.Unmarshal(data, &out)
	}
	return out
}

func (a *Agent) savePower() error {
	out := map[string]Power{}
	for name, n := range a.nodes {
		out[name] = n.Power()
	}
	data, _ := json.Marshal(out)
	return writeAtomic(a.cfg.powerFile(), data)
}

// workersOn lists the pod workers of a node.
func (a *Agent) workersOn(nodeName string) []*podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*podWorker
	for _, w := range a.workers {
		if w.nodeName == nodeName {
			out = append(out, w)
		}
	}
	return out
}
