package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
	"sigs.k8s.io/yaml"

	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/faults/chaosmesh"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
	"github.com/reboundhq/rebound/scenarios/apps"
)

// chaosRunID labels every object this test creates.
const chaosRunID = "e2e-chaosmesh"

var etcdSelector = map[string]string{"app.kubernetes.io/name": "etcd"}

// chaosCRDDir is where `make chaos-crds` (faults/chaosmesh/crdgen/gen.sh)
// puts the CRDs: $REBOUND_CHAOS_CRDS, else its default.
func chaosCRDDir() string {
	if d := os.Getenv("REBOUND_CHAOS_CRDS"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "rebound", "crds", "chaos-mesh")
}

// readChaosCRDs reads the CRDs of the given chaos-mesh.org resources
// (networkchaos, podchaos…). Only those: the others (Workflow and Schedule
// embed every kind, 3 MB of schema) cost the API server many seconds to
// publish and to remove.
func readChaosCRDs(t *testing.T, resources ...string) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	dir := chaosCRDDir()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.yaml")); len(files) == 0 {
		t.Fatalf("no Chaos Mesh CRDs in %s: run `make chaos-crds` first (or set REBOUND_CHAOS_CRDS to where they are)", dir)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, res := range resources {
		f := filepath.Join(dir, v1alpha1.SchemeGroupVersion.Group+"_"+res+".yaml")
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%v: run `make chaos-crds` again", err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds = append(crds, crd)
	}
	return crds
}

func labREST(t *testing.T, ctx context.Context) *rest.Config {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", labFrom(ctx).Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	return rc
}

func extClient(t *testing.T, ctx context.Context) apiextensions.Interface {
	t.Helper()
	c, err := apiextensions.NewForConfig(labREST(t, ctx))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dynClient(t *testing.T, ctx context.Context) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(labREST(t, ctx))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// installCRDs creates the CRDs, or updates those a previous run left, and
// waits until the API server serves every one.
func installCRDs(t *testing.T, ctx context.Context, ext apiextensions.Interface, crds []*apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	api := ext.ApiextensionsV1().CustomResourceDefinitions()
	for _, crd := range crds {
		_, err := api.Create(ctx, crd, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			var old *apiextensionsv1.CustomResourceDefinition
			if old, err = api.Get(ctx, crd.Name, metav1.GetOptions{}); err == nil {
				crd.ResourceVersion = old.ResourceVersion
				_, err = api.Update(ctx, crd, metav1.UpdateOptions{})
			}
		}
		if err != nil {
			t.Fatalf("install CRD %s: %v", crd.Name, err)
		}
	}
	took := waitFor(t, ctx, "every Chaos Mesh CRD Established", time.Minute, func() bool {
		for _, crd := range crds {
			got, err := api.Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil || !apihelpers.IsCRDConditionTrue(got, apiextensionsv1.Established) {
				return false
			}
		}
		return true
	})
	t.Logf("%d Chaos Mesh CRDs established in %.1fs", len(crds), took.Seconds())
}

// podSelected tells whether Chaos Mesh would select the pod, for the
// selector fields the builders use (its pkg/selector/pod): namespaces,
// labels and label expressions on the pod, labels on the pod's node.
func podSelected(t *testing.T, s v1alpha1.PodSelectorSpec, pod *corev1.Pod, node *corev1.Node) bool {
	t.Helper()
	ls, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: s.LabelSelectors, MatchExpressions: s.ExpressionSelectors})
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(s.Namespaces, pod.Namespace) &&
		ls.Matches(labels.Set(pod.Labels)) &&
		labels.SelectorFromSet(s.NodeSelectors).Matches(labels.Set(node.Labels))
}

// noPodsNamespace is where labChaosObjects select: a namespace without
// pods, so the lab's Chaos Mesh controller selects nothing and injects
// nothing while the schema is checked.
const noPodsNamespace = "rebound-e2e-no-pods"

