package chaosmesh

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var (
	meta     = Meta{Namespace: "rebound-demo", Name: "f1", RunID: "run-42"}
	etcdPods = map[string]string{"app.kubernetes.io/name": "etcd"}
)

// sent reads a field of the object as it is sent to the cluster, which is
// what Chaos Mesh sees.
func sent(t *testing.T, obj Object, path ...string) any {
	t.Helper()
	u, err := Unstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	v, found, err := unstructured.NestedFieldNoCopy(u.Object, path...)
	if err != nil {
		t.Fatalf("%v: %v", path, err)
	}
	if !found {
		return nil
	}
	return v
}

func TestBuilders(t *testing.T) {
	t.Parallel()
	zoneSel := map[string]string{"app.kubernetes.io/name": "etcd"}
	zone := ZonePartition(meta, "lab-1b", "rebound-demo", zoneSel, 90*time.Second)
	zoneSel["app.kubernetes.io/name"] = "changed after the build"

	cases := []struct {
		name     string
		obj      Object
		kind     string
		action   string
		duration any            // nil: none
		fields   map[string]any // dotted path -> value as sent
		absent   []string       // dotted paths that must not be sent
	}{
		{
			name: "zone partition", obj: zone, kind: "NetworkChaos", action: "partition", duration: "1m30s",
			fields: map[string]any{
				"spec.direction":                      "both",
				"spec.mode":                           "all",
				"spec.selector.namespaces":            []any{"rebound-demo"},
				"spec.selector.labelSelectors":        map[string]any{"app.kubernetes.io/name": "etcd"},
				"spec.selector.nodeSelectors":         map[string]any{"topology.kubernetes.io/zone": "lab-1b"},
				"spec.target.mode":                    "all",
				"spec.target.selector.namespaces":     []any{"rebound-demo"},
				"spec.target.selector.labelSelectors": map[string]any{"app.kubernetes.io/name": "etcd"},
				"spec.target.selector.expressionSelectors": []any{
					map[string]any{"key": "topology.kubernetes.io/zone", "operator": "Exists"},
					map[string]any{"key": "topology.kubernetes.io/zone", "operator": "NotIn", "values": []any{"lab-1b"}},
				},
			},
			absent: []string{"spec.partitionBehavior", "spec.target.selector.nodeSelectors", "spec.selector.expressionSelectors", "status"},
		},
		{
			name: "pod partition", obj: PodPartition(meta, "rebound-demo", "etcd-1", 20*time.Second),
			kind: "NetworkChaos", action: "partition", duration: "20s",
			fields: map[string]any{
				"spec.direction":     "both",
				"spec.selector.pods": map[string]any{"rebound-demo": []any{"etcd-1"}},
			},
			absent: []string{"spec.target", "spec.externalTargets", "spec.selector.labelSelectors"},
		},
		{
			name: "pod kill", obj: PodKill(meta, "rebound-demo", "etcd-2"), kind: "PodChaos", action: "pod-kill",
			fields: map[string]any{"spec.selector.pods": map[string]any{"rebound-demo": []any{"etcd-2"}}, "spec.mode": "all"},
			absent: []string{"spec.gracePeriod"},
		},
		{
			name: "io errors", obj: IOErrors(meta, "rebound-demo", etcdPods, "/var/lib/etcd", 50, 5, time.Minute),
			kind: "IOChaos", action: "fault", duration: "1m0s",
			fields: map[string]any{
				"spec.errno": int64(5), "spec.percent": int64(50), "spec.volumePath": "/var/lib/etcd",
				"spec.selector.labelSelectors": map[string]any{"app.kubernetes.io/name": "etcd"},
				"spec.selector.namespaces":     []any{"rebound-demo"},
			},
			absent: []string{"spec.delay", "spec.path"},
		},
		{
			name: "io latency", obj: IOLatency(meta, "rebound-demo", etcdPods, "/var/lib/etcd", 100, 250*time.Millisecond, 2*time.Minute),
			kind: "IOChaos", action: "latency", duration: "2m0s",
			fields: map[string]any{"spec.delay": "250ms", "spec.percent": int64(100), "spec.volumePath": "/var/lib/etcd"},
			absent: []string{"spec.errno"},
		},
		{
			name: "azure vm stop", obj: AzureVMStop(meta, "sub-1", "rg-1", "vm-1", "azure-creds", 5*time.Minute),
			kind: "AzureChaos", action: "vm-stop", duration: "5m0s",
			fields: map[string]any{"spec.subscriptionID": "sub-1", "spec.resourceGroupName": "rg-1", "spec.vmName": "vm-1", "spec.secretName": "azure-creds"},
		},
		{
			name: "aws ec2 stop", obj: AWSEC2Stop(meta, "eu-west-1", "i-0abc", "", 5*time.Minute),
			kind: "AWSChaos", action: "ec2-stop", duration: "5m0s",
			fields: map[string]any{"spec.awsRegion": "eu-west-1", "spec.ec2Instance": "i-0abc"},
			absent: []string{"spec.secretName"}, // Chaos Mesh then uses its own identity
		},
		{
			name: "gcp node stop", obj: GCPNodeStop(meta, "proj", "europe-west1-b", "node-1", "gcp-creds", 5*time.Minute),
			kind: "GCPChaos", action: "node-stop", duration: "5m0s",
			fields: map[string]any{"spec.project": "proj", "spec.zone": "europe-west1-b", "spec.instance": "node-1", "spec.secretName": "gcp-creds"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sent(t, tc.obj, "kind"); got != tc.kind {
				t.Errorf("kind %v, want %s", got, tc.kind)
			}
			if got := sent(t, tc.obj, "apiVersion"); got != "chaos-mesh.org/v1alpha1" {
				t.Errorf("apiVersion %v", got)
			}
			if got := sent(t, tc.obj, "spec", "action"); got != tc.action {
				t.Errorf("action %v, want %s", got, tc.action)
			}
			if got := sent(t, tc.obj, "spec", "duration"); got != tc.duration {
				t.Errorf("duration %v, want %v", got, tc.duration)
			}
			want := map[string]any{LabelRun: "run-42", LabelManagedBy: "rebound"}
			if got := sent(t, tc.obj, "metadata", "labels"); !reflect.DeepEqual(got, want) {
				t.Errorf("labels %v, want %v", got, want)
			}
			if got := sent(t, tc.obj, "metadata", "namespace"); got != "rebound-demo" {
				t.Errorf("namespace %v", got)
			}
			for path, w := range tc.fields {
				if got := sent(t, tc.obj, strings.Split(path, ".")...); !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", path, got, w)
				}
			}
			for _, path := range tc.absent {
				if got := sent(t, tc.obj, strings.Split(path, ".")...); got != nil {
					t.Errorf("%s = %#v, want it absent", path, got)
				}
			}
			if err := Validate(tc.obj); err != nil {
				t.Errorf("a built object does not validate: %v", err)
			}
		})
	}
}
