package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// executed lists the kinds and actions the lab executes.
var executed = map[string][]string{
	v1alpha1.KindNetworkChaos: {string(v1alpha1.PartitionAction), string(v1alpha1.LossAction), string(v1alpha1.BandwidthAction)},
	v1alpha1.KindPodChaos:     {string(v1alpha1.PodKillAction), string(v1alpha1.PodFailureAction), string(v1alpha1.ContainerKillAction)},
}

// Pods is what the controller needs of the lab's node agent.
type Pods interface {
	// KillContainer SIGKILLs the running process of one container of a
	// lab pod and returns once it is dead; the agent restarts it by the
	// pod's restartPolicy, as a kubelet does after a container runtime
	// kill. An error when the pod or container is not the agent's.
	KillContainer(ctx context.Context, namespace, pod, container string) error
}

// Network puts the lab's network faults on pods. Inject and Recover are
// called once per record and must be idempotent: Inject replaces the fault
// of the same key on that pod, Recover of a key not in effect is no error.
type Network interface {
	Inject(ctx context.Context, key string, pod *corev1.Pod, f NetFault) error
	Recover(ctx context.Context, key string, pod *corev1.Pod) error
}

// NetFault is one pod's share of a NetworkChaos, as Chaos Mesh puts it on
// each target: drop (partition), drop a share (loss) or rate-limit
// (bandwidth) the pod's traffic with Peers, or with everything when Peers
// is empty.
type NetFault struct {
	Action v1alpha1.NetworkChaosAction
	// Egress and Ingress: which of the pod's traffic a partition drops,
	// what it sends to Peers and what it receives from them. Loss and
	// bandwidth act on what the pod sends (Egress), as tc does.
	Egress, Ingress bool
	// Peers are the other side's pod IPs; empty means every address.
	Peers []string
	// LossPercent (1 to 100) for loss.
	LossPercent int
	// RateBits (bits per second), LimitBytes (queue) and BufferBytes
	// (burst) for bandwidth.
	RateBits                uint64
	LimitBytes, BufferBytes uint32
}

// Config is what the controller acts through.
type Config struct {
	Dynamic dynamic.Interface
	Kube    kubernetes.Interface
	Pods    Pods
	// Network executes NetworkChaos; nil when the lab's network cannot
	// (its records then fail, saying so).
	Network Network
	Log     *slog.Logger
}

// Controller executes Chaos Mesh experiments in the lab.
type Controller struct {
	dyn   dynamic.Interface
	kube  kubernetes.Interface
	sel   *selector
	pods  Pods
	net   Network
	log   *slog.Logger
	now   func() time.Time
	queue workqueue.TypedRateLimitingInterface[objKey]
	// events records Kubernetes Events on experiments, as Chaos Mesh
	// does; set by Run (nil: none).
	events record.EventRecorder

	mu      sync.Mutex
	watches map[schema.GroupVersionResource]watch
}

type watch struct {
	kind   string
	cancel context.CancelFunc
}

// objKey names one experiment.
type objKey struct {
	gvr             schema.GroupVersionResource
	kind            string
	namespace, name string
}

// New makes a controller; Run starts it.
func New(cfg Config) *Controller {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		dyn: cfg.Dynamic, kube: cfg.Kube, pods: cfg.Pods, net: cfg.Network,
		sel: &selector{kube: cfg.Kube}, log: log.With("component", "chaos"), now: time.Now,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[objKey](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[objKey]{Name: "lab-chaos"}),
		watches: map[schema.GroupVersionResource]watch{},
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Run watches the Chaos Mesh CRDs, and the experiments of every installed
// kind, until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	c.events = events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "rebound-lab-chaos"})

	crds := dynamicinformer.NewFilteredDynamicInformer(c.dyn, crdGVR, "", 0, cache.Indexers{}, nil)
	if _, err := crds.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.crdChanged(ctx, o, false) },
		UpdateFunc: func(_, o any) { c.crdChanged(ctx, o, false) },
		DeleteFunc: func(o any) { c.crdChanged(ctx, o, true) },
	}); err != nil {
		return err
	}
	go crds.Informer().Run(ctx.Done())

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	c.log.Info("lab chaos controller running")
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

// crdChanged starts watching the experiments of a Chaos Mesh kind once its
// CRD serves v1alpha1 and is established, and stops once the CRD is gone.
func (c *Controller) crdChanged(ctx context.Context, obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
	if group != v1alpha1.SchemeGroupVersion.Group {
		return
	}
	if _, ok := v1alpha1.AllKinds()[kind]; !ok {
		return // not an experiment (Schedule, Workflow, PodNetworkChaos…)
	}
	gvr := v1alpha1.SchemeGroupVersion.WithResource(plural)
	c.mu.Lock()
	defer c.mu.Unlock()
	w, watching := c.watches[gvr]
	if deleted {
		if watching {
			w.cancel()
			delete(c.watches, gvr)
			c.log.Info("stopped watching chaos kind", "kind", kind)
		}
		return
	}
	if watching || !crdEstablished(u) {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	c.watches[gvr] = watch{kind: kind, cancel: cancel}
	inf := dynamicinformer.NewFilteredDynamicInformer(c.dyn, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil)
	enqueue := func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		if m, err := meta(o); err == nil {
			c.queue.Add(objKey{gvr: gvr, kind: kind, namespace: m.GetNamespace(), name: m.GetName()})
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, DeleteFunc: enqueue,
		UpdateFunc: func(old, o any) {
			if ownerChanged(old, o) {
				enqueue(o)
			}
		},
	}); err != nil {
		c.log.Error("watch chaos kind", "kind", kind, "err", err)
		return
	}
	go inf.Informer().Run(wctx.Done())
	c.log.Info("watching chaos kind", "kind", kind)
}

