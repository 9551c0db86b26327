package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/reports"
)

// drillCtx is the repository the drill features share, and the backup the
// first drill took.
type drillCtx struct {
	repoDir, keyFile string
	backup           string
}

type drKey int

const drillKey drKey = iota

func drFrom(ctx context.Context) *drillCtx { return ctx.Value(drillKey).(*drillCtx) }

// reboundDrill runs `rebound drill ARGS` on the suite's lab against repository
// dir, with its reports in reportDir; it returns the combined output and the
// exit code.
func reboundDrill(ctx context.Context, d *drillCtx, reportDir string, args ...string) (string, int) {
	cmd := cli(ctx, append([]string{"drill", "--repo", d.repoDir, "--key-file", d.keyFile, "--report-dir", reportDir,
		"--allow-namespace", demoNamespace}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	code := exitCode(cmd.Run())
	return out.String(), code
}

// readReport reads the drill's report.json.
func readReport(t *testing.T, dir string) *reports.Run {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("the drill wrote no report.json: %v", err)
	}
	defer f.Close()
	run, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scenarios) != 1 || run.Scenarios[0].Drill == nil {
		t.Fatalf("report.json holds %d scenarios, want one drill", len(run.Scenarios))
	}
	return run
}

func namespaceGone(t *testing.T, ctx context.Context, ns string) bool {
	t.Helper()
	_, err := kube(t, ctx).CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

func TestDrill(t *testing.T) {
	f := features.New("restore drills of the demo etcd app").
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			dir := t.TempDir()
			d := &drillCtx{repoDir: filepath.Join(dir, "repo"), keyFile: filepath.Join(dir, "key")}
			if err := os.WriteFile(d.keyFile, []byte(repo.EncodeKey(repo.GenerateKey())), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := cli(ctx, "backup", "init", "--repo", d.repoDir, "--key-file", d.keyFile)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("backup init: %v\n%s", err, out)
			}
			return context.WithValue(ctx, drillKey, d)
		}).
		Assess("a drill of an empty repository: a clear error, exit 5, nothing created", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			out, code := reboundDrill(ctx, drFrom(ctx), t.TempDir(), "--backup", "latest")
			if code != int(exitcode.NotRun) || !strings.Contains(out, "no backup to drill") || !strings.Contains(out, "holds no backup") {
				t.Errorf("drill of an empty repository: exit %d, want %d saying there is no backup:\n%s", code, exitcode.NotRun, out)
			}
			return ctx
		}).
		Assess("backup, drill into a scratch namespace: verified, and the namespace gone", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			d, dir := drFrom(ctx), t.TempDir()
			out, code := reboundDrill(ctx, d, dir, "-n", demoNamespace, "-l", bkSelector.String(), "--driver", "etcd", "--rto", "10m")
			t.Logf("rebound drill:\n%s", out)
			if code != 0 {
				t.Fatalf("drill of a fresh backup: exit %d, want 0", code)
			}
			s := readReport(t, dir).Scenarios[0]
			dr := s.Drill
			d.backup = dr.Backup
			if !dr.Taken || !dr.Created || !dr.Deleted || dr.Kept || dr.TimeToVerified == nil || dr.Cleanup != "" {
				t.Errorf("drill %+v: want a backup taken, restored, verified, its namespace deleted", dr)
			}
			want := map[string]string{"integrity": "read, authenticated", "restore": "Ready", "health": "3/3 members healthy",
				"probe-ids": "all 100 write-probe ids", "checksum": "equals what the backup recorded"}
			for _, c := range dr.Checks {
				if c.Status != reports.DrillVerified || !strings.Contains(c.Detail, want[c.Name]) {
					t.Errorf("check %s: %s: %s; want verified, saying %q", c.Name, c.Status, c.Detail, want[c.Name])
				}
				delete(want, c.Name)
			}
			if len(want) > 0 {
				t.Errorf("checks not made: %v", want)
			}
			if s.Status() != reports.StatusPass || s.Result.RTO == nil || s.Result.RTO.Duration() != dr.TimeToVerified.Duration() {
				t.Errorf("status %s, RTO %v, time to verified %v", s.Status(), s.Result.RTO, dr.TimeToVerified)
			}
			if !namespaceGone(t, ctx, dr.Namespace) || !strings.HasPrefix(dr.Namespace, "rebound-drill-") {
				t.Errorf("scratch namespace %q is still there", dr.Namespace)
			}
			for _, file := range []string{"junit.xml", "report.html", "report.md"} {
				if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
					t.Errorf("the drill wrote no %s: %v", file, err)
				}
			}
			// The probe ids live in the backup only: the app is left as it was.
			cli, _ := nsEtcd(t, ctx, kube(t, ctx), demoNamespace)
			resp, err := cli.Get(ctx, "/rebound/drill/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil || resp.Count != 0 {
				t.Errorf("the drill left %v probe keys in the app (%v)", resp, err)
			}
			t.Logf("drill: restore %s, verified serving copy %s after the restore started", dr.Restore, dr.TimeToVerified)
			return ctx
		}).
		Assess("--keep leaves the namespace, says so, and cleanup leaves it too", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			d, dir := drFrom(ctx), t.TempDir()
			const kept = "rebound-e2e-drill-kept"
			out, code := reboundDrill(ctx, d, dir, "--backup", d.backup[:12], "--keep", "--scratch-namespace", kept, "--allow-namespace", kept)
			if code != 0 || !strings.Contains(out, "kept for inspection") {
				t.Fatalf("drill --keep: exit %d, output does not say the namespace is kept:\n%s", code, out)
			}
			if dr := readReport(t, dir).Scenarios[0].Drill; !dr.Kept || dr.Deleted || dr.Taken {
				t.Errorf("drill --keep: %+v", dr)
			}
			if out, err := cli(ctx, "cleanup").CombinedOutput(); err != nil {
				t.Errorf("rebound cleanup: %v\n%s", err, out)
			}
			if namespaceGone(t, ctx, kept) {
				t.Error("the kept namespace is gone")
			}
			deleteNamespace(t, ctx, kube(t, ctx), kept)
			return ctx
		}).
		Assess("kill -9 while the scratch namespace exists: rebound cleanup deletes it", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			d := drFrom(ctx)
			const killed = "rebound-e2e-drill-killed"
			cmd := cli2(ctx, "drill", "--repo", d.repoDir, "--key-file", d.keyFile, "--report-dir", t.TempDir(),
				"--backup", d.backup, "--scratch-namespace", killed, "--allow-namespace", killed)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "the scratch namespace "+killed, 2*time.Minute, func() bool { return !namespaceGone(t, ctx, killed) })
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if namespaceGone(t, ctx, killed) {
				t.Fatalf("the namespace went with the kill: the test cannot show cleanup:\n%s", out.String())
			}
			cout, err := cli(ctx, "cleanup").CombinedOutput()
			if err != nil {
				t.Errorf("rebound cleanup: %v\n%s", err, cout)
			}
			t.Logf("rebound cleanup:\n%s", cout)
			waitFor(t, ctx, "rebound cleanup to delete "+killed, 2*time.Minute, func() bool { return namespaceGone(t, ctx, killed) })
			return ctx
		}).
		Assess("a drill of a backup with one damaged object fails, naming the object, and creates nothing", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			d := drFrom(ctx)
			damaged := &drillCtx{repoDir: filepath.Join(t.TempDir(), "repo"), keyFile: d.keyFile}
			if err := os.CopyFS(damaged.repoDir, os.DirFS(d.repoDir)); err != nil {
				t.Fatal(err)
			}
			key, err := repo.KeyFromFile(d.keyFile)
			if err != nil {
				t.Fatal(err)
			}
			r, err := repo.Open(ctx, damaged.repoDir, key)
			if err != nil {
				t.Fatal(err)
			}
			id, _ := repo.ParseID(d.backup)
			snap, err := r.Get(ctx, id)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
			chunk := "data/" + snap.Tree[0].String()[:2] + "/" + snap.Tree[0].String()
			p := filepath.Join(damaged.repoDir, filepath.FromSlash(chunk))
			flipByte(t, p)
			const never = "rebound-e2e-drill-damaged"
			dir := t.TempDir()
			out, code := reboundDrill(ctx, damaged, dir, "--backup", d.backup, "--scratch-namespace", never, "--allow-namespace", never)
			if code != int(exitcode.Breached) || !strings.Contains(out, chunk) {
				t.Errorf("drill of a backup with %s damaged: exit %d, want %d naming the object:\n%s", chunk, code, exitcode.Breached, out)
			}
			s := readReport(t, dir).Scenarios[0]
			if c := s.Drill.Checks[0]; c.Name != "integrity" || c.Status != reports.DrillFailed || !strings.Contains(c.Detail, chunk) {
				t.Errorf("integrity check %+v: want failed, naming %s", c, chunk)
			}
			if s.Status() != reports.StatusBug || s.Drill.Created {
				t.Errorf("status %s, namespace created %v: want BUG, none created", s.Status(), s.Drill.Created)
			}
			if !namespaceGone(t, ctx, never) {
				t.Errorf("a drill of a damaged backup created namespace %s", never)
			}
			return ctx
		}).
		Feature()
	testenv.Test(t, f)
}
