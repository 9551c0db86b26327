// Package etcdtest starts a real single-member etcd, embedded in the test
// process and serving on loopback, for the tests of the packages that back
// etcd up or talk to it.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Start starts a single-member etcd cluster serving clients on loopback,
// over TLS with clientTLS when it is set (a server certificate, and a CA
// to ask clients for certificates from), and returns its client URL. It
// stops with the test.
func Start(t testing.TB, name string, clientTLS *transport.TLSInfo) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir, cfg.LogLevel = name, t.TempDir(), "error"
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", LoopbackPort(t)))
	scheme := "http"
	if clientTLS != nil {
		scheme = "https"
	}
	cu, _ := url.Parse(fmt.Sprintf("%s://127.0.0.1:%d", scheme, LoopbackPort(t)))
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.InitialCluster, cfg.InitialClusterToken = name+"="+pu.String(), name
	if clientTLS != nil {
		cfg.ClientTLSInfo = *clientTLS
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		t.Fatal("etcd did not start")
	}
	return cu.String()
}

// LoopbackPort is a free TCP port on 127.0.0.1.
func LoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
