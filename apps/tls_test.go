package apps_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/internal/testpki"
)

// serveTLS stands in for an app's TLS port on loopback: it answers each
// line with "ok". Its certificate is for the Service name only, never for
// 127.0.0.1, the address the client dials.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					_, _ = c.Write([]byte("ok\n"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials addr with cfg and exchanges one line.
func roundTrip(cfg apps.Config, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc, err := cfg.TLSConfig()
	if err != nil {
		return err
	}
	d := tls.Dialer{Config: tc}
	if tc.ServerName == "" {
		// What every client does when it is told no name.
		tc.ServerName, _, _ = net.SplitHostPort(addr)
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return cfg.ExplainTLS(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		return cfg.ExplainTLS(err)
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		return cfg.ExplainTLS(err)
	}
	return nil
}

func TestTLSVerifiesTheNameItIsToldNotTheAddressItDials(t *testing.T) {
	t.Parallel()
	ca, other := testpki.NewCA(t, "app CA"), testpki.NewCA(t, "someone else's CA")
	server := ca.Server(t, "etcd.demo.svc")
	clients := testpki.NewCA(t, "client CA")
	client := clients.Client(t, "rebound")

	plain := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{server.TLS(t)}})
	mutual := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{server.TLS(t)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients.Pool()})

	tests := []struct {
		name    string
		addr    string
		cfg     apps.Config
		wantErr []string // each must be in the error; none: success
	}{
		{name: "the Service name, dialled at 127.0.0.1", addr: plain, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc"}},
		{name: "no server name verifies the dialled address", addr: plain, cfg: apps.Config{CACert: ca.PEM},
			wantErr: []string{`is for ["etcd.demo.svc"]`, `not the dialled host "127.0.0.1"`, "set target.endpoints.tls.serverName"}},
		{name: "a wrong server name", addr: plain, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.other.svc"},
			wantErr: []string{`is for ["etcd.demo.svc"], not "etcd.other.svc"`, "set target.endpoints.tls.serverName"}},
		{name: "a CA that did not sign it", addr: plain, cfg: apps.Config{CACert: other.PEM, ServerName: "etcd.demo.svc"},
			wantErr: []string{"not signed by the CA in ca.crt of target.endpoints.secretRef", "put there the PEM of the CA that signed it"}},
		{name: "no CA: the system's roots do not know it", addr: plain, cfg: apps.Config{ServerName: "etcd.demo.svc"},
			wantErr: []string{"not signed by the system's trusted roots", "as ca.crt in the Secret target.endpoints.secretRef"}},
		{name: "a client certificate the server asks for", addr: mutual, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc", ClientCert: client.CertPEM, ClientKey: client.KeyPEM}},
		{name: "no client certificate for a server that asks for one", addr: mutual, cfg: apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc"},
			wantErr: []string{"the server asks for a client certificate", "tls.crt and tls.key in the Secret target.endpoints.secretRef"}},
		{name: "a client certificate the server does not trust", addr: mutual, cfg: func() apps.Config {
			wrong := other.Client(t, "rebound")
			return apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc", ClientCert: wrong.CertPEM, ClientKey: wrong.KeyPEM}
		}(), wantErr: []string{"the server refused rebound's client certificate", "tls.crt and tls.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := roundTrip(tt.cfg, tt.addr)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("round trip: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("round trip succeeded; want it refused")
			}
			if !errors.Is(err, apps.ErrTLS) {
				t.Errorf("error does not wrap apps.ErrTLS: %v", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestTLSConfigRefusesBadMaterial(t *testing.T) {
	t.Parallel()
	ca := testpki.NewCA(t, "app CA")
	client := ca.Client(t, "rebound")
	tests := []struct {
		name    string
		cfg     apps.Config
		wantErr string
	}{
		{name: "a ca.crt with no certificate", cfg: apps.Config{CACert: []byte("not PEM")}, wantErr: "ca.crt of target.endpoints.secretRef (or of target.endpoints.tls.caSecretRef) holds no PEM certificate"},
		{name: "a key without its certificate", cfg: apps.Config{ClientKey: client.KeyPEM}, wantErr: "has tls.key but no tls.crt"},
		{name: "a certificate without its key", cfg: apps.Config{ClientCert: client.CertPEM}, wantErr: "has tls.crt but no tls.key"},
		{name: "a key of another certificate", cfg: apps.Config{ClientCert: client.CertPEM, ClientKey: ca.Client(t, "x").KeyPEM}, wantErr: "tls.crt and tls.key of target.endpoints.secretRef are not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.cfg.TLSConfig()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("TLSConfig() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}

	good := apps.Config{CACert: ca.PEM, ServerName: "etcd.demo.svc", ClientCert: client.CertPEM, ClientKey: client.KeyPEM}
	tc, err := good.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.InsecureSkipVerify || tc.ServerName != "etcd.demo.svc" || tc.RootCAs == nil || len(tc.Certificates) != 1 {
		t.Errorf("TLSConfig() = skip %v, name %q, roots %v, %d certificates; want verification for etcd.demo.svc against ca.crt with one client certificate",
			tc.InsecureSkipVerify, tc.ServerName, tc.RootCAs != nil, len(tc.Certificates))
	}
}

func TestExplainTLSLeavesOtherErrorsAlone(t *testing.T) {
	t.Parallel()
	err := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	if got := (apps.Config{}).ExplainTLS(err); got != error(err) {
		t.Errorf("ExplainTLS(%v) = %v, want it unchanged", err, got)
	}
}
