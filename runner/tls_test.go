package runner

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/scenarios"
)

// tlsStandIn is an app driver registration standing in for one served over
// TLS on port 2379: it keeps the Config the runner connects it with.
const tlsStandIn = "tls-stand-in"

var (
	tlsConfigsMu sync.Mutex
	tlsConfigs   = map[string]apps.Config{} // by prefix
)

func init() {
	apps.Register(apps.App{Name: tlsStandIn, ClientPort: 2379, Scheme: "https", New: func(_ context.Context, cfg apps.Config) (apps.Driver, error) {
		tlsConfigsMu.Lock()
		tlsConfigs[cfg.Prefix] = cfg
		tlsConfigsMu.Unlock()
		return &fakeApp{w: &world{records: map[string]bool{}}}, nil
	}})
}

// Objects of a namespace "db" with three members labelled app=db.
func tlsPod(name string, extra map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	l := map[string]string{"app": "db"}
	for k, v := range extra {
		l[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db", Labels: l},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.20"},
	}
}

func tlsService(name string, headless bool, selector map[string]string, port int32, target intstr.IntOrString) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db"},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: []corev1.ServicePort{{Port: port, TargetPort: target}}},
	}
	if headless {
		s.Spec.ClusterIP = corev1.ClusterIPNone
	}
	return s
}

func tlsSecret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func tlsScenario(ep scenarios.Endpoints) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: "s", Source: scenarios.Source{File: "s.yaml", Line: 1},
		Target: scenarios.Target{Namespace: "db", LabelSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Driver: tlsStandIn, Endpoints: ep},
	}
}

