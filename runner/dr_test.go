package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
	"github.com/reboundhq/rebound/target"
)

const drNS = "demo-dr"

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// drStandIn is a DR cluster for the phase machine: fake API servers that
// hold the StatefulSet a restore makes (Ready), and, in the dynamic
// client cleanup deletes through, the namespace it makes.
func drStandIn(h *harness, eng BackupEngine) *Cluster {
	labels := map[string]string{"app": "fake"}
	three := int32(3)
	kube := fake.NewClientset(&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: drNS},
		Spec: appsv1.StatefulSetSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}}},
		Status: appsv1.StatefulSetStatus{ReadyReplicas: 3},
	})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: drNS}}
	dyn := dynfake.NewSimpleDynamicClient(runtime.NewScheme(), toUnstructured(h.t, ns))
	return &Cluster{Name: "dr-region", Context: "dr-ctx", Kube: kube, Dynamic: dyn, Backup: eng}
}

func toUnstructured(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	return u
}

// drScenario is a human error recovered by a restore into the DR cluster.
func drScenario(h *harness) *scenarios.Scenario {
	s := h.scenario(0)
	s.Disruption = scenarios.DisruptionRegion
	s.Fault = scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Prefix: "/rebound/"}}
	s.Backup.Before = true
	s.Recovery.Path = scenarios.RecoveryRestore
	s.DR = &scenarios.DR{Context: "dr-ctx", Namespace: drNS}
	h.opts.AllowNamespaces = append(h.opts.AllowNamespaces, drNS)
	return s
}

func TestPhaseMachineRestoreIntoTheDRCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		eng := &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock)}
		h.opts.Backup = eng
		s := drScenario(h)
		dr := drStandIn(h, eng)
		h.opts.DR = map[string]*Cluster{DRKey(s.DR): dr}
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		sc := run.Scenarios[0]
		res := sc.Result
		if sc.Error != "" || res.RestoredBackup != "backup-1" || res.LostBeforeBackupCount != 0 || res.TimeToFullRedundancy == nil {
			t.Fatalf("error %q restored %q lost before the cut %d full redundancy %v; want a restore of backup-1 into the DR cluster\n%s",
				sc.Error, res.RestoredBackup, res.LostBeforeBackupCount, res.TimeToFullRedundancy, h.out)
		}
		// The timeline shows both clusters: the fault in the target's, the
		// restore in the DR cluster's.
		byKind := map[string]string{}
		for _, e := range sc.Events {
			byKind[string(e.Kind)] = e.Cluster
		}
		if byKind["faultApplied"] == "" || byKind["recoveryStarted"] != "dr-region" || byKind["faultApplied"] == "dr-region" {
			t.Errorf("event clusters %v: want the fault in the target's cluster and the restore in dr-region", byKind)
		}
		if !strings.Contains(sc.Target, "recovered into "+drNS) {
			t.Errorf("target %q should name the DR namespace", sc.Target)
		}
		// The copy the restore made is deleted, through the DR cluster.
		if _, err := dr.Dynamic.Resource(namespacesGVR).Get(context.Background(), drNS, metav1.GetOptions{}); err == nil {
			t.Errorf("namespace %s of the DR cluster is still there after the scenario", drNS)
		}
		left, _ := journal.Outstanding(h.opts.StateDir)
		if len(left) != 0 {
			t.Errorf("outstanding journal entries after the run: %+v", left)
		}
	})
}

// What can be known about the DR cluster before the fault refuses the
// scenario then, with nothing injected and nothing journaled.
func TestPhaseMachineDRProblemsBeforeTheFault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(s *scenarios.Scenario, c *Cluster)
		want  string
	}{
		{"the copy's namespace exists", func(_ *scenarios.Scenario, c *Cluster) {
			_, _ = c.Kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: drNS}}, metav1.CreateOptions{})
		}, "already exists there"},
		{"failover with a driver that cannot", func(s *scenarios.Scenario, _ *Cluster) {
			s.Recovery.Path, s.Backup.Before = scenarios.RecoveryFailover, false
		}, "cannot promote a standby"},
		{"a repository the DR cluster cannot reach", func(_ *scenarios.Scenario, c *Cluster) {
			c.RepositoryUnreachable = "a path on this machine"
		}, "cannot reach the backup repository: a path on this machine"},
		{"no backup engine for the DR cluster", func(_ *scenarios.Scenario, c *Cluster) { c.Backup = nil }, "no backup engine restores into"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				eng := &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock)}
				h.opts.Backup = eng
				s := drScenario(h)
				dr := drStandIn(h, eng)
				tc.tweak(s, dr)
				h.opts.DR = map[string]*Cluster{DRKey(s.DR): dr}
				run, err := h.run(s)
				if err != nil {
					t.Fatal(err)
				}
				sc := run.Scenarios[0]
				if !strings.Contains(sc.Error, tc.want) || !strings.Contains(sc.Error, "nothing was injected") {
					t.Errorf("error %q, want it to say %q and that nothing was injected", sc.Error, tc.want)
				}
				if eng.n != 0 || len(sc.Events) != 0 {
					t.Errorf("%d backups taken, events %v: want nothing done", eng.n, sc.Events)
				}
				if left, _ := journal.Outstanding(h.opts.StateDir); len(left) != 0 {
					t.Errorf("journaled: %+v", left)
				}
			})
		})
	}
}

