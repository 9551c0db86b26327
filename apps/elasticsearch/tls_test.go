package elasticsearch_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
	"github.com/reboundhq/rebound/internal/testpki"
)

// The stand-in for Elasticsearch serves HTTPS with a certificate for its
// Service's name (search-es-http.search.svc), as ECK does by default, and
// the driver dials https://127.0.0.1:<port>, as it dials pod IPs and
// port-forwards: it must verify the name it is told, present a client
// certificate to a cluster that asks for one, and say which field to fix
// when the name or the CA is wrong. A write refused for TLS was certainly
// not applied.
func TestDriverOverHTTPSWithACertificateForTheServiceName(t *testing.T) {
	t.Parallel()
	ca, other, clients := testpki.NewCA(t, "ECK http CA"), testpki.NewCA(t, "another CA"), testpki.NewCA(t, "client CA")
	server := ca.Server(t, "search-es-http.search.svc", "search-es-http")
	client := clients.Client(t, "rebound")
	plain := newFakeElasticsearchTLS(t, &tls.Config{Certificates: []tls.Certificate{server.TLS(t)}})
	mutual := newFakeElasticsearchTLS(t, &tls.Config{Certificates: []tls.Certificate{server.TLS(t)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients.Pool()})
	const name = "search-es-http.search.svc"

	tests := []struct {
		name    string
		f       *fakeElasticsearch
		cfg     apps.Config
		wantErr []string
	}{
		{name: "the Service name and ECK's CA", f: plain, cfg: apps.Config{CACert: ca.PEM, ServerName: name}},
		{name: "a client certificate the cluster asks for", f: mutual,
			cfg: apps.Config{CACert: ca.PEM, ServerName: name, ClientCert: client.CertPEM, ClientKey: client.KeyPEM}},
		{name: "a wrong server name", f: plain, cfg: apps.Config{CACert: ca.PEM, ServerName: "search-es-http.other.svc"},
			wantErr: []string{`not "search-es-http.other.svc"`, "set target.endpoints.tls.serverName"}},
		{name: "no server name: the dialled address is not in the certificate", f: plain, cfg: apps.Config{CACert: ca.PEM},
			wantErr: []string{`not the dialled host "127.0.0.1"`, "set target.endpoints.tls.serverName"}},
		{name: "an unknown CA", f: plain, cfg: apps.Config{CACert: other.PEM, ServerName: name},
			wantErr: []string{"not signed by the CA in ca.crt of target.endpoints.secretRef"}},
		{name: "no client certificate for a cluster that asks for one", f: mutual, cfg: apps.Config{CACert: ca.PEM, ServerName: name},
			wantErr: []string{"the server asks for a client certificate", "tls.crt and tls.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Endpoints = apps.Endpoints{URLs: []string{tt.f.URL}, Pods: []string{"search-es-default-0"}}
			cfg.Prefix = runPrefix
			d, err := elasticsearch.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = d.Write(ctx, "id-1")
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("write: %v", err)
				}
				if _, ok := tt.f.index(d.Index()); !ok {
					t.Fatalf("the stand-in has no index %s after the write", d.Index())
				}
				return
			}
			if err == nil {
				t.Fatal("write succeeded; want the connection refused")
			}
			if errors.Is(err, apps.ErrIndeterminate) {
				t.Errorf("a write refused for TLS is reported as of unknown outcome: %v", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// A TLS setting that cannot work is refused when the driver is made.
func TestNewRefusesBadTLSMaterial(t *testing.T) {
	t.Parallel()
	cfg := apps.Config{Endpoints: apps.Endpoints{URLs: []string{"https://127.0.0.1:9200"}}, Prefix: runPrefix, CACert: []byte("not a certificate")}
	if _, err := elasticsearch.New(cfg); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("New = %v, want an error saying ca.crt holds no PEM certificate", err)
	}
}
