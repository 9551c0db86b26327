package mover

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/reboundhq/rebound/backup/repo"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// member is one single-member etcd cluster's identity.
type member struct {
	name, token       string
	peerURL, cliURL   string
	initialCluster    string
	peerPort, cliPort int
}

func newMember(t *testing.T) member {
	m := member{name: "etcd-0", token: "etcd-test", peerPort: freePort(t), cliPort: freePort(t)}
	m.peerURL = fmt.Sprintf("http://127.0.0.1:%d", m.peerPort)
	m.cliURL = fmt.Sprintf("http://127.0.0.1:%d", m.cliPort)
	m.initialCluster = m.name + "=" + m.peerURL
	return m
}

func startEtcd(t *testing.T, m member, dataDir string) (*clientv3.Client, func()) {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = m.name, dataDir
	cfg.InitialCluster, cfg.InitialClusterToken, cfg.ClusterState = m.initialCluster, m.token, embed.ClusterStateFlagNew
	pu, _ := url.Parse(m.peerURL)
	cu, _ := url.Parse(m.cliURL)
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.LogLevel = "error"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cli := (*clientv3.Client)(nil)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		t.Fatal("etcd did not start")
	}
	cli, err = clientv3.New(clientv3.Config{Endpoints: []string{m.cliURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cli.Close(); e.Close() }) }
	t.Cleanup(stop)
	return cli, stop
}

// TestRestoreEtcdMember backs up an etcd member, restores the snapshot
// over a volume holding other data, and starts etcd on the result.
func TestRestoreEtcdMember(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subdir string // data dir below the volume root; "" for the root itself
	}{
		{"data dir below the volume root", "data"},
		{"data dir is the volume root", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m := newMember(t)
			cli, stop := startEtcd(t, m, filepath.Join(t.TempDir(), "src"))
			const n = 200
			for i := range n {
				if _, err := cli.Put(ctx, fmt.Sprintf("/k/%04d", i), "v"); err != nil {
					t.Fatal(err)
				}
			}
			rc, err := cli.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			cli.Delete(ctx, "/k/", clientv3.WithPrefix()) // the human error, after the backup
			stop()

			key := repo.GenerateKey()
			r, err := repo.Init(ctx, filepath.Join(t.TempDir(), "repo"), key)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			w, err := r.NewSnapshot(ctx, repo.BackupOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddObject(ctx, "data/etcd/snapshot.db", bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
			s, err := w.Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}

			root := t.TempDir()
			dataDir := filepath.Join(root, tc.subdir)
			os.MkdirAll(filepath.Join(dataDir, "member"), 0o700)
			os.WriteFile(filepath.Join(dataDir, "member", "old"), []byte("stale"), 0o600)
			os.MkdirAll(filepath.Join(root, stagePrefix+"crashed"), 0o700) // an earlier crashed run
			o := EtcdMemberOptions{
				Common: Common{Token: "t1", Target: m.name}, Backup: s.ID.String(), Object: "data/etcd/snapshot.db",
				VolumeRoot: root, DataDir: dataDir, Name: m.name, InitialCluster: m.initialCluster,
				InitialClusterToken: m.token, InitialAdvertisePeerURLs: m.peerURL,
			}
			if err := RestoreEtcdMember(ctx, r, o); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dataDir, "member", "old")); !os.IsNotExist(err) {
				t.Errorf("old data left in the data dir: %v", err)
			}
			entries, _ := os.ReadDir(root)
			for _, e := range entries {
				if len(e.Name()) > len(stagePrefix) && e.Name()[:len(stagePrefix)] == stagePrefix {
					t.Errorf("staging folder %s left", e.Name())
				}
			}

			cli2, _ := startEtcd(t, m, dataDir)
			resp, err := cli2.Get(ctx, "/k/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Count != n {
				t.Errorf("restored member holds %d keys, want %d", resp.Count, n)
			}
		})
	}
}

func TestRestoreEtcdMemberRefusesDamage(t *testing.T) {
	ctx := context.Background()
	key := repo.GenerateKey()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := repo.Init(ctx, dir, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, _ := r.NewSnapshot(ctx, repo.BackupOptions{})
	w.AddObject(ctx, "data/etcd/snapshot.db", bytes.NewReader(bytes.Repeat([]byte("not a db"), 1000)))
	s, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "keep"), []byte("x"), 0o600)
	err = RestoreEtcdMember(ctx, r, EtcdMemberOptions{Backup: s.ID.String(), Object: "data/etcd/snapshot.db", VolumeRoot: root,
		DataDir: filepath.Join(root, "data"), Name: "a", InitialCluster: "a=http://127.0.0.1:2380", InitialAdvertisePeerURLs: "http://127.0.0.1:2380"})
	if err == nil {
		t.Fatal("a snapshot that is not an etcd db was restored")
	}
	if _, err := os.Stat(filepath.Join(root, "keep")); err != nil {
		t.Errorf("a failed restore touched the volume: %v", err)
	}
}

func TestPVCBackupRestore(t *testing.T) {
	ctx := context.Background()
	r, err := repo.Init(ctx, filepath.Join(t.TempDir(), "repo"), repo.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "db"), 0o755)
	os.WriteFile(filepath.Join(src, "db", "table"), bytes.Repeat([]byte("row\n"), 100000), 0o644)
	os.WriteFile(filepath.Join(src, "conf"), []byte("x=1"), 0o600)
	snap, err := BackupPath(ctx, r, PVCOptions{Common: Common{Token: "tok", Target: "data-db-0"}, Namespace: "ns", Path: src})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.HasTag(TagPVCData) || snap.Metadata[MetaToken] != "tok" || snap.Metadata[MetaTarget] != "data-db-0" {
		t.Errorf("snapshot %+v does not carry its token and target", snap)
	}
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "newer-junk"), []byte("j"), 0o644)
	os.Mkdir(filepath.Join(dst, "lost+found"), 0o700)
	if err := RestorePath(ctx, r, PVCOptions{Path: dst, Backup: snap.ID.String()}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "db", "table")); len(b) != 400000 {
		t.Errorf("restored table has %d bytes", len(b))
	}
	if _, err := os.Stat(filepath.Join(dst, "newer-junk")); !os.IsNotExist(err) {
		t.Error("files newer than the backup survived the restore")
	}
	if _, err := os.Stat(filepath.Join(dst, "lost+found")); err != nil {
		t.Error("lost+found was removed")
	}
}

func TestReportErrorReachesTheRepository(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	key := repo.GenerateKey()
	r, err := repo.Init(ctx, dir, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	kf := filepath.Join(t.TempDir(), "key")
	os.WriteFile(kf, []byte(repo.EncodeKey(key)), 0o600)
	c := Common{Repo: dir, KeyFile: kf, Token: "tk", Target: "etcd-1"}
	ReportError(ctx, c, fmt.Errorf("disk full"))
	snaps, _ := r.List(ctx)
	if len(snaps) != 1 || !snaps[0].HasTag(TagError) || snaps[0].Metadata[MetaError] != "disk full" || snaps[0].Metadata[MetaTarget] != "etcd-1" {
		t.Errorf("error report: %+v", snaps)
	}
}
