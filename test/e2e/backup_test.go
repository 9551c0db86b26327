package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/apps/etcd"
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/runner"
	demoapps "github.com/reboundhq/rebound/scenarios/apps"
)

// The backup suite runs its own copies of the demo etcd app, so that it
// can delete and restore them without touching the suite's demo app.
const (
	bkNamespace   = "rebound-e2e-bk"
	bkCopy        = "rebound-e2e-bk-copy"
	bkAfterKill   = "rebound-e2e-bk-killed"
	bkWrongKeyNs  = "rebound-e2e-bk-wrongkey"
	bkKeys        = 500
	bkKeyPrefix   = "/e2e/backup"
	bkWaitHealthy = 3 * time.Minute
)

var bkSelector = labels.SelectorFromSet(labels.Set{"app.kubernetes.io/name": "etcd"})

// backupCtx is what the features share: the repository and the first backup.
type backupCtx struct {
	repoDir, keyFile string
	key              []byte
	first            string // the backup holding the bkKeys keys
}

type bkKey int

const backupKey bkKey = iota

func bkFrom(ctx context.Context) *backupCtx { return ctx.Value(backupKey).(*backupCtx) }

// nsEtcd connects to the members of the demo etcd app in ns by pod IP.
func nsEtcd(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) (*clientv3.Client, []string) {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: bkSelector.String()})
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			eps = append(eps, fmt.Sprintf("http://%s:2379", p.Status.PodIP))
		}
	}
	if len(eps) == 0 {
		t.Fatalf("no etcd pod in %s has an address", ns)
	}
	return labEtcd(t, eps), eps
}

// assertKeys fails unless ns holds exactly the n keys under bkKeyPrefix,
// with 3 members healthy.
func assertKeys(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string, n int) {
	t.Helper()
	cli, eps := nsEtcd(t, ctx, cs, ns)
	var count int64
	waitFor(t, ctx, "3 healthy members in "+ns, 30*time.Second, func() bool { return healthyMembers(ctx, cli, eps) == 3 })
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cli.Get(c, bkKeyPrefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("read back %s: %v", ns, err)
	}
	count = resp.Count
	if count != int64(n) {
		t.Errorf("%s holds %d keys under %s, want %d", ns, count, bkKeyPrefix, n)
	}
	ml, err := cli.MemberList(c)
	if err != nil || len(ml.Members) != 3 {
		t.Errorf("%s: member list %v, %v: want 3 members", ns, ml, err)
	}
}

