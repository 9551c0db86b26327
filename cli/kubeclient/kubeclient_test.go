package kubeclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/internal/silentapi"
)

// silentServer stands in for an API server that accepts connections and
// never answers (a hung apiserver, a black-holing load balancer). It returns
// its URL.
func silentServer(t *testing.T) string { return "http://" + silentapi.Listen(t) }

func TestPingSilentServerNamesIt(t *testing.T) {
	t.Parallel()
	url := silentServer(t)
	start := time.Now()
	err := ping(t.Context(), WithConnectTimeout(&rest.Config{Host: url}), "lab-a", 300*time.Millisecond)
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("ping a silent server = %v, want ErrNoAnswer", err)
	}
	for _, want := range []string{url, "(context lab-a)", "did not answer within 300ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ping took %s with a 300ms timeout", d)
	}
}

func TestPingRefusedIsNoAnswer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	err = ping(t.Context(), &rest.Config{Host: "http://" + addr}, "", time.Second)
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), addr) {
		t.Errorf("ping a closed port = %v, want ErrNoAnswer naming %s", err, addr)
	}
}

func TestPingAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		wantErr  bool
		noAnswer bool
	}{
		{"version", http.StatusOK, false, false},
		{"credentials refused", http.StatusUnauthorized, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/version" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				if tc.status == http.StatusOK {
					_, _ = w.Write([]byte(`{"major":"1","minor":"33","gitVersion":"v1.33.0"}`))
					return
				}
				_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`))
			}))
			t.Cleanup(srv.Close)
			err := ping(t.Context(), &rest.Config{Host: srv.URL}, "c", time.Second)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ping = %v, want error %t", err, tc.wantErr)
			}
			if err != nil && (errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "answered")) {
				t.Errorf("a server that answered with an error: %v", err)
			}
		})
	}
}

func TestPingCanceledIsNotTheCluster(t *testing.T) {
	t.Parallel()
	url := silentServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := ping(ctx, &rest.Config{Host: url}, "", 10*time.Second)
	if err == nil || errors.Is(err, ErrNoAnswer) || !errors.Is(err, context.Canceled) {
		t.Errorf("ping canceled by the caller = %v, want context.Canceled, not ErrNoAnswer", err)
	}
}

func TestLoadSetsConnectTimeoutAndNamesContext(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: current
  context: {cluster: c, user: u}
- name: other
  context: {cluster: c, user: u}
current-context: current
users:
- name: u
  user: {token: x}
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ flag, want string }{{"", "current"}, {"other", "other"}} {
		c, err := Load(path, tc.flag)
		if err != nil {
			t.Fatal(err)
		}
		if c.Context != tc.want || c.Config.Host != "https://127.0.0.1:1" {
			t.Errorf("Load(%q) = context %q host %q, want %q", tc.flag, c.Context, c.Config.Host, tc.want)
		}
		if c.Config.Dial == nil {
			t.Error("Load left the dialer without a connect timeout")
		}
		if c.Config.Timeout != 0 {
			t.Errorf("Load set rest.Config.Timeout %s, which would cut watches and port-forwards", c.Config.Timeout)
		}
	}
	if _, err := Load(path, "missing"); err == nil {
		t.Error("Load with a context the file does not have: no error")
	}
}

func TestInClusterNeedsServiceEnvTokenAndNoKubeconfig(t *testing.T) {
	t.Parallel()
	home, saDir := t.TempDir(), t.TempDir()
	token := filepath.Join(saDir, "token")
	if err := os.WriteFile(token, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	podEnv := map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		homeConfig bool
		noToken    bool
		want       bool
	}{
		{name: "pod with a mounted token", env: podEnv, want: true},
		{name: "no service env (not in a pod)", env: map[string]string{}, want: false},
		{name: "host without port", env: map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1"}, want: false},
		{name: "automountServiceAccountToken false", env: podEnv, noToken: true, want: false},
		{name: "KUBECONFIG set wins", env: map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443", "KUBECONFIG": "/k"}, want: false},
		{name: "~/.kube/config wins", env: podEnv, homeConfig: true, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			exists := func(p string) bool {
				switch p {
				case filepath.Join(home, ".kube", "config"):
					return tc.homeConfig
				case token:
					return !tc.noToken
				}
				return false
			}
			if got := inCluster(lookup, exists, home, saDir); got != tc.want {
				t.Errorf("inCluster = %t, want %t", got, tc.want)
			}
		})
	}
}
