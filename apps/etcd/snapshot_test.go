package etcd

import (
	"bytes"
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
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/reboundhq/rebound/apps"

	"github.com/reboundhq/rebound/internal/etcdtest"
	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// loopbackCert writes a self-signed certificate for 127.0.0.1 and returns
// its files and a pool trusting it.
func loopbackCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

// writerStandIn stands in for the backup engine's BackupWriter: it keeps
// the objects added and counts the cuts.
type writerStandIn struct {
	objects map[string][]byte
	cuts    int
}

func (w *writerStandIn) AddObject(_ context.Context, name string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if w.objects == nil {
		w.objects = map[string][]byte{}
	}
	w.objects[name] = b
	return nil
}
func (w *writerStandIn) Cut()                                { w.cuts++ }
func (w *writerStandIn) Progress(string, int64, int64, bool) {}

var _ apps.BackupWriter = (*writerStandIn)(nil)

// TestEtcdOverTLSSnapshotAndCutReadGoToOneMember: two etcd clusters over
// TLS stand in for two members that differ (one lagging); the client has
// both. The snapshot must come from the member whose linearizable read
// fixed the cut, as it does over http: its revision and its content.
func TestEtcdOverTLSSnapshotAndCutReadGoToOneMember(t *testing.T) {
	certFile, keyFile, pool := loopbackCert(t)
	t.Run("tls", func(t *testing.T) {
		snapshotAndCutOnOneMember(t, &transport.TLSInfo{CertFile: certFile, KeyFile: keyFile}, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	})
	t.Run("http", func(t *testing.T) { snapshotAndCutOnOneMember(t, nil, nil) })
}

func snapshotAndCutOnOneMember(t *testing.T, serverTLS *transport.TLSInfo, tlsCfg *tls.Config) {
	epA := etcdtest.Start(t, "a", serverTLS)
	epB := etcdtest.Start(t, "b", serverTLS)
	ctx := context.Background()
	put := func(ep, key string, n int) int64 {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var rev int64
		for i := range n {
			r, err := c.Put(ctx, fmt.Sprintf("%s-%d", key, i), key)
			if err != nil {
				t.Fatal(err)
			}
			rev = r.Header.Revision
		}
		return rev
	}
	revA := put(epA, "only-in-member-a", 3)
	revB := put(epB, "only-in-member-b", 40)
	if revA == revB {
		t.Fatal("the two members must differ")
	}
	base, err := clientv3.New(clientv3.Config{Endpoints: []string{epA, epB}, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()

	// A balancer alternates between the members: several backups make a
	// snapshot from another member than the read all but certain.
	for i := range 6 {
		w := &writerStandIn{}
		d, err := snapshot(ctx, base, w)
		if err != nil {
			t.Fatal(err)
		}
		if d.Endpoint != epA || d.Position != strconv.FormatInt(revA, 10) || w.cuts != 1 {
			t.Errorf("backup %d: cut read on %s at revision %s (%d cuts), want member a (%s) at %d, one cut", i, d.Endpoint, d.Position, w.cuts, epA, revA)
		}
		if d.Kind != SnapshotKind || len(d.Objects) != 1 || d.Objects[0] != SnapshotObject || d.Size != int64(len(w.objects[SnapshotObject])) {
			t.Errorf("backup %d: native data %+v, want one %s object of its size", i, d, SnapshotObject)
		}
		snap := w.objects[SnapshotObject]
		if !bytes.Contains(snap, []byte("only-in-member-a")) || bytes.Contains(snap, []byte("only-in-member-b")) {
			t.Errorf("backup %d: the snapshot is not member a's, whose read fixed the cut", i)
		}
	}
}