// labChaosObjects are one of each object the builders make, living in the
// demo app's namespace and aimed at pods of noPodsNamespace and, for the
// cloud kinds, at made-up machines.
func labChaosObjects(zone string) []chaosmesh.Object {
	m := func(name string) chaosmesh.Meta {
		return chaosmesh.Meta{Namespace: demoNamespace, Name: name, RunID: chaosRunID}
	}
	return []chaosmesh.Object{
		chaosmesh.ZonePartition(m("zone-partition"), zone, noPodsNamespace, etcdSelector, 2*time.Minute),
		chaosmesh.PodPartition(m("pod-partition"), noPodsNamespace, "etcd-1", 30*time.Second),
		chaosmesh.PodKill(m("pod-kill"), noPodsNamespace, "etcd-2"),
		chaosmesh.IOErrors(m("io-errors"), noPodsNamespace, etcdSelector, "/var/lib/etcd", 50, 5, time.Minute),
		chaosmesh.IOLatency(m("io-latency"), noPodsNamespace, etcdSelector, "/var/lib/etcd", 100, 200*time.Millisecond, time.Minute),
		chaosmesh.AzureVMStop(m("azure-vm-stop"), "00000000-0000-0000-0000-000000000000", "rg-rebound", "vm-node-1", "azure-creds", 5*time.Minute),
		chaosmesh.AWSEC2Stop(m("aws-ec2-stop"), "eu-west-1", "i-0123456789abcdef0", "", 5*time.Minute),
		chaosmesh.GCPNodeStop(m("gcp-node-stop"), "rebound-lab", "europe-west1-b", "node-1", "gcp-creds", 5*time.Minute),
	}
}