// ownerChanged tells whether an update of an experiment is its owner's
// (spec, annotations, finalizers, deletion) rather than the controller's
// own status write, which must not trigger another reconcile: a failing
// step would otherwise retry at once, in a loop, instead of with back-off.
func ownerChanged(old, cur any) bool {
	o, ok1 := old.(*unstructured.Unstructured)
	n, ok2 := cur.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return true
	}
	return !equality.Semantic.DeepEqual(o.Object["spec"], n.Object["spec"]) ||
		!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(o.GetFinalizers(), n.GetFinalizers()) ||
		!equality.Semantic.DeepEqual(o.GetDeletionTimestamp(), n.GetDeletionTimestamp())
}

func meta(o any) (metav1.Object, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("not an object: %T", o)
	}
	return u, nil
}

func crdEstablished(u *unstructured.Unstructured) bool {
	served := false
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, v := range versions {
		if m, ok := v.(map[string]any); ok && m["name"] == v1alpha1.SchemeGroupVersion.Version && m["served"] == true {
			served = true
		}
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, cond := range conds {
		if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return served
		}
	}
	return false
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	after, err := c.sync(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			c.log.Warn("chaos experiment", "kind", key.kind, "object", key.namespace+"/"+key.name, "err", err)
		}
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	}
	return true
}

// sync reconciles one experiment: reads it, works out its status and
// finalizers, and writes them back when they changed.
func (c *Controller) sync(ctx context.Context, key objKey) (time.Duration, error) {
	api := c.dyn.Resource(key.gvr).Namespace(key.namespace)
	u, err := api.Get(ctx, key.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get %s %s/%s: %w", key.kind, key.namespace, key.name, err)
	}
	obj, err := decode(key.kind, u)
	if err != nil {
		return 0, err
	}

	event := func(eventtype, reason, message string) {
		if c.events != nil {
			c.events.Event(u, eventtype, reason, message)
		}
	}
	var out outcome
	ex := c.executorFor(key.kind)
	if ex == nil {
		notExecuted(obj, key.kind)
	} else {
		out = c.reconcile(ctx, obj, ex, event)
	}
	changed, err := c.write(ctx, key, u, obj.GetStatus(), out.finalizer)
	if err != nil {
		return 0, err
	}
	if changed && ex == nil {
		event(corev1.EventTypeWarning, "NotSupported", notExecutedReason(key.kind))
	}
	if out.retry != nil {
		return 0, out.retry
	}
	return out.requeueAfter, nil
}

// executorFor is the executor of a kind, nil for a kind the lab does not
// execute.
func (c *Controller) executorFor(kind string) executor {
	switch kind {
	case v1alpha1.KindPodChaos:
		return &podChaos{c: c}
	case v1alpha1.KindNetworkChaos:
		return &networkChaos{c: c}
	}
	return nil
}

// decode turns an object read through the dynamic client into its Chaos
// Mesh type.
func decode(kind string, u *unstructured.Unstructured) (v1alpha1.InnerObjectWithSelector, error) {
	k, ok := v1alpha1.AllKinds()[kind]
	if !ok {
		return nil, fmt.Errorf("%s is not a Chaos Mesh kind", kind)
	}
	obj, ok := k.SpawnObject().(v1alpha1.InnerObjectWithSelector)
	if !ok {
		return nil, fmt.Errorf("%s has no selector: not an experiment the lab handles", kind)
	}
	data, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", kind, u.GetNamespace(), u.GetName(), err)
	}
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("%s %s/%s is not a valid %s: %w", kind, u.GetNamespace(), u.GetName(), kind, err)
	}
	return obj, nil
}

// write stores the status (its conditions and experiment, leaving any
// other status field of the kind as it is) and adds or removes Finalizer,
// when either changed. Chaos Mesh's CRDs have no status subresource: the
// object is updated whole, as Chaos Mesh's controller does, re-read on a
// conflict (the status is the controller's alone).
func (c *Controller) write(ctx context.Context, key objKey, u *unstructured.Unstructured, st *v1alpha1.ChaosStatus, finalizer bool) (bool, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return false, err
	}
	want := map[string]any{}
	if err := utiljson.Unmarshal(data, &want); err != nil {
		return false, err
	}
	api := c.dyn.Resource(key.gvr).Namespace(key.namespace)
	wrote := false
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		changed := false
		status, _, _ := unstructured.NestedMap(u.Object, "status")
		if status == nil {
			status = map[string]any{}
		}
		for _, f := range []string{"conditions", "experiment"} {
			if !equality.Semantic.DeepEqual(status[f], want[f]) {
				changed = true
				if want[f] == nil {
					delete(status, f)
				} else {
					status[f] = want[f]
				}
			}
		}
		fins := u.GetFinalizers()
		if has := slices.Contains(fins, Finalizer); has != finalizer {
			changed = true
			if finalizer {
				fins = append(fins, Finalizer)
			} else {
				fins = slices.DeleteFunc(fins, func(f string) bool { return f == Finalizer })
			}
		}
		if !changed {
			return nil
		}
		upd := u.DeepCopy()
		upd.Object["status"] = status
		upd.SetFinalizers(fins)
		_, err := api.Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, gerr := api.Get(ctx, key.name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			u = fresh
		}
		if apierrors.IsNotFound(err) {
			return nil // gone: its last finalizer was removed
		}
		if err != nil {
			return fmt.Errorf("update %s %s/%s: %w", key.kind, key.namespace, key.name, err)
		}
		wrote = true
		return nil
	})
	return wrote, err
}
