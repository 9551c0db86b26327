package etcd

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/internal/etcdtest"
	"github.com/reboundhq/rebound/internal/testpki"
)

// startTLSMember starts a one-member etcd, in process, serving clients
// over TLS on a loopback port with the certificate of pair, asking for a
// client certificate from clientCA when it is set, and returns its client
// URL: https://127.0.0.1:<port>, an address the certificate is not for.
func startTLSMember(t *testing.T, pair testpki.Pair, clientCA *testpki.CA) string {
	t.Helper()
	certFile, keyFile := pair.Files(t)
	info := &transport.TLSInfo{CertFile: certFile, KeyFile: keyFile}
	if clientCA != nil {
		info.TrustedCAFile, info.ClientCertAuth = clientCA.WriteCA(t), true
	}
	return etcdtest.Start(t, "default", info)
}

// A real etcd serves TLS with a certificate for its Service's name
// (etcd.demo.svc), as real clusters do, and the driver dials 127.0.0.1, as
// it dials pod IPs and port-forwards: it must verify the name it is told,
// present a client certificate when the member asks for one, and say
// which field to fix when the name or the CA is wrong.
func TestDriverOverTLSWithACertificateForTheServiceName(t *testing.T) {
	ca, other, clients := testpki.NewCA(t, "etcd CA"), testpki.NewCA(t, "another CA"), testpki.NewCA(t, "etcd client CA")
	server := ca.Server(t, "etcd.demo.svc", "etcd.demo.svc.cluster.local")
	client := clients.Client(t, "rebound")
	plain := startTLSMember(t, server, nil)
	mutual := startTLSMember(t, server, clients)

	tests := []struct {
		name    string
		url     string
		cfg     apps.Config
		wantErr []string
	}{
		{name: "the Service name and its CA", url: plain, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc"}},
		{name: "a client certificate the member asks for", url: mutual,
			cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc", ClientCert: client.CertPEM, ClientKey: client.KeyPEM}},
		{name: "a wrong server name", url: plain, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.other.svc"},
			wantErr: []string{`not "etcd.other.svc"`, "set target.endpoints.tls.serverName"}},
		{name: "no server name: the dialled address is not in the certificate", url: plain, cfg: apps.Config{CACert: ca.PEM},
			wantErr: []string{`not the dialled host "127.0.0.1"`, "set target.endpoints.tls.serverName"}},
		{name: "an unknown CA", url: plain, cfg: apps.Config{CACert: other.PEM, ServerName: "etcd.demo.svc"},
			wantErr: []string{"not signed by the CA in ca.crt of target.endpoints.secretRef"}},
		{name: "no client certificate for a member that asks for one", url: mutual, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc"},
			wantErr: []string{"the server asks for a client certificate", "tls.crt and tls.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Endpoints = apps.Endpoints{URLs: []string{tt.url}, Pods: []string{"etcd-0"}}
			cfg.Prefix = "/rebound/tls-run"
			// A refused connection fails the write at its deadline: gRPC
			// waits for a connection until then.
			wait := 20 * time.Second
			if len(tt.wantErr) > 0 {
				wait = 4 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			d, err := New(ctx, cfg)
			if err == nil {
				defer d.Close()
				err = d.Write(ctx, "id-1")
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("write: %v", err)
				}
				ids, err := d.ReadAll(ctx)
				if err != nil || len(ids) != 1 || ids[0] != "id-1" {
					t.Fatalf("read back %v, %v; want [id-1]", ids, err)
				}
				return
			}
			if err == nil {
				t.Fatal("write succeeded; want the connection refused")
			}
			t.Log(err)
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}