func TestChaosMesh(t *testing.T) {
	var crdNames []string
	f := features.New("chaos mesh objects against the real CRDs").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			var resources []string
			for res := range gvrsOf(t, labChaosObjects("any")) {
				resources = append(resources, res)
			}
			crds := readChaosCRDs(t, resources...)
			for _, c := range crds {
				crdNames = append(crdNames, c.Name)
			}
			installCRDs(t, ctx, extClient(t, ctx), crds)
			return ctx
		}).
		Assess("pods carry their node's zone, so a zone partition selects the app pods of the zone and, as target, those of the other zones", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			pods := etcdPods(t, ctx, cs)
			nodes := map[string]*corev1.Node{}
			for _, p := range pods {
				n, err := cs.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				nodes[p.Name] = n
				if got, want := p.Labels[corev1.LabelTopologyZone], n.Labels[corev1.LabelTopologyZone]; got != want {
					t.Errorf("pod %s has zone label %q, its node %q: the API server did not copy it (PodTopologyLabelsAdmission, Kubernetes >= 1.35)", p.Name, got, want)
				}
			}
			zone := nodes["etcd-0"].Labels[corev1.LabelTopologyZone]
			zp := chaosmesh.ZonePartition(chaosmesh.Meta{Namespace: demoNamespace, Name: "zp", RunID: chaosRunID}, zone, demoNamespace, etcdSelector, time.Minute)
			var source, target, inZone, outside []string
			for name, p := range pods {
				if nodes[name].Labels[corev1.LabelTopologyZone] == zone {
					inZone = append(inZone, name)
				} else {
					outside = append(outside, name)
				}
				if podSelected(t, zp.Spec.Selector, p, nodes[name]) {
					source = append(source, name)
				}
				if podSelected(t, zp.Spec.Target.Selector, p, nodes[name]) {
					target = append(target, name)
				}
			}
			for _, s := range [][]string{source, target, inZone, outside} {
				slices.Sort(s)
			}
			if len(inZone) == 0 || len(outside) == 0 {
				t.Fatalf("etcd pods %v in zone %s, %v outside: the demo app should span zones", inZone, zone, outside)
			}
			if !slices.Equal(source, inZone) || !slices.Equal(target, outside) {
				t.Errorf("zone %s partition: source %v target %v, want source %v target %v", zone, source, target, inZone, outside)
			}
			return ctx
		}).
		Assess("the API server accepts every object the builders make, a run's objects are found by its label, and Delete removes them", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs, dyn := kube(t, ctx), dynClient(t, ctx)
			node, err := cs.CoreV1().Nodes().Get(ctx, etcdPods(t, ctx, cs)["etcd-0"].Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			objs := labChaosObjects(node.Labels[corev1.LabelTopologyZone])
			for _, obj := range objs {
				if err := chaosmesh.Create(ctx, dyn, obj); err != nil {
					t.Errorf("%T %s: %v", obj, obj.GetName(), err)
					continue
				}
				assertStoredAsSent(t, ctx, dyn, obj)
			}
			if t.Failed() {
				return ctx
			}

			found := 0
			for _, gvr := range gvrsOf(t, objs) {
				l, err := dyn.Resource(gvr).Namespace(demoNamespace).List(ctx, metav1.ListOptions{LabelSelector: chaosmesh.LabelRun + "=" + chaosRunID})
				if err != nil {
					t.Fatal(err)
				}
				found += len(l.Items)
			}
			if found != len(objs) {
				t.Errorf("listing by %s=%s found %d objects, want %d", chaosmesh.LabelRun, chaosRunID, found, len(objs))
			}

			var all []any
			for _, obj := range objs {
				if err := chaosmesh.Delete(ctx, dyn, obj); err != nil {
					t.Error(err)
				}
				all = append(all, obj)
			}
			// The lab's Chaos Mesh controller lets each go once it has
			// recovered its targets (none here: nothing was selected).
			assertNoObjects(t, ctx, dyn, all)
			for _, obj := range objs {
				if err := chaosmesh.Delete(ctx, dyn, obj); err != nil {
					t.Errorf("a second Delete of %s: %v, want none", obj.GetName(), err)
				}
			}
			return ctx
		}).
		Assess("rebound's via: chaos-mesh faults run on the lab's Chaos Mesh controller: confirmed once its status reports them injected, in effect, and undone by deleting the object", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			e := faultEnv(t, ctx, "e2e-confirm")
			before := etcdPods(t, ctx, cs)

			// pause: a NetworkChaos partition of etcd-1 from everything.
			p := planFault(t, ctx, e, scenarios.Fault{Kind: scenarios.FaultPause, Via: scenarios.ViaChaosMesh, Pod: "etcd-1", Duration: time.Minute})
			applyConfirmed(t, ctx, p)
			peer := before["etcd-0"]
			if err := dialFromPod(ctx, peer, before["etcd-1"].Status.PodIP+":2380"); err == nil {
				t.Error("etcd-0 reaches etcd-1 while Chaos Mesh reports etcd-1 partitioned")
			}
			if err := faults.Recover(context.WithoutCancel(ctx), e, p.Undo); err != nil {
				t.Errorf("pause: undo: %v", err)
			}
			assertNoObjects(t, ctx, e.Dynamic, p.Objects)
			if err := dialFromPod(ctx, peer, before["etcd-1"].Status.PodIP+":2380"); err != nil {
				t.Errorf("etcd-0 does not reach etcd-1 once the partition object is gone: %v", err)
			}

			// pod-kill: a PodChaos, one-shot.
			p = planFault(t, ctx, e, scenarios.Fault{Kind: scenarios.FaultPodKill, Via: scenarios.ViaChaosMesh, Pod: "etcd-2"})
			applyConfirmed(t, ctx, p)
			if now, err := cs.CoreV1().Pods(demoNamespace).Get(ctx, "etcd-2", metav1.GetOptions{}); err == nil && now.UID == before["etcd-2"].UID && now.DeletionTimestamp == nil {
				t.Error("etcd-2 is still the same pod, not being deleted, once its kill is confirmed")
			}
			if err := faults.Recover(context.WithoutCancel(ctx), e, p.Undo); err != nil {
				t.Errorf("pod-kill: undo: %v", err)
			}
			assertNoObjects(t, ctx, e.Dynamic, p.Objects)
			if err := apps.WaitStatefulSetReady(ctx, cs, demoNamespace, "etcd", 2*time.Minute); err != nil {
				t.Fatalf("etcd after the pod-kill: %v", err)
			}
			return ctx
		}).
		Assess("a fault Chaos Mesh never reports injected is not confirmed: an error in its words (the lab's controller does not execute IOChaos), and the undo removes its object", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			e := faultEnv(t, ctx, "e2e-unconfirmed")
			p := planFault(t, ctx, e, scenarios.Fault{Kind: scenarios.FaultIOChaos, Via: scenarios.ViaChaosMesh, Pod: "etcd-1", Duration: 30 * time.Second,
				IOChaos: &scenarios.IOChaos{Action: v1alpha1.IoFaults, Percent: 50, Errno: 5}})
			actx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := faults.Apply(actx, p)
			cancel()
			if !errors.Is(err, faults.ErrNotConfirmed) || !strings.HasPrefix(err.Error(), "fault never took effect: ") || !strings.Contains(err.Error(), "does not execute IOChaos") {
				t.Errorf("Apply of an IOChaos in the lab = %v, want ErrNotConfirmed (\"fault never took effect: ...\") saying the lab does not execute IOChaos", err)
			}
			if err := faults.Recover(context.WithoutCancel(ctx), e, p.Undo); err != nil {
				t.Errorf("undo: %v", err)
			}
			assertNoObjects(t, ctx, e.Dynamic, p.Objects)
			return ctx
		}).
		Assess("a scenario via chaos-mesh that is never confirmed is an ERROR saying so, and its object is rolled back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// The runner turns Apply's ErrNotConfirmed into the scenario's
			// error and rolls back through the journaled undo.
			doc := scenarioYAML("unconfirmed-io-chaos", "disk", "kind: io-chaos\nvia: chaos-mesh\npod: etcd-1\nduration: 10s\nioChaos:\n  action: fault\n  errno: 5\n  percent: 50", "") +
				"  phaseTimeouts:\n    inject: 3s\n"
			run := runScenarios(t, ctx, parseScenarios(t, doc))
			s := run.Scenarios[0]
			if s.Status() != reports.StatusError || !strings.Contains(s.Error, "fault never took effect") || !strings.Contains(s.Error, "does not execute IOChaos") {
				t.Errorf("status %s, error %q: want ERROR with \"fault never took effect\" and the lab's reason", s.Status(), s.Error)
			}
			dyn := dynClient(t, ctx)
			gvr := v1alpha1.SchemeGroupVersion.WithResource("iochaos")
			l, err := dyn.Resource(gvr).Namespace(demoNamespace).List(ctx, metav1.ListOptions{LabelSelector: chaosmesh.LabelRun + "=" + run.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Items) != 0 {
				t.Errorf("%d IOChaos of run %s left after the scenario: not rolled back", len(l.Items), run.ID)
			}
			return ctx
		}).
		Assess("the CRD schema rejects an unknown action and an unknown selector mode", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dyn := dynClient(t, ctx)
			m := chaosmesh.Meta{Namespace: demoNamespace, Name: "invalid", RunID: chaosRunID}

			// Straight through the dynamic client: only the CRD checks it.
			bad := chaosmesh.ZonePartition(m, "lab-1a", demoNamespace, etcdSelector, time.Minute)
			bad.Spec.Action = "blackhole"
			u, err := chaosmesh.Unstructured(bad)
			if err != nil {
				t.Fatal(err)
			}
			gvr, _ := chaosmesh.GVR(bad)
			_, err = dyn.Resource(gvr).Namespace(demoNamespace).Create(ctx, u, metav1.CreateOptions{})
			assertSchemaRejects(t, err, "spec.action", "blackhole")

			// Through Create: Chaos Mesh's webhook rules leave the mode to the
			// schema, so rebound's own path must surface the server's refusal.
			kill := chaosmesh.PodKill(m, demoNamespace, "etcd-0")
			kill.Spec.Mode = "sometimes"
			err = chaosmesh.Create(ctx, dyn, kill)
			if errors.Is(err, chaosmesh.ErrInvalid) {
				t.Fatalf("rebound's validation caught it, not the CRD: %v", err)
			}
			assertSchemaRejects(t, err, "spec.mode", "sometimes")
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Leave the shared lab as it was: no CRDs, and with them no objects.
			api := extClient(t, ctx).ApiextensionsV1().CustomResourceDefinitions()
			for _, name := range crdNames {
				if err := api.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("delete CRD %s: %v", name, err)
				}
			}
			took := waitFor(t, ctx, "the Chaos Mesh CRDs gone", 2*time.Minute, func() bool {
				for _, name := range crdNames {
					if _, err := api.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return false
					}
				}
				return true
			})
			t.Logf("%d Chaos Mesh CRDs removed in %.1fs", len(crdNames), took.Seconds())
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// faultEnv is what injectors act through, on the demo etcd app in the lab,
// as if from the outside: Chaos Mesh, not the lab's agent.
func faultEnv(t *testing.T, ctx context.Context, runID string) *faults.Env {
	t.Helper()
	return &faults.Env{
		Kube: kube(t, ctx), Dynamic: dynClient(t, ctx), Namespace: demoNamespace,
		Selector: labels.SelectorFromSet(etcdSelector), RunID: runID, Scenario: runID,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
	}
}

