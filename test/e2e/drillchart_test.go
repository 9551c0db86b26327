package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient/k8s"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/reports"
)

// The chart rendered with the drill only (drill.values.yaml): the drill's
// scratch namespace, made by the chart, and its Role there.
const (
	drillRendering = "testdata/chart/drill.rendered.yaml"
	drillScratch   = "rebound-e2e-drill"
)

type chartDrillKey struct{}

// chartDrill is what the drill test set up: the rendered chart's objects,
// its drill CronJob, a repository with a backup, and a kubeconfig that
// acts as the chart's ServiceAccount.
type chartDrill struct {
	objects           []k8s.Object
	cron              *batchv1.CronJob
	repoDir, keyFile  string
	asChart, backupID string
}

// TestChartDrill runs the chart's drill CronJob's own arguments against a
// backup taken beforehand, with the API server authorizing every call as
// the chart's ServiceAccount (kubeconfig impersonation): the chart's RBAC,
// and nothing more, suffices for a drill, and the drill leaves its scratch
// namespace as it found it.
//
// It runs the command on the host, not in a pod: the backup repository is
// a host folder the lab's data movers reach, which a pod's mounts do not
// (TestInCluster covers the in-cluster credentials).
func TestChartDrill(t *testing.T) {
	f := features.New("the chart's restore drill, with the chart's RBAC only").
		Setup(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: chartNamespace}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			cd := &chartDrill{}
			ctx = context.WithValue(ctx, chartDrillKey{}, cd)
			crons, objs := applyRendering(ctx, t, cfg, drillRendering)
			cd.objects = objs
			if len(crons) > 0 {
				cd.cron = crons[0]
			}
			if cd.cron == nil {
				t.Fatalf("%s has no drill CronJob", drillRendering)
			}

			// A kubeconfig of the lab whose every call is made as the chart's
			// ServiceAccount.
			kc, err := clientcmd.LoadFromFile(labFrom(ctx).Kubeconfig())
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range kc.AuthInfos {
				a.Impersonate = fmt.Sprintf("system:serviceaccount:%s:%s", chartNamespace, chartAccount)
			}
			dir := t.TempDir()
			cd.asChart = filepath.Join(dir, "as-chart.kubeconfig")
			if err := clientcmd.WriteToFile(*kc, cd.asChart); err != nil {
				t.Fatal(err)
			}

			// A backup of the demo etcd, taken with the lab's own credentials.
			cd.repoDir, cd.keyFile = filepath.Join(dir, "repo"), filepath.Join(dir, "key")
			if err := os.WriteFile(cd.keyFile, []byte(repo.EncodeKey(repo.GenerateKey())), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"backup", "init", "--repo", cd.repoDir, "--key-file", cd.keyFile},
				{"backup", "create", "--repo", cd.repoDir, "--key-file", cd.keyFile, "-n", demoNamespace, "-l", bkSelector.String(), "--driver", "etcd"},
			} {
				if out, err := cli(ctx, args...).CombinedOutput(); err != nil {
					t.Fatalf("rebound %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			cs := kube(t, ctx)
			if cd, _ := ctx.Value(chartDrillKey{}).(*chartDrill); cd != nil {
				for _, obj := range cd.objects {
					if err := cfg.Client().Resources().Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
						t.Errorf("delete %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
					}
				}
			}
			for _, ns := range []string{chartNamespace, drillScratch} {
				if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					t.Error(err)
				}
			}
			waitFor(t, ctx, "the chart's namespaces to be gone", 2*time.Minute, func() bool {
				return namespaceGone(t, ctx, chartNamespace) && namespaceGone(t, ctx, drillScratch)
			})
			return ctx
		}).
		Assess("the drill CronJob's arguments, as the chart's ServiceAccount: verified, no forbidden call, the scratch namespace left empty", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			cd := ctx.Value(chartDrillKey{}).(*chartDrill)
			args := cd.cron.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
			if len(args) == 0 || args[0] != "drill" {
				t.Fatalf("the drill CronJob runs %q, want rebound drill", args)
			}
			for run := 1; run <= 2; run++ {
				// The chart's arguments, then where this host keeps what the pod
				// gets from its environment and volumes (a later --report-dir
				// wins).
				dir := t.TempDir()
				full := append(append([]string{}, args...), "--kubeconfig", cd.asChart, "--repo", cd.repoDir, "--key-file", cd.keyFile, "--report-dir", dir)
				// Bounded: a drill whose data movers hang fails here, naming
				// it, rather than holding the suite until its own timeout.
				dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				out, err := cli(dctx, full...).CombinedOutput()
				cancel()
				t.Logf("drill %d: rebound %s\n%s", run, strings.Join(full, " "), out)
				if err != nil {
					t.Fatalf("drill %d as the chart's ServiceAccount: %v", run, err)
				}
				if strings.Contains(string(out), "forbidden") {
					t.Errorf("drill %d: the chart's RBAC refused a call", run)
				}
				s := readReport(t, dir).Scenarios[0]
				dr := s.Drill
				if s.Status() != reports.StatusPass || !dr.Reused || !dr.Created || !dr.Deleted || dr.Kept || dr.Cleanup != "" || dr.Namespace != drillScratch {
					t.Errorf("drill %d: status %s, %+v: want a pass, restored into %s and its objects deleted", run, s.Status(), dr, drillScratch)
				}
				for _, c := range dr.Checks {
					if (c.Name == "integrity" || c.Name == "restore" || c.Name == "health") && c.Status != reports.DrillVerified {
						t.Errorf("drill %d: check %s: %s: %s", run, c.Name, c.Status, c.Detail)
					}
				}
				// The namespace stays, with the chart's Role, and nothing of the
				// restore: the next drill (run 2) is not refused.
				if !strings.Contains(string(out), "restored objects (the namespace, made for drills, stays) deleted") {
					t.Errorf("drill %d: the report does not say the restored objects were deleted and the namespace stays", run)
				}
				cs := kube(t, ctx)
				if _, err := cs.RbacV1().Roles(drillScratch).Get(ctx, "rebound-drill", metav1.GetOptions{}); err != nil {
					t.Errorf("drill %d: the chart's Role in %s: %v", run, drillScratch, err)
				}
				waitFor(t, ctx, "the restore's pods to be gone from "+drillScratch, 2*time.Minute, func() bool {
					pods, err := cs.CoreV1().Pods(drillScratch).List(ctx, metav1.ListOptions{})
					return err == nil && len(pods.Items) == 0
				})
				sts, _ := cs.AppsV1().StatefulSets(drillScratch).List(ctx, metav1.ListOptions{})
				pvcs, _ := cs.CoreV1().PersistentVolumeClaims(drillScratch).List(ctx, metav1.ListOptions{})
				secrets, _ := cs.CoreV1().Secrets(drillScratch).List(ctx, metav1.ListOptions{})
				if len(sts.Items)+len(pvcs.Items)+len(secrets.Items) != 0 {
					t.Errorf("drill %d left %d StatefulSets, %d claims, %d Secrets in %s", run, len(sts.Items), len(pvcs.Items), len(secrets.Items), drillScratch)
				}
			}
			return ctx
		}).
		Assess("a drill into a new namespace of its own is forbidden to the chart's ServiceAccount: the reason for --reuse-namespace", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			// Also shows the impersonation is in force: the lab's own
			// credentials may create namespaces.
			cd := ctx.Value(chartDrillKey{}).(*chartDrill)
			out, err := cli(ctx, "drill", "--backup", "latest", "--yes", "--kubeconfig", cd.asChart, "--repo", cd.repoDir, "--key-file", cd.keyFile, "--report-dir", t.TempDir()).CombinedOutput()
			want := fmt.Sprintf(`is forbidden: User "system:serviceaccount:%s:%s"`, chartNamespace, chartAccount)
			if err == nil || !strings.Contains(string(out), want) {
				t.Errorf("drill into a new namespace as the chart's ServiceAccount: %v, want a failure saying %q:\n%s", err, want, out)
			}
			nss, err := kube(t, ctx).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ns := range nss.Items {
				if strings.HasPrefix(ns.Name, "rebound-drill-") {
					t.Errorf("namespace %s was made by a refused drill", ns.Name)
				}
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
