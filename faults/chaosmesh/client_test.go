package chaosmesh

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	noRun := Meta{Namespace: "ns", Name: "f"}
	cases := []struct {
		name string
		obj  Object
		want []string // in the error, each
	}{
		{"no duration: Chaos Mesh would never end it", ZonePartition(meta, "z", "ns", etcdPods, 0),
			[]string{"spec.duration: Required value"}},
		{"negative duration", PodPartition(meta, "ns", "p", -time.Second), []string{"spec.duration: Required value"}},
		{"unparsable duration", func() Object {
			c := AWSEC2Stop(meta, "r", "i", "", time.Minute)
			soon := "soon"
			c.Spec.Duration = &soon
			return c
		}(), []string{"chaos mesh webhook", "Spec.Duration", `"soon"`}},
		{"negative duration set by hand", func() Object {
			c := GCPNodeStop(meta, "p", "z", "i", "", time.Minute)
			neg := "-1s"
			c.Spec.Duration = &neg
			return c
		}(), []string{`spec.duration: Invalid value: "-1s": must be positive`}},
		{"no run id: cleanup could not find it", PodKill(noRun, "ns", "p"),
			[]string{"metadata.labels[rebound.dev/run]: Required value"}},
		{"not managed by rebound", func() Object {
			c := PodKill(meta, "ns", "p")
			c.Labels[LabelManagedBy] = "helm"
			return c
		}(), []string{`metadata.labels[app.kubernetes.io/managed-by]: Unsupported value: "helm"`}},
		{"no name, no namespace", PodKill(Meta{RunID: "r"}, "ns", "p"),
			[]string{"metadata.name: Required value", "metadata.namespace: Required value"}},
		{"empty pod name", PodKill(meta, "ns", ""), []string{"spec.selector.pods[ns][0]: Required value"}},
		{"empty zone", ZonePartition(meta, "", "ns", etcdPods, time.Minute),
			[]string{"spec.selector.nodeSelectors[topology.kubernetes.io/zone]: Required value"}},
		{"percent 0 would become 100", IOErrors(meta, "ns", etcdPods, "/d", 0, 5, time.Minute), []string{"spec.percent: Invalid value: 0"}},
		{"percent over 100", IOLatency(meta, "ns", etcdPods, "/d", 101, time.Millisecond, time.Minute), []string{"spec.percent"}},
		{"errno 0 (Chaos Mesh's own rule)", IOErrors(meta, "ns", etcdPods, "/d", 10, 0, time.Minute),
			[]string{"chaos mesh webhook", "errno 0 is not supported"}},
		{"azure without secret", AzureVMStop(meta, "s", "g", "v", "", time.Minute), []string{"spec.secretName: Required value"}},
		{"aws without instance", AWSEC2Stop(meta, "r", "", "", time.Minute), []string{"spec.ec2Instance: Required value"}},
		{"gcp without project and instance", GCPNodeStop(meta, "", "z", "", "", time.Minute),
			[]string{"spec.project: Required value", "spec.instance: Required value"}},
		{"every problem at once", ZonePartition(Meta{Namespace: "ns", Name: "f"}, "", "ns", nil, 0),
			[]string{"rebound.dev/run", "spec.duration", "nodeSelectors"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tc.obj)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestGVR(t *testing.T) {
	t.Parallel()
	cases := []struct {
		obj  Object
		want string
	}{
		{&v1alpha1.NetworkChaos{}, "networkchaos"},
		{&v1alpha1.PodChaos{}, "podchaos"},
		{&v1alpha1.IOChaos{}, "iochaos"},
		{&v1alpha1.AzureChaos{}, "azurechaos"},
		{&v1alpha1.AWSChaos{}, "awschaos"},
		{&v1alpha1.GCPChaos{}, "gcpchaos"},
	}
	for _, tc := range cases {
		gvr, err := GVR(tc.obj)
		if err != nil {
			t.Fatal(err)
		}
		if want := (schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: tc.want}); gvr != want {
			t.Errorf("%T: %v, want %v", tc.obj, gvr, want)
		}
	}
}

// A hand-made object without TypeMeta still converts with its kind, and
// nothing the controller owns or the server sets is sent.
func TestUnstructured(t *testing.T) {
	t.Parallel()
	c := PodKill(meta, "ns", "p")
	c.TypeMeta = metav1.TypeMeta{}
	u, err := Unstructured(c)
	if err != nil {
		t.Fatal(err)
	}
	if u.GetAPIVersion() != "chaos-mesh.org/v1alpha1" || u.GetKind() != "PodChaos" {
		t.Errorf("apiVersion %q kind %q", u.GetAPIVersion(), u.GetKind())
	}
	if _, ok := u.Object["status"]; ok {
		t.Error("status is sent")
	}
	if _, ok := u.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
		t.Error("creationTimestamp is sent")
	}
	_ = u.DeepCopy() // panics on values JSON would not produce, such as uint32
}

func fakeDynamic() *dynamicfake.FakeDynamicClient {
	s := runtime.NewScheme()
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(s, map[schema.GroupVersionResource]string{
		v1alpha1.SchemeGroupVersion.WithResource("networkchaos"): "NetworkChaosList",
		v1alpha1.SchemeGroupVersion.WithResource("iochaos"):      "IOChaosList",
	})
}

func TestCreateAndDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dyn := fakeDynamic()
	gvr := v1alpha1.SchemeGroupVersion.WithResource("networkchaos")
	obj := PodPartition(meta, "rebound-demo", "etcd-0", time.Minute)

	if err := Create(ctx, dyn, obj); err != nil {
		t.Fatal(err)
	}
	got, err := dyn.Resource(gvr).Namespace(meta.Namespace).Get(ctx, meta.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the created object is not there: %v", err)
	}
	if got.GetLabels()[LabelRun] != "run-42" {
		t.Errorf("labels %v", got.GetLabels())
	}
	if err := Create(ctx, dyn, obj); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	if err := Delete(ctx, dyn, obj); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(gvr).Namespace(meta.Namespace).Get(ctx, meta.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v, want NotFound", err)
	}
	if err := Delete(ctx, dyn, obj); err != nil {
		t.Errorf("deleting what is gone: %v, want no error", err)
	}
}

func TestCreateInvalidNeverReachesTheCluster(t *testing.T) {
	t.Parallel()
	dyn := fakeDynamic()
	err := Create(context.Background(), dyn, IOErrors(meta, "ns", etcdPods, "/d", 50, 5, 0))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create = %v, want ErrInvalid", err)
	}
	if a := dyn.Actions(); len(a) != 0 {
		t.Errorf("the cluster was called: %v", a)
	}
}

func TestCreateWithoutTheCRDSaysHowToInstallIt(t *testing.T) {
	t.Parallel()
	dyn := fakeDynamic()
	// A cluster without the CRD answers 404 for the resource.
	dyn.PrependReactor("create", "networkchaos", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{}, "")
	})
	err := Create(context.Background(), dyn, PodPartition(meta, "rebound-demo", "etcd-0", time.Minute))
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "serves no networkchaos") || !strings.Contains(err.Error(), "chaos-mesh.org_networkchaos.yaml") {
		t.Errorf("Create without the CRD = %v, want NotFound naming the CRD to install", err)
	}
}