func TestTLSForFindsTheServerNameAndTheMaterial(t *testing.T) {
	t.Parallel()
	all := map[string]string{"app": "db"}
	members := []runtime.Object{
		tlsPod("db-0", map[string]string{"role": "primary"}, corev1.ContainerPort{Name: "client", ContainerPort: 2379}),
		tlsPod("db-1", map[string]string{"role": "replica"}, corev1.ContainerPort{Name: "client", ContainerPort: 2379}),
	}
	https := scenarios.Endpoints{Mode: scenarios.EndpointModePodIP, Scheme: "https"}
	tests := []struct {
		name    string
		objs    []runtime.Object
		ep      scenarios.Endpoints
		secret  map[string][]byte
		want    apps.Config
		wantErr []string
	}{
		{
			name: "the client Service, before the headless one of the StatefulSet",
			objs: []runtime.Object{tlsService("db", true, all, 2379, intstr.FromInt32(2379)), tlsService("db-client", false, all, 2379, intstr.FromInt32(2379))},
			ep:   https, want: apps.Config{ServerName: "db-client.db.svc"},
		},
		{
			name: "a headless Service when there is no other",
			objs: []runtime.Object{tlsService("db", true, all, 2379, intstr.FromInt32(2379))},
			ep:   https, want: apps.Config{ServerName: "db.db.svc"},
		},
		{
			name: "a Service on another port, by a named target port",
			objs: []runtime.Object{tlsService("db-lb", false, all, 443, intstr.FromString("client")), tlsService("db-metrics", false, all, 9100, intstr.FromInt32(9100))},
			ep:   https, want: apps.Config{ServerName: "db-lb.db.svc"},
		},
		{
			name: "a Service for the primary alone does not name the app",
			objs: []runtime.Object{tlsService("db-primary", false, map[string]string{"app": "db", "role": "primary"}, 2379, intstr.FromInt32(2379))},
			ep:   https, wantErr: []string{"s.yaml:1: target.endpoints.tls.serverName", "no Service of db selects every pod of the app", "serves port 2379", "set it to the DNS name"},
		},
		{
			name: "two client Services (ECK's -es-http and -es-internal-http)",
			objs: []runtime.Object{tlsService("db-http", false, all, 2379, intstr.FromInt32(2379)), tlsService("db-internal-http", false, all, 2379, intstr.FromInt32(2379))},
			ep:   https, wantErr: []string{"target.endpoints.tls.serverName", "several Services", "db-http.db.svc, db-internal-http.db.svc", "set it to the one the app's certificate is for"},
		},
		{
			name: "the scenario's server name, without a look at the Services",
			ep:   scenarios.Endpoints{Mode: scenarios.EndpointModePortForward, Scheme: "https", TLS: scenarios.EndpointTLS{ServerName: "db.example.com"}},
			want: apps.Config{ServerName: "db.example.com"},
		},
		{name: "plain http verifies no name", ep: scenarios.Endpoints{Mode: scenarios.EndpointModePodIP}},
		{name: "urls verify their own host", ep: scenarios.Endpoints{Mode: scenarios.EndpointModeURLs, URLs: []string{"https://db.example.com:2379"}}},
		{
			name:   "a client certificate from secretRef, and the CA of caSecretRef trusted as well as secretRef's",
			objs:   []runtime.Object{tlsSecret("operator-ca", map[string]string{"ca.crt": "OPERATOR CA", "tls.crt": "the server's, not read"})},
			ep:     scenarios.Endpoints{Mode: scenarios.EndpointModePodIP, Scheme: "https", TLS: scenarios.EndpointTLS{ServerName: "db.db.svc", CASecret: "operator-ca"}},
			secret: map[string][]byte{"ca.crt": []byte("OWN CA"), "tls.crt": []byte("CERT"), "tls.key": []byte("KEY")},
			want:   apps.Config{ServerName: "db.db.svc", CACert: []byte("OWN CA\nOPERATOR CA"), ClientCert: []byte("CERT"), ClientKey: []byte("KEY")},
		},
		{
			name:    "a caSecretRef without ca.crt",
			objs:    []runtime.Object{tlsSecret("db-user", map[string]string{"username": "u"})},
			ep:      scenarios.Endpoints{Mode: scenarios.EndpointModePodIP, Scheme: "https", TLS: scenarios.EndpointTLS{ServerName: "db.db.svc", CASecret: "db-user"}},
			wantErr: []string{"target.endpoints.tls.caSecretRef", "Secret db/db-user has no key ca.crt"},
		},
		{
			name:    "a caSecretRef that does not exist",
			ep:      scenarios.Endpoints{Mode: scenarios.EndpointModePodIP, Scheme: "https", TLS: scenarios.EndpointTLS{ServerName: "db.db.svc", CASecret: "nope"}},
			wantErr: []string{"target.endpoints.tls.caSecretRef", `"nope" not found`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kube := fake.NewClientset(append(slices.Clone(members), tt.objs...)...)
			s := tlsScenario(tt.ep)
			sel, _ := s.Target.Selector()
			cfg := apps.Config{CACert: tt.secret["ca.crt"]}
			err := tlsFor(context.Background(), kube, s, sel, tt.secret, &cfg)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("tlsFor = nil, server name %q; want an error", cfg.ServerName)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\nlacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("tlsFor: %v", err)
			}
			if diff := cmp.Diff(tt.want, cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// resolveTarget hands the driver the Secret's login, CA and client
// certificate, and the Service's name to verify, while it dials pod IPs.
func TestResolveTargetConnectsTheDriverWithTLS(t *testing.T) {
	t.Parallel()
	all := map[string]string{"app": "db"}
	kube := fake.NewClientset(tlsPod("db-0", nil), tlsPod("db-1", nil),
		tlsService("db", true, all, 2379, intstr.FromInt32(2379)), tlsService("db-client", false, all, 2379, intstr.FromInt32(2379)),
		tlsSecret("db-login", map[string]string{"username": "rebound", "password": "pw", "ca.crt": "CA", "tls.crt": "CERT", "tls.key": "KEY"}))
	s := tlsScenario(scenarios.Endpoints{Mode: scenarios.EndpointModePodIP, Scheme: "https", Secret: "db-login"})
	opts := Options{Yes: true, AllowNamespaces: []string{"db"}, StateDir: t.TempDir(), Out: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r, err := New(opts, kube, dynfake.NewSimpleDynamicClient(runtime.NewScheme()), []*scenarios.Scenario{s})
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := r.resolveTarget(context.Background(), s, "tls-run")
	if err != nil {
		t.Fatalf("resolveTarget: %v", err)
	}
	defer tgt.Close()
	tlsConfigsMu.Lock()
	got, ok := tlsConfigs[tgt.Prefix]
	tlsConfigsMu.Unlock()
	if !ok {
		t.Fatalf("the driver was not connected with prefix %s", tgt.Prefix)
	}
	want := apps.Config{Username: "rebound", Password: "pw", CACert: []byte("CA"), ClientCert: []byte("CERT"), ClientKey: []byte("KEY"), ServerName: "db-client.db.svc"}
	got.Endpoints, got.Prefix, got.Dial = apps.Endpoints{}, "", nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("driver config (-want +got):\n%s", diff)
	}
}
