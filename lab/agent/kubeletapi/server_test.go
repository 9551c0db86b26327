package kubeletapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// testCA is a certificate authority for the tests' client and serving
// certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate for usage, returning it as PEM with its key.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// podsStandIn stands in for the node agent: one pod "ns/p" with container
// "c" whose log files and process the test sets.
type podsStandIn struct {
	ctr     Container
	command func(argv []string) *exec.Cmd
	exited  <-chan struct{} // of the container, for exec
	addr    string
	execErr error
}

func (p *podsStandIn) Container(node, ns, pod, name string) (Container, error) {
	if node != "node-1" || ns != "ns" || pod != "p" || name != "c" {
		return Container{}, fmt.Errorf("%w: %s/%s/%s on %s", ErrNotFound, ns, pod, name, node)
	}
	return p.ctr, nil
}

func (p *podsStandIn) Exec(node, ns, pod, name string, cmd []string) (Process, error) {
	if _, err := p.Container(node, ns, pod, name); err != nil {
		return Process{}, err
	}
	if p.execErr != nil {
		return Process{}, p.execErr
	}
	return Process{UID: "uid-1", Cmd: p.command(cmd), Exited: p.exited}, nil
}

func (p *podsStandIn) Addr(node, ns, pod string) (string, types.UID, error) {
	if _, err := p.Container(node, ns, pod, "c"); err != nil {
		return "", "", err
	}
	return p.addr, "uid-1", nil
}