func planFault(t *testing.T, ctx context.Context, e *faults.Env, f scenarios.Fault) *faults.Plan {
	t.Helper()
	inj, err := faults.For(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := inj.Plan(ctx, e)
	if err != nil {
		t.Fatalf("plan %s: %v", f.Kind, err)
	}
	return p
}

// applyConfirmed applies a planned fault and wants it confirmed.
func applyConfirmed(t *testing.T, ctx context.Context, p *faults.Plan) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := faults.Apply(actx, p); err != nil {
		t.Fatalf("%s: Apply: %v", p.Fault, err)
	}
}

// assertNoObjects wants every one of objs gone from the cluster soon: a
// deleted experiment stays until the lab's Chaos Mesh controller has
// recovered its targets and removed its finalizer.
func assertNoObjects(t *testing.T, ctx context.Context, dyn dynamic.Interface, objs []any) {
	t.Helper()
	for _, o := range objs {
		obj := o.(chaosmesh.Object)
		gvr, _ := chaosmesh.GVR(obj)
		waitFor(t, ctx, fmt.Sprintf("%s %s gone after its deletion", gvr.Resource, obj.GetName()), 30*time.Second, func() bool {
			_, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	}
}

// dialFromPod opens a TCP connection to addr from inside pod's network
// namespace, as the pod itself would, and closes it.
func dialFromPod(ctx context.Context, pod *corev1.Pod, addr string) error {
	var dialErr error
	err := labnet.Do(labnet.PodNetnsPath(labFrom(ctx).Name, pod.UID), func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c.Close()
		}
		dialErr = err
		return nil
	})
	return errors.Join(err, dialErr)
}

