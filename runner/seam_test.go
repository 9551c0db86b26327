package runner

// The driver seam, end to end in one process: an app known to rebound
// only by its registration (seamAppName, a stand-in for a real app's
// package) drives the runner, which resolves its endpoints from the
// registration's client port and scheme and its records from
// RecordsName, and the real backup engine, which backs the app up through
// apps.NativeBackuper and restores it through the app's RestorePlanner: a
// data mover writes the data back into a claim, and AfterReady brings it
// into the running app. A fake clientset stands in for the API server and
// a reactor on it for the mover pod (which the lab would run as `rebound
// backup <args>`).

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/scenarios"
)

const (
	seamAppName    = "seam-app-stand-in"
	seamDataKind   = "seam-records"
	seamObject     = "data/seam/records"
	seamRuntimeCM  = "app-leader" // state the running app keeps for itself
	seamConfigCM   = "app-config"
	seamClientPort = 7070
)

// seamState is what the stand-in app, its restore plan and its mover
// share during the one test that uses them.
type seamState struct {
	mu        sync.Mutex
	w         *world
	urls      []string // the endpoints the driver was created with
	prefix    string
	backupOpt []any
	plans     []apps.RestoreInput
	volume    []string // what the mover wrote into the claim
	moverArgs []string
	moverPod  *corev1.Pod
	after     int // AfterReady calls, after the mover ran
	eng       *backup.Engine
}

var (
	seamMu sync.Mutex
	seam   *seamState
)

func seamNow() *seamState {
	seamMu.Lock()
	defer seamMu.Unlock()
	return seam
}

func init() {
	apps.Register(apps.App{
		Name: seamAppName, ClientPort: seamClientPort, Scheme: "seam",
		RecordsName: func(runID, scenario string) string { return "seam-" + runID + "-" + scenario },
		New: func(_ context.Context, cfg apps.Config) (apps.Driver, error) {
			s := seamNow()
			if s == nil {
				return nil, fmt.Errorf("%s: no test is using it", seamAppName)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.urls, s.prefix = slices.Clone(cfg.Endpoints.URLs), cfg.Prefix
			return &seamAppStandIn{fakeApp: fakeApp{w: s.w}, s: s}, nil
		},
		Restore: func(_ context.Context, in apps.RestoreInput) (*apps.RestorePlan, error) {
			s := seamNow()
			s.mu.Lock()
			s.plans = append(s.plans, in)
			s.mu.Unlock()
			if in.Data.Kind != seamDataKind || len(in.Data.Objects) != 1 {
				return nil, fmt.Errorf("data %+v: not the stand-in's", in.Data)
			}
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-app-0"}}
			return &apps.RestorePlan{
				Movers: []apps.Mover{{
					Target: "app-0", Claim: claim,
					Args: []string{"seam-restore", "--object=" + in.Data.Objects[0], "--backup=" + in.BackupID},
					Pod: func(p *corev1.Pod) {
						p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
							PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name},
						}})
						p.Spec.NodeName = "node-0"
					},
				}},
				AfterReady: func(_ context.Context, d apps.Driver, progress func(string)) error {
					a, ok := d.(*seamAppStandIn)
					if !ok {
						return fmt.Errorf("driver %T is not the stand-in's", d)
					}
					a.s.mu.Lock()
					defer a.s.mu.Unlock()
					if a.s.moverPod == nil {
						return fmt.Errorf("AfterReady before the mover ran")
					}
					a.s.after++
					a.w.mu.Lock()
					defer a.w.mu.Unlock()
					a.w.records = map[string]bool{}
					for _, id := range a.s.volume {
						a.w.records[id] = true
					}
					a.w.faultOn = false
					progress(fmt.Sprintf("%d records back", len(a.s.volume)))
					return nil
				},
			}, nil
		},
		RuntimeState: func(u *unstructured.Unstructured) bool {
			return u.GetKind() == "ConfigMap" && u.GetName() == seamRuntimeCM
		},
	})
}