func deleteNamespace(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	t.Helper()
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	waitFor(t, ctx, "namespace "+ns+" gone", 2*time.Minute, func() bool {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

func newBackupEngine(t *testing.T, ctx context.Context, b *backupCtx) *backup.Engine {
	t.Helper()
	e, err := backup.NewEngine(ctx, b.repoDir, b.key, kube(t, ctx), backup.WithInit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// reboundBackup runs `rebound backup ARGS` on the suite's lab and
// repository, returning stdout, stderr and the exit code.
func reboundBackup(ctx context.Context, b *backupCtx, keyFile string, args ...string) (string, string, int) {
	cmd := cli(ctx, append([]string{"backup", "--repo", b.repoDir, "--key-file", keyFile}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}

// repoFiles lists the repository's files with their sizes and times.
func repoFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %d", p, info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	return out
}

func TestBackup(t *testing.T) {
	f := features.New("backup and restore of the demo etcd app").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// The lab's data movers are the rebound binary itself.
			if out, err := exec.Command(os.Getenv("REBOUND_BINARY"), "backup", "etcd-restore-member", "--help").CombinedOutput(); err != nil {
				t.Fatalf("the rebound binary %s has no `backup` command (wire backupcmd.NewCommand into cmd/rebound/app): %v\n%s", os.Getenv("REBOUND_BINARY"), err, out)
			}
			cs := kube(t, ctx)
			if err := demoapps.Deploy(ctx, cs, "etcd", bkNamespace); err != nil {
				t.Fatal(err)
			}
			if err := demoapps.WaitStatefulSetReady(ctx, cs, bkNamespace, "etcd", 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			b := &backupCtx{repoDir: filepath.Join(dir, "repo"), keyFile: filepath.Join(dir, "key"), key: repo.GenerateKey()}
			if err := os.WriteFile(b.keyFile, []byte(repo.EncodeKey(b.key)), 0o600); err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, backupKey, b)
		}).
		Assess("round trip: N keys backed up, the namespace deleted, restored into the same namespace and into another, all N keys back and healthy", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			b, cs := bkFrom(ctx), kube(t, ctx)
			cli, _ := nsEtcd(t, ctx, cs, bkNamespace)
			for i := range bkKeys {
				if _, err := cli.Put(ctx, fmt.Sprintf("%s/%05d", bkKeyPrefix, i), "v"); err != nil {
					t.Fatal(err)
				}
			}
			e := newBackupEngine(t, ctx, b)
			res, err := e.Backup(ctx, backup.Request{Name: "round-trip", Namespace: bkNamespace, Selector: bkSelector, DriverName: "etcd"})
			if err != nil {
				t.Fatal(err)
			}
			b.first = res.ID
			if res.Manifest.Level != backup.LevelSystem || len(res.Manifest.Data) != 1 || res.Manifest.Data[0].Kind != etcd.SnapshotKind {
				t.Errorf("backup level %s data %+v: want system with an etcd snapshot", res.Manifest.Level, res.Manifest.Data)
			}
			// Written after the backup: a restore must not bring these.
			for i := range 10 {
				cli.Put(ctx, fmt.Sprintf("%s/after-%d", bkKeyPrefix, i), "v")
			}

			deleteNamespace(t, ctx, cs, bkNamespace)
			start := time.Now()
			if _, err := e.Restore(ctx, backup.RestoreRequest{Backup: res.ID, Timeout: bkWaitHealthy}); err != nil {
				t.Fatalf("restore into the emptied namespace: %v", err)
			}
			t.Logf("restore into the deleted namespace %s took %s", bkNamespace, time.Since(start).Round(time.Millisecond))
			assertKeys(t, ctx, cs, bkNamespace, bkKeys)

			start = time.Now()
			if _, err := e.Restore(ctx, backup.RestoreRequest{Backup: res.ID[:12], Namespace: bkCopy, Timeout: bkWaitHealthy}); err != nil {
				t.Fatalf("restore into another namespace: %v", err)
			}
			t.Logf("restore into %s took %s", bkCopy, time.Since(start).Round(time.Millisecond))
			assertKeys(t, ctx, cs, bkCopy, bkKeys)
			assertKeys(t, ctx, cs, bkNamespace, bkKeys) // the original runs on, untouched

			// A roll back over the running app: the human error undone.
			cli, _ = nsEtcd(t, ctx, cs, bkNamespace)
			if _, err := cli.Delete(ctx, bkKeyPrefix+"/", clientv3.WithPrefix()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Restore(ctx, backup.RestoreRequest{Backup: "latest", Timeout: bkWaitHealthy}); err != nil {
				t.Fatalf("roll back in place: %v", err)
			}
			assertKeys(t, ctx, cs, bkNamespace, bkKeys)
			return ctx
		}).
		Assess("an app without a driver: its volumes copied by data-mover pods and written back on a roll back", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			b, cs := bkFrom(ctx), kube(t, ctx)
			e := newBackupEngine(t, ctx, b)
			// The same app, backed up as rebound would one it has no driver
			// for: a copy of each PVC. etcd is idle, so the copy is clean.
			res, err := e.Backup(ctx, backup.Request{Name: "volumes", Namespace: bkNamespace, Selector: bkSelector, Data: backup.DataPVC})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if len(m.Data) != 3 || m.Layers.Data != backup.LevelCrash || m.Level != backup.LevelCrash {
				t.Errorf("volume backup: level %s, data %+v: want 3 PVC copies at crash level", m.Level, m.Data)
			}
			for _, d := range m.Data {
				if d.Kind != backup.DataPVCCopy || d.Snapshot == "" || d.Size == 0 {
					t.Errorf("data entry %+v", d)
				}
			}
			cli, _ := nsEtcd(t, ctx, cs, bkNamespace)
			if _, err := cli.Delete(ctx, bkKeyPrefix+"/", clientv3.WithPrefix()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Restore(ctx, backup.RestoreRequest{Backup: res.ID, Timeout: bkWaitHealthy}); err != nil {
				t.Fatalf("restore of the volume copies: %v", err)
			}
			assertKeys(t, ctx, cs, bkNamespace, bkKeys)
			if err := e.VerifyBackup(ctx, res.ID); err != nil {
				t.Errorf("verify the volume backup: %v", err)
			}
			return ctx
		}).
		Assess("one flipped byte: verify names the damaged object and restore refuses, changing nothing", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			b, cs := bkFrom(ctx), kube(t, ctx)
			// Every kind of object: a chunk, the backup's snapshot, the config.
			e0 := newBackupEngine(t, ctx, b)
			id, _ := repo.ParseID(b.first)
			snap, err := e0.Repository().Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			chunk := "data/" + snap.Tree[0].String()[:2] + "/" + snap.Tree[0].String()
			for _, obj := range []string{chunk, "snapshots/" + b.first, "config"} {
				t.Run(obj[:strings.IndexAny(obj+"/", "/")], func(t *testing.T) {
					damaged := &backupCtx{repoDir: filepath.Join(t.TempDir(), "repo"), key: b.key, keyFile: b.keyFile, first: b.first}
					if err := os.CopyFS(damaged.repoDir, os.DirFS(b.repoDir)); err != nil {
						t.Fatal(err)
					}
					p := filepath.Join(damaged.repoDir, filepath.FromSlash(obj))
					flipByte(t, p)
					out, stderr, code := reboundBackup(ctx, damaged, b.keyFile, "verify")
					if out += stderr; code == 0 || !strings.Contains(out, obj) {
						t.Errorf("verify after flipping a byte of %s: exit %d, output does not name it:\n%s", obj, code, out)
					}
					_, stderr, code = reboundBackup(ctx, damaged, b.keyFile, "restore", b.first, "-n", bkWrongKeyNs, "--timeout", "1m")
					if code == 0 || !strings.Contains(stderr, "damaged") {
						t.Errorf("restore from a repository with %s damaged: exit %d, stderr:\n%s", obj, code, stderr)
					}
					if obj != "config" && !strings.Contains(stderr, "nothing was changed") {
						t.Errorf("restore refusal does not say the cluster is untouched:\n%s", stderr)
					}
					if _, err := cs.CoreV1().Namespaces().Get(ctx, bkWrongKeyNs, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						t.Errorf("a refused restore created namespace %s (%v)", bkWrongKeyNs, err)
					}
				})
			}
			return ctx
		}).
		Assess("kill -9 mid-backup: the repository still verifies and earlier backups still restore", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			b, cs := bkFrom(ctx), kube(t, ctx)
			cli, _ := nsEtcd(t, ctx, cs, bkNamespace)
			// Enough incompressible data that a backup takes a while.
			val := make([]byte, 1<<20)
			for i := range 48 {
				rand.Read(val)
				if _, err := cli.Put(ctx, fmt.Sprintf("/e2e/bulk/%02d", i), string(val)); err != nil {
					t.Fatal(err)
				}
			}
			e := newBackupEngine(t, ctx, b)
			before, err := e.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cmd := cli2(ctx, "backup", "create", "--repo", b.repoDir, "--key-file", b.keyFile, "-n", bkNamespace, "-l", bkSelector.String(), "--driver", "etcd")
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			locks := filepath.Join(b.repoDir, "locks")
			waitFor(t, ctx, "the backup to take its lock", time.Minute, func() bool {
				entries, _ := os.ReadDir(locks)
				return len(entries) > 0
			})
			time.Sleep(100 * time.Millisecond) // into the snapshot stream
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the backup ended before the kill (%v): make it longer\n%s", err, errb.String())
			}
			after, err := e.List(ctx)
			if err != nil || len(after) != len(before) {
				t.Fatalf("backups after the kill: %d (%v), before: %d: a killed backup must leave none", len(after), err, len(before))
			}
			rep, err := e.Verify(ctx)
			if err != nil {
				t.Fatalf("verify after kill -9: %v", err)
			}
			t.Logf("after kill -9: %d snapshots, %d chunks verified, %d unreferenced", rep.Snapshots, rep.Chunks, rep.Unreferenced)
			if _, err := e.Restore(ctx, backup.RestoreRequest{Backup: b.first, Namespace: bkAfterKill, Timeout: bkWaitHealthy}); err != nil {
				t.Fatalf("restore of an earlier backup after kill -9: %v", err)
			}
			assertKeys(t, ctx, cs, bkAfterKill, bkKeys)
			// The dead backup's lock does not block the next one.
			if _, err := e.Backup(ctx, backup.Request{Namespace: bkNamespace, Selector: bkSelector, DriverName: "etcd"}); err != nil {
				t.Errorf("backup after kill -9: %v", err)
			}
			return ctx
		}).
		Assess("a wrong key: a clear error, nothing written", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			b, cs := bkFrom(ctx), kube(t, ctx)
			wrong := filepath.Join(t.TempDir(), "wrong.key")
			os.WriteFile(wrong, []byte(repo.EncodeKey(repo.GenerateKey())), 0o600)
			files := repoFiles(t, b.repoDir)
			for _, args := range [][]string{
				{"restore", "latest", "-n", bkWrongKeyNs},
				{"create", "-n", bkNamespace, "-l", bkSelector.String(), "--driver", "etcd"},
				{"verify"},
			} {
				_, stderr, code := reboundBackup(ctx, b, wrong, args...)
				if code != int(exitcode.InvalidInput) || !strings.Contains(stderr, "wrong key") {
					t.Errorf("%s with a wrong key: exit %d, want %d with a clear error; stderr:\n%s", args[0], code, exitcode.InvalidInput, stderr)
				}
			}
			if !slices.Equal(files, repoFiles(t, b.repoDir)) {
				t.Error("a wrong key changed the repository")
			}
			if _, err := cs.CoreV1().Namespaces().Get(ctx, bkWrongKeyNs, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("a restore with a wrong key created namespace %s (%v)", bkWrongKeyNs, err)
			}
			return ctx
		}).
		Assess("the harness: human error recovered by restoring the backup taken before it, expected loss apart from bug loss", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			b := bkFrom(ctx)
			e := newBackupEngine(t, ctx, b)
			sc := strings.ReplaceAll(scenarioYAML("human-error", "human-error", "kind: app-delete\nappDelete:\n  prefix: /rebound/",
				"path: restore\n    timeout: 5m\n  backup:\n    before: true"), "namespace: "+demoNamespace, "namespace: "+bkNamespace)
			run := runScenarios(t, ctx, parseScenarios(t, sc), func(o *runner.Options) {
				o.AllowNamespaces, o.Backup = []string{bkNamespace}, e.ForRunner()
			})
			s := run.Scenarios[0]
			res := s.Result
			if s.Error != "" {
				t.Fatalf("scenario could not run: %s", s.Error)
			}
			if res.RestoredBackup == "" || res.BackupAge == nil {
				t.Errorf("the scenario did not restore its backup: %+v", res)
			}
			if !res.ServiceRestored || !res.RedundancyRestored {
				t.Errorf("service restored %v, full redundancy %v after the restore; breaches %v", res.ServiceRestored, res.RedundancyRestored, res.Verdict.Breaches)
			}
			if !res.DataChecked || res.LostBeforeBackupCount != 0 || res.UnexpectedCount != 0 {
				t.Errorf("data checked %v, %d writes acked before the backup lost (a bug), %d unexpected", res.DataChecked, res.LostBeforeBackupCount, res.UnexpectedCount)
			}
			if res.WritesAcked < 50 {
				t.Errorf("only %d writes acknowledged: the write probe did not run", res.WritesAcked)
			}
			for _, br := range res.Verdict.Breaches {
				if strings.Contains(br, "restore failed") {
					t.Errorf("breach: %s", br)
				}
			}
			t.Logf("human error: RTO %v, %d writes acked, %d lost of which %d expected (after the backup) and %d before it; backup age %v",
				res.RTO, res.WritesAcked, res.LostCount, res.ExpectedLossCount, res.LostBeforeBackupCount, res.BackupAge)
			return ctx
		}).
		Assess("kill -9 during a backup-and-restore scenario, then rebound cleanup: no rebound Secret or pod is left in the namespace", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Last: the killed restore leaves the app broken.
			cs := kube(t, ctx)
			sc := strings.ReplaceAll(scenarioYAML("killed-restore", "human-error", "kind: app-delete\nappDelete:\n  prefix: /rebound/",
				"path: restore\n    timeout: 5m\n  backup:\n    before: true"), "namespace: "+demoNamespace, "namespace: "+bkNamespace)
			cmd := cli2(ctx, "run", "-f", writeScenarioFile(t, sc), "--allow-namespace", bkNamespace, "--no-deploy", "--report-dir", t.TempDir())
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			movers := metav1.ListOptions{LabelSelector: backup.LabelMoverGroup}
			// The restore's data movers hold the repository key: kill the run
			// while they are there.
			deadline := time.Now().Add(4 * time.Minute)
			for {
				pods, err := cs.CoreV1().Pods(bkNamespace).List(ctx, movers)
				if err == nil && len(pods.Items) > 0 {
					break
				}
				select {
				case err := <-exited:
					t.Fatalf("the run ended (%v) before its restore's data movers were seen:\n%s", err, out.String())
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("no data mover appeared in %s within 4m:\n%s", bkNamespace, out.String())
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			secrets, err := cs.CoreV1().Secrets(bkNamespace).List(ctx, movers)
			if err != nil || len(secrets.Items) == 0 {
				t.Fatalf("right after the kill the movers' key Secret is not there (%v): the kill came too late to test cleanup", err)
			}

			cleanup := cli(ctx, "cleanup")
			cout, err := cleanup.CombinedOutput()
			if err != nil {
				t.Errorf("rebound cleanup: %v\n%s", err, cout)
			}
			t.Logf("rebound cleanup:\n%s", cout)
			waitFor(t, ctx, "no rebound data mover or key Secret in "+bkNamespace, 30*time.Second, func() bool {
				pods, perr := cs.CoreV1().Pods(bkNamespace).List(ctx, movers)
				secs, serr := cs.CoreV1().Secrets(bkNamespace).List(ctx, movers)
				return perr == nil && serr == nil && len(pods.Items) == 0 && len(secs.Items) == 0
			})
			secs, _ := cs.CoreV1().Secrets(bkNamespace).List(ctx, metav1.ListOptions{})
			for _, s := range secs.Items {
				if strings.HasPrefix(s.Name, "rebound-key-") {
					t.Errorf("key Secret %s left in %s after cleanup", s.Name, bkNamespace)
				}
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cs := kube(t, ctx)
			for _, ns := range []string{bkNamespace, bkCopy, bkAfterKill, bkWrongKeyNs} {
				_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}

// cli2 is cli with the process in its own group, so SIGKILL reaches it
// and nothing else.
func cli2(ctx context.Context, args ...string) *exec.Cmd {
	cmd := cli(ctx, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// flipByte damages the repository file at p: one bit of one byte, a third
// of the way in, as a failing disk would.
func flipByte(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x40
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