func gvrsOf(t *testing.T, objs []chaosmesh.Object) map[string]schema.GroupVersionResource {
	t.Helper()
	out := map[string]schema.GroupVersionResource{}
	for _, o := range objs {
		gvr, err := chaosmesh.GVR(o)
		if err != nil {
			t.Fatal(err)
		}
		out[gvr.Resource] = gvr
	}
	return out
}

// assertStoredAsSent reads the object back: what was sent is stored
// unchanged (strict field validation would have refused anything the schema
// does not know), and the schema's defaults are filled in.
func assertStoredAsSent(t *testing.T, ctx context.Context, dyn dynamic.Interface, obj chaosmesh.Object) {
	t.Helper()
	sent, err := chaosmesh.Unstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	gvr, _ := chaosmesh.GVR(obj)
	got, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%s %s: %v", gvr.Resource, obj.GetName(), err)
	}
	if !reflect.DeepEqual(got.GetLabels(), sent.GetLabels()) {
		t.Errorf("%s %s labels %v, sent %v", gvr.Resource, obj.GetName(), got.GetLabels(), sent.GetLabels())
	}
	sentSpec, _, _ := unstructured.NestedMap(sent.Object, "spec")
	gotSpec, _, _ := unstructured.NestedMap(got.Object, "spec")
	for k, v := range sentSpec {
		if !reflect.DeepEqual(gotSpec[k], v) {
			t.Errorf("%s %s spec.%s stored as %v, sent %v", gvr.Resource, obj.GetName(), k, gotSpec[k], v)
		}
	}
	if _, ok := obj.(*v1alpha1.NetworkChaos); ok && gotSpec["partitionBehavior"] != "drop" {
		t.Errorf("%s: partitionBehavior defaulted to %v, want drop (packets vanish, as in a real partition)", obj.GetName(), gotSpec["partitionBehavior"])
	}
}

// assertSchemaRejects wants the API server's 422 naming the field and value.
func assertSchemaRejects(t *testing.T, err error, field, value string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want the API server to reject %s %q as invalid, got %v", field, value, err)
	}
	if msg := err.Error(); !strings.Contains(msg, field) || !strings.Contains(msg, value) {
		t.Errorf("rejection %q does not name %s %q", msg, field, value)
	}
}