// A schedule that took no backup before the fault is known before it: the
// scenario is refused then, with the fix.
func TestPhaseMachineScheduleWithNoBackupRefusesTheFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.opts.Backup = &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock)}
		s := h.scenario(0)
		s.Disruption = scenarios.DisruptionHumanError
		s.Fault = scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Prefix: "/rebound/"}}
		s.Backup.Schedule = "nightly"
		s.Recovery.Path = scenarios.RecoveryRestore
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		sc := run.Scenarios[0]
		if !strings.Contains(sc.Error, `schedule "nightly" took no backup before the fault`) || !strings.Contains(sc.Error, "rebound backup schedule --tag-policy nightly") {
			t.Errorf("error %q, want the schedule named with the fix", sc.Error)
		}
		if len(h.w.records) == 0 {
			t.Errorf("the probes' records were deleted: the fault was injected")
		}
	})
}

func TestCheckSafetyOfTheDRCluster(t *testing.T) {
	t.Parallel()
	target := lab.New(lab.Options{Name: "main"}, nil)
	for _, tc := range []struct {
		name string
		opts Options
		dr   scenarios.DR
		want string
	}{
		{"a DR lab, namespace allowed", Options{OnLab: true, Lab: target, AllowNamespaces: []string{"demo", "demo-dr"}}, scenarios.DR{Lab: "dr", Namespace: "demo-dr"}, ""},
		{"DR namespace outside the allowlist", Options{OnLab: true, Lab: target, AllowNamespaces: []string{"demo"}}, scenarios.DR{Lab: "dr", Namespace: "demo-dr"}, "add --allow-namespace demo-dr"},
		{"DR kube-system", Options{OnLab: true, Lab: target, AllowNamespaces: []string{"demo", "kube-system"}}, scenarios.DR{Lab: "dr", Namespace: "kube-system"}, "never acts there"},
		{"a DR cluster that is not a lab needs --yes", Options{OnLab: true, Lab: target, AllowNamespaces: []string{"demo"}}, scenarios.DR{Context: "aks-ne", Namespace: "demo"}, "pass --yes to restore into it"},
		{"the target's own lab", Options{OnLab: true, Lab: target, AllowNamespaces: []string{"demo"}}, scenarios.DR{Lab: "main", Namespace: "demo"}, "the target's own cluster"},
		{"the target's own API server", Options{Yes: true, AllowNamespaces: []string{"demo"}, RestConfig: &rest.Config{Host: "https://aks-we:443"},
			DR: map[string]*Cluster{"kubeconfig//aks-we-2": {RestConfig: &rest.Config{Host: "https://aks-we:443"}}}}, scenarios.DR{Context: "aks-we-2", Namespace: "demo"}, "the target's own cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := scenarioIn("demo")
			dr := tc.dr
			s.DR = &dr
			err := CheckSafety(tc.opts, []*scenarios.Scenario{s})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "spec.dr") {
				t.Fatalf("error %v, want ErrRefused naming spec.dr and %q", err, tc.want)
			}
		})
	}
}

// scheduleStandIn stands in for a backup engine that runs schedules
// (spec.backup.every): each tick takes a fakeBackups backup, or fails with
// fails.
type scheduleStandIn struct {
	*fakeBackups
	ticks int
}

func (s *scheduleStandIn) Schedule(ctx context.Context, t *target.Target, tag string, every time.Duration, taken func(BackupCut, error)) {
	for {
		s.ticks++
		cut, err := s.Backup(ctx, t)
		if ctx.Err() != nil {
			return
		}
		taken(cut, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// A schedule rebound runs during the scenario: the fault waits for its
// first backup, the schedule stops at the fault, and the restore into the
// DR cluster takes its newest backup from before the fault.
func TestPhaseMachineScheduleDuringTheScenario(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		eng := &scheduleStandIn{fakeBackups: &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock)}}
		h.opts.Backup = eng
		h.opts.Baseline = 5 * time.Second // two ticks of a 2 s schedule before the fault
		s := drScenario(h)
		s.Backup = scenarios.Backup{Schedule: "every-2s", Every: 2 * time.Second}
		h.opts.DR = map[string]*Cluster{DRKey(s.DR): drStandIn(h, eng)}
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		sc := run.Scenarios[0]
		res := sc.Result
		if sc.Error != "" || res.RestoredBackup == "" || res.RestoredBackup == "backup-1" || res.LostBeforeBackupCount != 0 || res.ExpectedLossCount == 0 {
			t.Fatalf("error %q restored %q (of %d ticks) lost before the cut %d expected %d; want the newest scheduled backup before the fault restored\n%s",
				sc.Error, res.RestoredBackup, eng.ticks, res.LostBeforeBackupCount, res.ExpectedLossCount, h.out)
		}
		ticks := eng.ticks
		time.Sleep(10 * time.Second)
		if eng.ticks != ticks {
			t.Errorf("the schedule still runs after the scenario: %d ticks, then %d", ticks, eng.ticks)
		}
	})
}

// A schedule whose first backup fails leaves nothing to restore: the
// scenario is refused before the fault, saying why.
func TestPhaseMachineScheduleFirstBackupFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		eng := &scheduleStandIn{fakeBackups: &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock), fails: errors.New("repository is locked")}}
		h.opts.Backup = eng
		s := drScenario(h)
		s.Backup = scenarios.Backup{Schedule: "every-2s", Every: 2 * time.Second}
		h.opts.DR = map[string]*Cluster{DRKey(s.DR): drStandIn(h, eng)}
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		sc := run.Scenarios[0]
		if !strings.Contains(sc.Error, "its first backup failed") || !strings.Contains(sc.Error, "repository is locked") || !strings.Contains(sc.Error, "nothing was injected") {
			t.Errorf("error %q, want the first backup's failure and that nothing was injected", sc.Error)
		}
		for _, e := range sc.Events {
			if e.Kind == "faultApplied" {
				t.Errorf("the fault was applied: %v", sc.Events)
			}
		}
	})
}
