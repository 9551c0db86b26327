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
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/reboundhq/rebound/reports"
)

// The chart as rendered for this test (charts/test keeps the rendering equal
// to what the chart renders with gameday.values.yaml): release "rebound" in
// namespace rebound-ops, allowed to act in the suite's demo namespace only,
// with the chart's default permissions (pod faults, the backup engine; no
// node permissions).
const (
	chartRendering = "testdata/chart/gameday.rendered.yaml"
	chartNamespace = "rebound-ops"
	chartAccount   = "rebound"
)

type chartKey struct{}

// installedChart is what installChart applied: to make Jobs from, and to
// delete afterwards.
type installedChart struct {
	gameday *batchv1.CronJob
	objects []k8s.Object
}

// installChart applies the rendered chart (its ServiceAccount, ConfigMap,
// reports PVC and RBAC) into the release namespace, as `helm install
// --create-namespace` would, keeping the CronJob aside: the test runs Jobs
// made from its jobTemplate instead of waiting for the schedule.
func installChart(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
	cs := kube(t, ctx)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: chartNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ic := &installedChart{}
	crons, objs := applyRendering(ctx, t, cfg, chartRendering)
	ic.objects = objs
	for _, cj := range crons {
		if strings.HasSuffix(cj.Name, "-gameday") {
			ic.gameday = cj
		}
	}
	if ic.gameday == nil {
		t.Fatalf("%s has no game day CronJob", chartRendering)
	}
	return context.WithValue(ctx, chartKey{}, ic)
}

// applyRendering creates every object of a rendered chart but its
// CronJobs, which it returns apart with the objects it made: the tests run
// Jobs made from a CronJob's jobTemplate rather than wait for its schedule.
func applyRendering(ctx context.Context, t *testing.T, cfg *envconf.Config, file string) ([]*batchv1.CronJob, []k8s.Object) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var crons []*batchv1.CronJob
	var objs []k8s.Object
	r := cfg.Client().Resources()
	err = decoder.DecodeEach(ctx, f, func(ctx context.Context, obj k8s.Object) error {
		if cj, ok := obj.(*batchv1.CronJob); ok {
			crons = append(crons, cj)
			return nil
		}
		if err := r.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
		}
		objs = append(objs, obj)
		return nil
	})
	if err != nil {
		t.Fatalf("apply %s: %v", file, err)
	}
	return crons, objs
}

// uninstallChart deletes what installChart made, and waits until the
// release namespace is gone.
func uninstallChart(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
	cs := kube(t, ctx)
	ic, _ := ctx.Value(chartKey{}).(*installedChart)
	if ic != nil {
		r := cfg.Client().Resources()
		for _, obj := range ic.objects {
			if err := r.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
			}
		}
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, chartNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, chartNamespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return ctx
		}
		if time.Now().After(deadline) {
			t.Errorf("namespace %s still there after 2m", chartNamespace)
			return ctx
		}
		time.Sleep(time.Second)
	}
}

// runChartJob creates a Job from the game day CronJob's jobTemplate, with
// extra arguments after the chart's, waits until it completes or fails,
// and returns whether it completed and the container's log.
func runChartJob(ctx context.Context, t *testing.T, name string, extraArgs ...string) (bool, string) {
	t.Helper()
	cs := kube(t, ctx)
	ic := ctx.Value(chartKey{}).(*installedChart)
	tmpl := ic.gameday.Spec.JobTemplate
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: chartNamespace, Labels: tmpl.Labels},
		Spec:       *tmpl.Spec.DeepCopy(),
	}
	c := &job.Spec.Template.Spec.Containers[0]
	c.Args = append(c.Args, extraArgs...)
	if _, err := cs.BatchV1().Jobs(chartNamespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.BatchV1().Jobs(chartNamespace).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	})
	done, complete := false, false
	deadline := time.Now().Add(6 * time.Minute)
	for !done {
		if time.Now().After(deadline) {
			t.Fatalf("job %s neither complete nor failed after 6m\n%s", name, jobLog(t, ctx, cs, name))
		}
		time.Sleep(2 * time.Second)
		j, err := cs.BatchV1().Jobs(chartNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cond := range j.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				continue
			}
			switch cond.Type {
			case batchv1.JobComplete:
				done, complete = true, true
			case batchv1.JobFailed:
				done = true
			}
		}
	}
	return complete, jobLog(t, ctx, cs, name)
}