// harness runs a Server for node-1 on a loopback port with a serving
// certificate of ca, and returns a rest.Config whose client certificate
// ca signed.
type harness struct {
	ca   *testCA
	pods *podsStandIn
	url  string
	rc   *rest.Config
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ca := newTestCA(t, "cluster-ca")
	servCert, servKey := ca.issue(t, "system:node:node-1", x509.ExtKeyUsageServerAuth)
	crt, err := tls.X509KeyPair(servCert, servKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	pods := &podsStandIn{ctr: Container{UID: "uid-1"}}
	srv := &Server{
		Node: "node-1", Pods: pods, Dial: (&net.Dialer{}).DialContext,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ClientCAs: pool, Cert: crt,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	clientCert, clientKey := ca.issue(t, "kube-apiserver-kubelet-client", x509.ExtKeyUsageClientAuth)
	url := "https://" + l.Addr().String()
	return &harness{ca: ca, pods: pods, url: url, rc: &rest.Config{
		Host:            url,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.pem, CertData: clientCert, KeyData: clientKey},
	}}
}

// client is an HTTP client trusting the harness's CA, presenting cert (if any).
func (h *harness) client(t *testing.T, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.ca.pem)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

func (h *harness) get(t *testing.T, c *http.Client, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(h.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t)
	good, err := tls.X509KeyPair(h.rc.CertData, h.rc.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := newTestCA(t, "not-the-cluster-ca")
	oc, ok := otherCA.issue(t, "intruder", x509.ExtKeyUsageClientAuth)
	other, err := tls.X509KeyPair(oc, ok)
	if err != nil {
		t.Fatal(err)
	}
	serverOnlyPEM, serverOnlyKey := h.ca.issue(t, "a-server", x509.ExtKeyUsageServerAuth)
	serverOnly, err := tls.X509KeyPair(serverOnlyPEM, serverOnlyKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cert *tls.Certificate
		want int
	}{
		"a client certificate of the cluster's CA":             {&good, http.StatusOK},
		"no client certificate":                                {nil, http.StatusUnauthorized},
		"a client certificate of another CA":                   {&other, http.StatusUnauthorized},
		"a certificate of the cluster's CA not for client use": {&serverOnly, http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			if code, body := h.get(t, h.client(t, tc.cert), "/healthz"); code != tc.want {
				t.Errorf("GET /healthz: %d %q, want %d", code, body, tc.want)
			}
		})
	}
}

func TestLogs(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	cur, prev := filepath.Join(dir, "c.log"), filepath.Join(dir, "c.previous.log")
	if err := os.WriteFile(cur, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prev, []byte("before the restart\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, _ := tls.X509KeyPair(h.rc.CertData, h.rc.KeyData)
	c := h.client(t, &cert)
	for name, tc := range map[string]struct {
		ctr      Container
		query    string
		code     int
		body     string // the whole body for 200, a part of it otherwise
		resource string
	}{
		"all of it":               {Container{Log: cur}, "", 200, "one\ntwo\nthree\n", ""},
		"tail":                    {Container{Log: cur}, "?tailLines=2", 200, "two\nthree\n", ""},
		"tail 0":                  {Container{Log: cur}, "?tailLines=0", 200, "", ""},
		"tail more than there is": {Container{Log: cur}, "?tailLines=10", 200, "one\ntwo\nthree\n", ""},
		"limit bytes":             {Container{Log: cur}, "?limitBytes=5", 200, "one\nt", ""},
		"tail and limit":          {Container{Log: cur}, "?tailLines=1&limitBytes=3", 200, "thr", ""},
		"previous":                {Container{Log: cur, PreviousLog: prev}, "?previous=true", 200, "before the restart\n", ""},
		"previous of a container never restarted": {Container{Log: cur}, "?previous=true", 400, `previous terminated container "c" in pod "p" not found`, ""},
		"not started":            {Container{Log: filepath.Join(dir, "missing.log")}, "", 400, "has not started yet", ""},
		"timestamps":             {Container{Log: cur}, "?timestamps=true", 400, "--timestamps, --since and --since-time are not supported", ""},
		"since":                  {Container{Log: cur}, "?sinceSeconds=10", 400, "not supported", ""},
		"bad tail":               {Container{Log: cur}, "?tailLines=x", 400, "tailLines", ""},
		"another container":      {Container{Log: cur}, "", 404, "not found", "/containerLogs/ns/p/other"},
		"a pod not on this node": {Container{Log: cur}, "", 404, "not found", "/containerLogs/ns/elsewhere/c"},
	} {
		t.Run(name, func(t *testing.T) {
			h.pods.ctr = tc.ctr
			res := tc.resource
			if res == "" {
				res = "/containerLogs/ns/p/c"
			}
			code, body := h.get(t, c, res+tc.query)
			if code != tc.code {
				t.Fatalf("status %d (%q), want %d", code, body, tc.code)
			}
			if code == 200 && body != tc.body || code != 200 && !strings.Contains(body, tc.body) {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
}

func TestLogsFollowUntilTheContainerExits(t *testing.T) {
	h := newHarness(t)
	cur := filepath.Join(t.TempDir(), "c.log")
	f, err := os.Create(cur)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, "first")
	exited := make(chan struct{})
	h.pods.ctr = Container{Log: cur, Exited: exited}
	cert, _ := tls.X509KeyPair(h.rc.CertData, h.rc.KeyData)
	resp, err := h.client(t, &cert).Get(h.url + "/containerLogs/ns/p/c?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(resp.Body, buf, len("first\n"))
	if err != nil || string(buf[:n]) != "first\n" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	// Lines written while following arrive; the stream ends once the
	// container exits, with what it wrote last.
	fmt.Fprintln(f, "second")
	n, err = io.ReadAtLeast(resp.Body, buf, len("second\n"))
	if err != nil || string(buf[:n]) != "second\n" {
		t.Fatalf("second read: %q, %v", buf[:n], err)
	}
	fmt.Fprintln(f, "last words")
	close(exited)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "last words\n" {
		t.Fatalf("after the exit: %q, %v", rest, err)
	}
}

func TestTailOffset(t *testing.T) {
	for _, tc := range []struct {
		text string
		n    int64
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 4, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\n\n\n", 2, "\n\n"},
		{"only\n", 0, ""},
	} {
		r := bytesReaderAt(tc.text)
		off, err := tailOffset(r, int64(len(tc.text)), tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.text[off:]; got != tc.want {
			t.Errorf("tail -n %d of %q = %q, want %q", tc.n, tc.text, got, tc.want)
		}
	}
	// Across the read buffer's edge.
	long := make([]byte, 0, 200<<10)
	for i := range 20000 {
		long = fmt.Appendf(long, "line %d\n", i)
	}
	off, err := tailOffset(bytesReaderAt(string(long)), int64(len(long)), 15000)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(long[off : off+int64(len("line 5000\n"))]); got != "line 5000\n" {
		t.Errorf("tail -n 15000 of 20000 lines starts with %q, want line 5000", got)
	}
}

type bytesReaderAt string

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