// seamAppStandIn stands in for the driver of an app with a native backup:
// the fake app's records, copied at the cut.
type seamAppStandIn struct {
	fakeApp
	s *seamState
}

var _ apps.NativeBackuper = (*seamAppStandIn)(nil)

func (a *seamAppStandIn) NativeBackup(ctx context.Context, w apps.BackupWriter, opts any) (apps.NativeData, error) {
	a.s.mu.Lock()
	a.s.backupOpt = append(a.s.backupOpt, opts)
	a.s.mu.Unlock()
	a.w.mu.Lock()
	w.Cut() // every write acknowledged before this is in the copy
	var ids []string
	for id := range a.w.records {
		ids = append(ids, id)
	}
	a.w.mu.Unlock()
	slices.Sort(ids)
	if err := w.AddObject(ctx, seamObject, strings.NewReader(strings.Join(ids, "\n"))); err != nil {
		return apps.NativeData{}, err
	}
	return apps.NativeData{Kind: seamDataKind, Objects: []string{seamObject}, Position: fmt.Sprint(len(ids)), Endpoint: "app-0"}, nil
}

func TestSeamAnAppKnownByItsRegistrationDrivesTheRunnerAndTheBackupEngine(t *testing.T) {
	if clock.Now().IsZero() {
		t.Skip("this machine has no boot id: backup cuts cannot be placed on the run's clock")
	}
	h := newHarness(t)
	h.opts.Clock = nil // the host's clock, which the engine's cuts are read on
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fakeNS}}
	lbl := map[string]string{"app": "fake"}
	for _, o := range []runtime.Object{ns,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: seamConfigCM, Namespace: fakeNS, Labels: lbl}, Data: map[string]string{"mode": "safe"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: seamRuntimeCM, Namespace: fakeNS, Labels: lbl}, Data: map[string]string{"leader": "app-1"}},
	} {
		if err := h.kube.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := backup.NewEngine(ctx, t.TempDir()+"/repo", repo.GenerateKey(), h.kube, backup.WithInit())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s := &seamState{w: h.w, eng: eng}
	seamMu.Lock()
	seam = s
	seamMu.Unlock()
	t.Cleanup(func() { seamMu.Lock(); seam = nil; seamMu.Unlock() })

	// The mover's stand-in: the pod the engine creates runs at once and
	// reads the object its arguments name from the repository into the
	// claim.
	h.kube.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Labels[backup.LabelManagedBy] != "rebound" {
			return false, nil, nil
		}
		args := p.Spec.Containers[0].Args
		var id, object string
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--backup="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(a, "--object="); ok {
				object = v
			}
		}
		rid, err := repo.ParseID(id)
		if err != nil {
			return true, nil, fmt.Errorf("mover args %v: %w", args, err)
		}
		rc, err := s.eng.Repository().OpenObject(context.Background(), rid, object)
		if err != nil {
			return true, nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return true, nil, err
		}
		s.mu.Lock()
		s.moverArgs, s.moverPod, s.volume = args, p.DeepCopy(), strings.Fields(string(b))
		s.mu.Unlock()
		p.Status.Phase = corev1.PodSucceeded
		return false, nil, nil
	})

	h.opts.Backup = eng.ForRunner()
	sc := h.scenario(0)
	sc.Target.Driver = seamAppName
	sc.Target.Endpoints = scenarios.Endpoints{Mode: scenarios.EndpointModePodIP}
	sc.Disruption = scenarios.DisruptionHumanError
	sc.Fault = scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Prefix: "seam-"}}
	sc.Backup.Before = true
	sc.Recovery.Path = scenarios.RecoveryRestore
	run, err := h.run(sc)
	if err != nil {
		t.Fatal(err)
	}
	res := run.Scenarios[0].Result

	s.mu.Lock()
	defer s.mu.Unlock()
	// The runner: endpoints from the registration's port and scheme, the
	// records where RecordsName says.
	if want := []string{"seam://127.0.0.10:7070", "seam://127.0.0.11:7070", "seam://127.0.0.12:7070"}; !slices.Equal(s.urls, want) {
		t.Errorf("driver endpoints %v, want %v", s.urls, want)
	}
	if want := "seam-" + h.runID + "-" + sc.Name; s.prefix != want {
		t.Errorf("records prefix %q, want %q", s.prefix, want)
	}
	// The backup: through NativeBackup, with no app options for an app
	// whose scenario sets none.
	if len(s.backupOpt) != 1 || s.backupOpt[0] != nil {
		t.Errorf("NativeBackup options %v, want one call with nil", s.backupOpt)
	}
	// Every write acknowledged before the cut came back: the data went
	// through the backup, the mover and AfterReady.
	if res.RestoredBackup == "" || res.LostBeforeBackupCount != 0 || len(s.volume) == 0 {
		t.Errorf("restored %q, lost before the cut %d, %d records through the mover; want a backup, 0, some\n%s", res.RestoredBackup, res.LostBeforeBackupCount, len(s.volume), h.out)
	}
	_, m, err := eng.Describe(ctx, res.RestoredBackup)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Data) != 1 || m.Data[0].Kind != seamDataKind || m.Data[0].Level != backup.LevelDB || m.Data[0].Position == "" || m.Driver != seamAppName {
		t.Errorf("manifest data %+v driver %q: want the stand-in's native data at db level", m.Data, m.Driver)
	}
	var captured []string
	for _, r := range m.Resources {
		captured = append(captured, r.Kind+"/"+r.Name)
	}
	if !slices.Contains(captured, "ConfigMap/"+seamConfigCM) || slices.Contains(captured, "ConfigMap/"+seamRuntimeCM) {
		t.Errorf("captured %v: want the app's config and not its runtime state", captured)
	}
	// The restore: planned once, one mover run with the engine's common
	// flags and the plan's pod, then AfterReady.
	if len(s.plans) != 1 || s.plans[0].BackupID != res.RestoredBackup || s.plans[0].TargetNamespace != fakeNS {
		t.Fatalf("restore plans %+v: want one for %s into %s", s.plans, res.RestoredBackup, fakeNS)
	}
	args := strings.Join(s.moverArgs, " ")
	for _, want := range []string{"backup seam-restore --repo=", "--token=", "--target=app-0", "--object=" + seamObject, "--backup=" + res.RestoredBackup} {
		if !strings.Contains(args, want) {
			t.Errorf("mover args lack %q: %s", want, args)
		}
	}
	if s.moverPod == nil || s.moverPod.Spec.NodeName != "node-0" || !slices.ContainsFunc(s.moverPod.Spec.Volumes, func(v corev1.Volume) bool {
		return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "data-app-0"
	}) {
		t.Errorf("mover pod %+v: want the plan's claim and node", s.moverPod)
	}
	if _, err := h.kube.CoreV1().PersistentVolumeClaims(fakeNS).Get(ctx, "data-app-0", metav1.GetOptions{}); err != nil {
		t.Errorf("the plan's claim: %v", err)
	}
	if s.after != 1 {
		t.Errorf("AfterReady ran %d times, want once", s.after)
	}
	if _, err := h.kube.CoreV1().ConfigMaps(fakeNS).Get(ctx, seamRuntimeCM, metav1.GetOptions{}); err == nil {
		t.Error("the app's runtime state survived the restore")
	}
	if _, err := h.kube.CoreV1().ConfigMaps(fakeNS).Get(ctx, seamConfigCM, metav1.GetOptions{}); err != nil {
		t.Errorf("the app's config after the restore: %v", err)
	}
	pods, _ := h.kube.CoreV1().Pods(fakeNS).List(ctx, metav1.ListOptions{LabelSelector: backup.LabelManagedBy + "=rebound"})
	if len(pods.Items) != 0 {
		t.Errorf("%d mover pods left behind", len(pods.Items))
	}
}
