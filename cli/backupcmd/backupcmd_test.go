package backupcmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/reboundhq/rebound/apps/elasticsearch"
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/journal"
)

// The engine builds the movers' command lines with mover's Args; the
// hidden commands must parse every flag of them back.
func TestMoverArgsParse(t *testing.T) {
	t.Parallel()
	etcd := mover.EtcdMemberOptions{
		Common: mover.Common{Repo: "s3://b?region=x", KeyFile: "/k/key", Token: "t1", Target: "etcd-0"},
		Backup: strings.Repeat("ab", 32), Object: "data/etcd/snapshot.db", VolumeRoot: "/var/lib/etcd", DataDir: "/var/lib/etcd/data",
		Name: "etcd-0", InitialCluster: "etcd-0=http://a:2380,etcd-1=http://b:2380", InitialClusterToken: "tok", InitialAdvertisePeerURLs: "http://a:2380",
		RevisionBump: 1000,
	}
	pvc := mover.PVCOptions{Common: mover.Common{Repo: "/r", KeyFile: "/k", Token: "t2", Target: "data-0"}, Namespace: "ns", Path: "/data", Backup: strings.Repeat("cd", 32)}
	for _, args := range [][]string{etcd.Args(), pvc.BackupArgs(), pvc.RestoreArgs()} {
		cmd := NewCommand(streams.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
		if args[0] != cmd.Name() {
			t.Fatalf("%v: the movers run `rebound %s`, not `rebound %s`", args, args[0], cmd.Name())
		}
		sub, rest, err := cmd.Find(args[1:])
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if err := sub.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v", sub.Name(), err)
			continue
		}
		for _, a := range rest {
			name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			f := sub.Flags().Lookup(name)
			if f == nil {
				t.Errorf("%s: no flag %s", sub.Name(), name)
				continue
			}
			if f.Value.String() != val {
				t.Errorf("%s --%s = %q, want %q", sub.Name(), name, f.Value.String(), val)
			}
		}
	}
}

func TestReporterPlainLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	r := newReporter(&out)
	r.every = 0
	r.report(backup.Progress{Phase: "etcd snapshot", Total: 4 << 20, Message: "from http://a:2379"})
	r.report(backup.Progress{Phase: "etcd snapshot", Bytes: 1 << 20, Total: 4 << 20})
	r.report(backup.Progress{Phase: "etcd snapshot", Bytes: 4 << 20, Total: 4 << 20, Done: true})
	got := out.String()
	for _, want := range []string{"etcd snapshot: from http://a:2379\n", "etcd snapshot: 1.0 MiB of 4.0 MiB (25%)", "etcd snapshot: 4.0 MiB done"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\r") || strings.Contains(got, "\x1b") {
		t.Errorf("terminal control codes in plain output: %q", got)
	}
}

func TestWrongKeyIsInvalidInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	r, err := repo.Init(ctx, filepath.Join(dir, "repo"), repo.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	kf := filepath.Join(dir, "other.key")
	os.WriteFile(kf, []byte(repo.EncodeKey(repo.GenerateKey())), 0o600)
	var out, errb bytes.Buffer
	cmd := NewCommand(streams.Streams{Out: &out, Err: &errb})
	cmd.SetArgs([]string{"list", "--repo", filepath.Join(dir, "repo"), "--key-file", kf})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.ExecuteContext(ctx)
	if exitcode.Of(err) != exitcode.InvalidInput || !strings.Contains(err.Error(), "wrong key") || !strings.Contains(err.Error(), "nothing was read or written") {
		t.Errorf("wrong key: %v (code %d)", err, exitcode.Of(err))
	}
}

func TestElasticsearchRepositoryFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr string // empty: valid
	}{
		{args: []string{"--es-repository", "backups"}},
		{args: []string{"--es-repository", "backups", "--es-repository-type", "azure", "--es-repository-setting", "container=es-snapshots", "--es-repository-setting", "base_path=shop"}},
		{args: []string{"--es-repository", "backups", "--es-repository-type", "hdfs"}, wantErr: `--es-repository-type "hdfs": want fs, s3 or azure`},
		{args: []string{"--es-repository-type", "fs"}, wantErr: "--es-repository-type needs --es-repository"},
		{args: []string{"--es-repository", "backups", "--es-repository-setting", "location=/snapshots"}, wantErr: "--es-repository-setting needs --es-repository-type"},
	}
	for _, tt := range tests {
		f := &createFlags{}
		cmd := &cobra.Command{}
		f.add(cmd)
		cmd.Flags().Set("namespace", "shop")
		if err := cmd.ParseFlags(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		req, err := f.request()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitcode.Of(err) != exitcode.InvalidInput):
			t.Errorf("%v: %v, want invalid input containing %q", tt.args, err, tt.wantErr)
		case tt.wantErr == "" && len(tt.args) > 2:
			o, ok := req.AppOptions.(elasticsearch.BackupOptions)
			if !ok || o.Type != "azure" || o.Settings["container"] != "es-snapshots" || o.Settings["base_path"] != "shop" {
				t.Errorf("%v: request %+v, want elasticsearch.BackupOptions of the flags", tt.args, req)
			}
		}
	}
}

// TestEngineJournalsInTheStateFolderCleanupReads: the commands that act on
// a cluster journal there, with an absolute kubeconfig for cleanup.
func TestEngineJournalsInTheStateFolderCleanupReads(t *testing.T) {
	state := t.TempDir()
	t.Setenv("REBOUND_STATE_DIR", state)
	t.Chdir(t.TempDir())
	kc := "kubeconfig"
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &common{kubeconfig: kc}
	e, err := c.engine(context.Background(), streams.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if c.journal == nil {
		t.Fatal("an engine acting on a cluster has no journal: a kill -9 would leave its data movers' key Secret behind")
	}
	path := c.journal.Path()
	if filepath.Dir(path) != journal.JournalDir(state) {
		t.Errorf("journal %s, want it in %s, where rebound cleanup reads", path, journal.JournalDir(state))
	}
	// A journal is held by one opener: the engine's is closed before the
	// command's own is opened again (in the same second: the same run).
	c.journal.Close()
	_, _, cluster, err := c.openJournal()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cluster.Kubeconfig) || filepath.Base(cluster.Kubeconfig) != kc {
		t.Errorf("journal names kubeconfig %q, want the absolute path of %s", cluster.Kubeconfig, kc)
	}
	c.closeJournal()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an empty journal is left behind: %v", err)
	}
}