// jobLog reads the log of a Job's pod where the lab keeps it:
// <state>/logs/<namespace>_<pod>_<container>.log.
func jobLog(t *testing.T, ctx context.Context, cs kubernetes.Interface, job string) string {
	t.Helper()
	pods, err := cs.CoreV1().Pods(chartNamespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of job %s: %v (found %d)", job, err, len(pods.Items))
	}
	var b strings.Builder
	for _, p := range pods.Items {
		path := filepath.Join(labFrom(ctx).Dir(), "logs", fmt.Sprintf("%s_%s_%s.log", p.Namespace, p.Name, "rebound"))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("log of pod %s: %v", p.Name, err)
		}
		b.Write(data)
	}
	return b.String()
}

// chartReport reads report.json of a Job's run from the chart's reports
// PVC (/reports/<pod>/report.json in the pod), through the lab's volume.
func chartReport(ctx context.Context, t *testing.T, job string) *reports.Run {
	t.Helper()
	cs := kube(t, ctx)
	pods, err := cs.CoreV1().Pods(chartNamespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of job %s: %v (found %d, want 1)", job, err, len(pods.Items))
	}
	dir, err := labFrom(ctx).VolumePath(ctx, chartNamespace, "rebound-reports")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, pods.Items[0].Name, "report.json"))
	if err != nil {
		t.Fatalf("the Job's report: %v", err)
	}
	defer f.Close()
	run, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// TestInCluster runs the Helm chart's game day Job in the lab: rebound as a
// pod, with the pod's service account (rest.InClusterConfig) and the
// chart's RBAC only.
func TestInCluster(t *testing.T) {
	f := features.New("rebound inside the cluster, with the chart's RBAC").
		Setup(installChart).
		Teardown(uninstallChart).
		Assess("the game day Job runs a pod-kill against the demo etcd with in-cluster credentials and completes", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			complete, log := runChartJob(ctx, t, "gameday-pod-kill", "--scenario", "incluster-pod-kill")
			if !complete {
				t.Fatalf("the game day Job failed:\n%s", log)
			}
			t.Logf("the Job's log:\n%s", log)
			// The pod reached the API server through $KUBERNETES_SERVICE_HOST
			// and the mounted service account token, and listed the app's pods.
			for _, want := range []string{
				"cluster: https://", "(in-cluster, the pod's service account)",
				"incluster-pod-kill", "PASS",
			} {
				if !strings.Contains(log, want) {
					t.Errorf("the Job's log does not say %q:\n%s", want, log)
				}
			}
			if strings.Contains(log, "forbidden") {
				t.Errorf("the chart's RBAC refused a call of the pod-kill game day:\n%s", log)
			}
			// The report is on the chart's reports PVC, in the pod's folder.
			run := chartReport(ctx, t, "gameday-pod-kill")
			if len(run.Scenarios) != 1 || run.Scenarios[0].Name != "incluster-pod-kill" || run.Scenarios[0].Fault != "pod-kill" ||
				run.Scenarios[0].Status() != reports.StatusPass {
				t.Errorf("report.json on the reports PVC: %+v, want incluster-pod-kill (pod-kill) PASS", run.Scenarios)
			}
			if run.Cluster != "in-cluster" {
				t.Errorf("report.json names cluster %q, want in-cluster", run.Cluster)
			}
			return ctx
		}).
		Assess("a node fault the chart grants no permission for fails with the API server's forbidden reason, not a crash", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			complete, log := runChartJob(ctx, t, "gameday-node-taint", "--scenario", "incluster-node-taint")
			if complete {
				t.Fatalf("the node-taint Job completed without node permissions:\n%s", log)
			}
			t.Logf("the Job's log:\n%s", log)
			want := fmt.Sprintf(`nodes "lab-1a-1" is forbidden: User "system:serviceaccount:%s:%s" cannot get resource "nodes"`, chartNamespace, chartAccount)
			if !strings.Contains(log, want) {
				t.Errorf("the Job's log does not give the forbidden reason %q:\n%s", want, log)
			}
			for _, crash := range []string{"panic:", "goroutine "} {
				if strings.Contains(log, crash) {
					t.Errorf("rebound crashed (%q in its log):\n%s", crash, log)
				}
			}
			// Nothing was applied: the node carries no taint of rebound's.
			n, err := kube(t, ctx).CoreV1().Nodes().Get(ctx, "lab-1a-1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, taint := range n.Spec.Taints {
				if strings.HasPrefix(taint.Key, "rebound.dev/") {
					t.Errorf("node lab-1a-1 carries taint %s after a refused fault", taint.Key)
				}
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
