package runner

// The phase machine of one scenario, run in-process against fakes: a fake
// clientset and dynamic client stand in for the API server, a small
// goroutine-free reactor stands in for the Chaos Mesh controller, fakeApp
// stands in for a stateful app, fakeBackups for the backup engine, and
// testing/synctest's bubble for the clock (every timer and time.Now in the
// bubble follow a fake time that jumps when every goroutine waits).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	k8stesting "k8s.io/client-go/testing"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
	"github.com/reboundhq/rebound/scenarios"
	"github.com/reboundhq/rebound/target"
)

const (
	fakeNS     = "demo"
	fakeDriver = "fake-app"
)

// world is what one test's fake app, fake Chaos Mesh and fake backups share.
type world struct {
	mu sync.Mutex
	// faultAt is when the fault object was created (the Chaos Mesh
	// controller stand-in confirms it at once unless neverConfirm).
	faultAt      time.Time
	faultOn      bool
	neverConfirm bool
	// down lists intervals, from faultAt, in which the app answers nothing
	// (each call hangs until its deadline, as behind a partition).
	down [][2]time.Duration
	// loseAfterFault drops acknowledged records while the fault is on: the
	// app acknowledges and forgets.
	loseAfterFault bool
	records        map[string]bool
	// unhealthy makes Health report degraded; unhealthyAfterFault from the
	// fault on, for good (a member that never rejoins).
	unhealthy, unhealthyAfterFault bool
	// backups by id, copies of records.
	backups map[string]map[string]bool
	cuts    map[string]clock.Instant
}

var (
	worldsMu sync.Mutex
	worlds   = map[string]*world{} // by run id
)

func init() {
	apps.Register(apps.App{Name: fakeDriver, New: func(ctx context.Context, cfg apps.Config) (apps.Driver, error) {
		// The prefix is /rebound/<run>/<scenario>.
		parts := strings.Split(cfg.Prefix, "/")
		worldsMu.Lock()
		w := worlds[parts[2]]
		worldsMu.Unlock()
		if w == nil {
			return nil, fmt.Errorf("no world for %s", cfg.Prefix)
		}
		return &fakeApp{w: w}, nil
	}})
}

// fakeApp stands in for a stateful app driver.
type fakeApp struct{ w *world }

func (a *fakeApp) isDown() bool {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if !a.w.faultOn && a.w.faultAt.IsZero() {
		return false
	}
	since := time.Since(a.w.faultAt)
	for _, d := range a.w.down {
		if since >= d[0] && since < d[1] {
			return true
		}
	}
	return false
}

func (a *fakeApp) hang(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("%w: %w", apps.ErrIndeterminate, ctx.Err())
}

func (a *fakeApp) Write(ctx context.Context, id string) error {
	if a.isDown() {
		return a.hang(ctx)
	}
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if !(a.w.loseAfterFault && a.w.faultOn) {
		a.w.records[id] = true
	}
	return nil
}

func (a *fakeApp) Read(ctx context.Context) error {
	if a.isDown() {
		return a.hang(ctx)
	}
	return nil
}

func (a *fakeApp) ReadAll(ctx context.Context) ([]string, error) {
	if a.isDown() {
		return nil, a.hang(ctx)
	}
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	var ids []string
	for id := range a.w.records {
		ids = append(ids, id)
	}
	return ids, nil
}

func (a *fakeApp) Health(ctx context.Context) (apps.Health, error) {
	if a.isDown() {
		return apps.Health{Detail: "down"}, a.hang(ctx)
	}
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	if a.w.unhealthy || (a.w.unhealthyAfterFault && !a.w.faultAt.IsZero()) {
		return apps.Health{Serving: true, Members: 3, Healthy: 2, Detail: "2/3 members healthy"}, nil
	}
	return apps.Health{Full: true, Serving: true, Members: 3, Healthy: 3, Detail: "3/3 members healthy"}, nil
}

func (a *fakeApp) Leader(context.Context) (string, error) { return "app-0", nil }

func (a *fakeApp) DeleteData(ctx context.Context, target string) (int, error) {
	a.w.mu.Lock()
	defer a.w.mu.Unlock()
	n := len(a.w.records)
	a.w.records = map[string]bool{}
	a.w.faultAt, a.w.faultOn = time.Now(), true
	return n, nil
}

func (a *fakeApp) Close() error { return nil }

// fakeBackups stands in for the backup engine: a backup copies the app's
// records, a restore puts the copy back.
type fakeBackups struct {
	w     *world
	clk   testClock
	n     int
	fails error
}

func (b *fakeBackups) Backup(ctx context.Context, t *target.Target) (BackupCut, error) {
	if b.fails != nil {
		return BackupCut{}, b.fails
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	b.n++
	id := fmt.Sprintf("backup-%d", b.n)
	b.w.backups[id] = maps(b.w.records)
	b.w.cuts[id] = b.clk.HostNow()
	cut := BackupCut{ID: id, At: b.w.cuts[id], Wall: time.Now()}
	b.w.mu.Unlock()
	// Writing the backup out takes a second after its cut.
	err := sleep(ctx, time.Second)
	b.w.mu.Lock()
	return cut, err
}

func (b *fakeBackups) Restore(ctx context.Context, t *target.Target, id string) error {
	// A restore takes 3 s, without holding the app's lock: the probes
	// keep running (and failing) through it.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	b.w.records = maps(b.w.backups[id])
	b.w.faultOn = false
	return nil
}

func (b *fakeBackups) Latest(ctx context.Context, t *target.Target, tag string, before clock.Instant) (BackupCut, error) {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	var best BackupCut
	for id, at := range b.w.cuts {
		if d, err := before.Sub(at); err == nil && d > 0 && (best.ID == "" || at.Monotonic > best.At.Monotonic) {
			best = BackupCut{ID: id, At: at}
		}
	}
	if best.ID == "" {
		return best, errors.New("no backup before the fault")
	}
	return best, nil
}

func maps(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// testClock reads the bubble's fake time, host instants included.
type testClock struct{ epoch time.Time }

func (c testClock) Now() time.Time { return time.Now() }
func (c testClock) HostNow() clock.Instant {
	return clock.Instant{Boot: "test-boot", Monotonic: time.Since(c.epoch) + time.Hour}
}

// harness is one test's cluster, app and runner.
type harness struct {
	t     *testing.T
	w     *world
	kube  *fake.Clientset
	dyn   *dynfake.FakeDynamicClient
	opts  Options
	runID string
	marks chan string
	out   *strings.Builder
}

var chaosGVRs = map[schema.GroupVersionResource]string{
	{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "networkchaos"}: "NetworkChaosList",
	{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "podchaos"}:     "PodChaosList",
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, runID: strings.ReplaceAll(t.Name(), "/", "-"), marks: make(chan string, 4), out: &strings.Builder{}}
	h.w = &world{records: map[string]bool{}, backups: map[string]map[string]bool{}, cuts: map[string]clock.Instant{}}
	worldsMu.Lock()
	worlds[h.runID] = h.w
	worldsMu.Unlock()
	t.Cleanup(func() { worldsMu.Lock(); delete(worlds, h.runID); worldsMu.Unlock() })

	labels := map[string]string{"app": "fake"}
	three := int32(3)
	objs := []runtime.Object{&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: fakeNS},
		Spec: appsv1.StatefulSetSpec{Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}}},
		Status: appsv1.StatefulSetStatus{ReadyReplicas: 3},
	}}
	for i := range 3 {
		objs = append(objs, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: fakeNS, Labels: labels},
			Spec:       corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i)},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("127.0.0.%d", i+10)},
		})
	}
	h.kube = fake.NewClientset(objs...)
	h.dyn = dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), chaosGVRs)
	// The Chaos Mesh controller's stand-in: on create it marks every
	// target injected (unless told never to) and the fault takes effect;
	// on delete the fault ends.
	h.dyn.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
		h.w.mu.Lock()
		defer h.w.mu.Unlock()
		h.w.faultAt, h.w.faultOn = time.Now(), true
		if !h.w.neverConfirm {
			setInjected(obj)
		} else {
			// What Chaos Mesh writes when its daemon fails to inject:
			// the target selected, its record not injected, the failure
			// in the record's last event.
			_ = unstructured.SetNestedSlice(obj.Object, []any{
				map[string]any{"type": "Selected", "status": "True"},
				map[string]any{"type": "AllInjected", "status": "False"},
			}, "status", "conditions")
			_ = unstructured.SetNestedSlice(obj.Object, []any{map[string]any{
				"id": fakeNS + "/app-0", "phase": "Not Injected",
				"events": []any{map[string]any{"type": "Failed", "operation": "Apply", "message": "no such container: app"}},
			}}, "status", "experiment", "containerRecords")
		}
		return false, nil, nil
	})
	h.dyn.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		h.w.mu.Lock()
		h.w.faultOn = false
		h.w.mu.Unlock()
		return false, nil, nil
	})
	h.opts = Options{
		Yes: true, AllowNamespaces: []string{fakeNS}, StateDir: t.TempDir(),
		Out: h.out, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock: testClock{epoch: time.Now()}, Baseline: 2 * time.Second, PollEvery: 200 * time.Millisecond,
		Marks: h.marks,
	}
	return h
}

// setInjected writes the status Chaos Mesh's controller writes once every
// target is injected.
func setInjected(obj *unstructured.Unstructured) {
	_ = unstructured.SetNestedSlice(obj.Object, []any{
		map[string]any{"type": "AllInjected", "status": "True"},
		map[string]any{"type": "AllRecovered", "status": "False"},
	}, "status", "conditions")
	_ = unstructured.SetNestedSlice(obj.Object, []any{map[string]any{
		"id": fakeNS + "/app-0", "phase": "Injected", "injectedCount": int64(1),
	}}, "status", "experiment", "containerRecords")
}

// scenario is a pause of one member for d through Chaos Mesh, fast probes
// and a 2 s stability window.
func (h *harness) scenario(d time.Duration) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: "s", Source: scenarios.Source{File: "s.yaml", Line: 1}, Disruption: scenarios.DisruptionNode,
		Target: scenarios.Target{Namespace: fakeNS, LabelSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "fake"}},
			Driver: fakeDriver, Endpoints: scenarios.Endpoints{Mode: scenarios.EndpointModeURLs, URLs: []string{"fake://app"}}},
		Fault: scenarios.Fault{Kind: scenarios.FaultPause, Via: scenarios.ViaChaosMesh, Pod: "app-0", Duration: d},
		Probes: scenarios.Probes{
			Availability: scenarios.AvailabilityProbe{Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond, StabilityWindow: 2 * time.Second},
			Writes:       scenarios.WriteProbe{Writers: 1, Rate: 10, ReadBackInterval: time.Second},
		},
		Recovery:      scenarios.Recovery{Path: scenarios.RecoverySelfHeal, Timeout: 2 * time.Minute},
		PhaseTimeouts: scenarios.PhaseTimeouts{SteadyState: 10 * time.Second, Inject: 5 * time.Second, Observe: max(30*time.Second, d), Recover: 3 * time.Minute, Verify: 10 * time.Second},
	}
}

func (h *harness) run(ss ...*scenarios.Scenario) (*reports.Run, error) {
	h.t.Helper()
	r, err := New(h.opts, h.kube, h.dyn, ss)
	if err != nil {
		h.t.Fatal(err)
	}
	return r.Run(context.Background(), h.runID, ss)
}

// journalStates reads the fault's journal states in order.
func (h *harness) journalStates() []string {
	h.t.Helper()
	f, err := os.Open(filepath.Join(journal.JournalDir(h.opts.StateDir), h.runID+".jsonl"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	var states []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e journal.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			h.t.Fatal(err)
		}
		states = append(states, e.State)
	}
	return states
}

func (h *harness) chaosObjects() int {
	n := 0
	for gvr := range chaosGVRs {
		l, err := h.dyn.Resource(gvr).Namespace(fakeNS).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		n += len(l.Items)
	}
	return n
}

func ms(m *measure.Millis) time.Duration {
	if m == nil {
		return -1
	}
	return m.Duration()
}

func near(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }

func TestPhaseMachineDelayedOutageCountsInFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		// The fault is confirmed at once but the app goes down only 12 s
		// later, for 18 s: a slow-onset fault such as a cloud VM stop.
		h.w.down = [][2]time.Duration{{12 * time.Second, 30 * time.Second}}
		run, err := h.run(h.scenario(40 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		sc := run.Scenarios[0]
		res := sc.Result
		if sc.Error != "" {
			t.Fatalf("error: %s\n%s", sc.Error, h.out)
		}
		if rto := ms(res.RTO); !near(rto, 30*time.Second, 700*time.Millisecond) {
			t.Errorf("RTO %s, want about 30 s (outage from 12 s to 30 s after T0)", rto)
		}
		if tti := ms(res.TimeToImpact); !near(tti, 12*time.Second, 700*time.Millisecond) {
			t.Errorf("time to impact %s, want about 12 s", tti)
		}
		if len(res.Outages) != 1 {
			t.Errorf("outages %+v, want one", res.Outages)
		}
		// The report carries every probe (the HTML timeline draws them),
		// the baseline's included: at least those counted after T0.
		failed, all := 0, 0
		for _, sp := range sc.Probes {
			all += sp.Count
			if !sp.OK {
				failed += sp.Count
			}
		}
		if failed < res.FailedProbes || all < res.Probes || res.FailedProbes == 0 {
			t.Errorf("probe track holds %d probes (%d failed), result counts %d (%d failed)", all, failed, res.Probes, res.FailedProbes)
		}
		if want := "fake-app in demo (app=fake)"; sc.Target != want {
			t.Errorf("target %q, want %q", sc.Target, want)
		}
		if res.Verdict.Pass != true && len(res.Verdict.Breaches) > 0 && strings.Contains(res.Verdict.Breaches[0], "not restored") {
			t.Errorf("breaches %v", res.Verdict.Breaches)
		}
		if got := h.journalStates(); !slices.Equal(got, []string{journal.StatePending, journal.StateApplied, journal.StateRecovered}) {
			t.Errorf("journal states %v, want pending, applied, recovered", got)
		}
		if n := h.chaosObjects(); n != 0 {
			t.Errorf("%d Chaos Mesh objects left", n)
		}
	})
}

func TestPhaseMachineFaultStartingAfterT0(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.w.down = [][2]time.Duration{{0, 5 * time.Second}} // from when it acts
		s := h.scenario(5 * time.Second)
		s.Fault.StartAfter = 12 * time.Second
		s.PhaseTimeouts.Observe = 30 * time.Second
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		res := run.Scenarios[0].Result
		if rto := ms(res.RTO); rto < 17*time.Second || rto > 18*time.Second {
			t.Errorf("RTO %s, want at least startAfter 12 s + pause 5 s, within a probe timeout", rto)
		}
	})
}

func TestPhaseMachineFlappingAppReportsEveryOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		// Three short outages, each followed by more than the 2 s window
		// of successes; the last one after the fault is undone (at 10 s),
		// before a window of successes has passed since.
		h.w.down = [][2]time.Duration{{1 * time.Second, 2 * time.Second}, {6 * time.Second, 7 * time.Second}, {11 * time.Second, 12 * time.Second}}
		run, err := h.run(h.scenario(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		res := run.Scenarios[0].Result
		if len(res.Outages) != 3 {
			t.Fatalf("outages %+v, want 3\n%s", res.Outages, h.out)
		}
		if rto := ms(res.RTO); !near(rto, 12*time.Second, 700*time.Millisecond) {
			t.Errorf("RTO %s, want the end of the last outage, about 12 s", rto)
		}
		if dt := res.Downtime.Duration(); !near(dt, 3*time.Second, 1500*time.Millisecond) {
			t.Errorf("downtime %s, want the sum of the outages, about 3 s", dt)
		}
	})
}

func TestPhaseMachineUnconfirmedFaultIsAnErrorAndRolledBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.w.neverConfirm = true
		run, err := h.run(h.scenario(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		sc := run.Scenarios[0]
		if sc.Status() != reports.StatusError || !strings.Contains(sc.Error, "fault never took effect") || !strings.Contains(sc.Error, "no such container: app") {
			t.Fatalf("status %s, error %q; want ERROR naming the fault never took effect and the object's status", sc.Status(), sc.Error)
		}
		if n := h.chaosObjects(); n != 0 {
			t.Errorf("%d Chaos Mesh objects left after the rollback", n)
		}
		if got := h.journalStates(); got[len(got)-1] != journal.StateRecovered {
			t.Errorf("journal states %v, want it to end recovered", got)
		}
	})
}

func TestPhaseMachineLostWritesBeyondThePromiseBreach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.w.loseAfterFault = true
		run, err := h.run(h.scenario(3 * time.Second)) // no RPO target: the ladder is unset
		if err != nil {
			t.Fatal(err)
		}
		v := run.Scenarios[0].Result.Verdict
		if v.Pass || !strings.Contains(strings.Join(v.Breaches, "; "), "acknowledged") {
			t.Errorf("verdict %+v: a lost acknowledged write must breach the strict promise even with no target", v)
		}
	})
}

func TestPhaseMachineAbortsOnLostWritesDuringTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.w.loseAfterFault = true
		s := h.scenario(60 * time.Second)
		s.Abort.MaxLostWrites = new(3)
		start := time.Now()
		run, err := h.run(s)
		if !errors.Is(err, ErrAborted) || !run.Aborted {
			t.Fatalf("err %v, aborted %v; want the run aborted", err, run.Aborted)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("aborted after %s; the read-back every 1 s should stop it within seconds of the fault", took)
		}
		if !strings.Contains(run.AbortReason, "abort.maxLostWrites") {
			t.Errorf("abort reason %q", run.AbortReason)
		}
		if n := h.chaosObjects(); n != 0 {
			t.Errorf("%d Chaos Mesh objects left after the abort", n)
		}
	})
}

func TestPhaseMachineRestoreFromBackupBeforeTheFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		eng := &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock)}
		h.opts.Backup = eng
		s := h.scenario(0)
		s.Disruption = scenarios.DisruptionHumanError
		s.Fault = scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Prefix: "/rebound/"}}
		s.Backup.Before = true
		s.Recovery.Path = scenarios.RecoveryRestore
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		res := run.Scenarios[0].Result
		if res.RestoredBackup != "backup-1" || res.LostBeforeBackupCount != 0 || res.ExpectedLossCount == 0 {
			t.Errorf("restored %q, lost before the cut %d, expected loss %d; want backup-1, 0, some\n%s", res.RestoredBackup, res.LostBeforeBackupCount, res.ExpectedLossCount, h.out)
		}
		if age := ms(res.BackupAge); age < time.Second {
			t.Errorf("backup age %s, want at least the second the backup took after its cut", age)
		}
	})
}

func TestPhaseMachineRestoreFromSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		eng := &fakeBackups{w: h.w, clk: h.opts.Clock.(testClock)}
		h.opts.Backup = eng
		if _, err := eng.Backup(context.Background(), nil); err != nil { // the schedule's, before the run
			t.Fatal(err)
		}
		s := h.scenario(0)
		s.Disruption = scenarios.DisruptionHumanError
		s.Fault = scenarios.Fault{Kind: scenarios.FaultAppDelete, AppDelete: &scenarios.AppDelete{Prefix: "/rebound/"}}
		s.Backup.Schedule = "every-30s"
		s.Recovery.Path = scenarios.RecoveryRestore
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		res := run.Scenarios[0].Result
		if res.RestoredBackup != "backup-1" || res.LostBeforeBackupCount != 0 {
			t.Errorf("restored %q, lost before the cut %d\n%s", res.RestoredBackup, res.LostBeforeBackupCount, h.out)
		}
	})
}

func TestPhaseMachineManualRecoveryWaitsForTheMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		// The app goes down 12 s after the fault, for 6 s, long after
		// the probes first looked fine for a stability window; the
		// person marks recovery 25 s after the fault.
		h.w.down = [][2]time.Duration{{12 * time.Second, 18 * time.Second}}
		s := h.scenario(0)
		s.Fault = scenarios.Fault{Kind: scenarios.FaultPodKill, Via: scenarios.ViaChaosMesh, Pod: "app-0"}
		s.Recovery.Path = scenarios.RecoveryManual
		go func() {
			time.Sleep(2*time.Second + 25*time.Second) // baseline, then 25 s after the fault
			h.marks <- "recovered"
		}()
		run, err := h.run(s)
		if err != nil {
			t.Fatal(err)
		}
		res := run.Scenarios[0].Result
		if rto := ms(res.RTO); !near(rto, 18*time.Second, 700*time.Millisecond) {
			t.Errorf("RTO %s, want about 18 s: observation waits for the person's mark\n%s", rto, h.out)
		}
		// Observed ends at the last probe counted, which may be one that
		// started a probe interval before the end: allow two.
		if obs := res.Observed.Duration(); obs < 27*time.Second-200*time.Millisecond {
			t.Errorf("observed %s after T0, want at least the mark (25 s) and a 2 s window", obs)
		}
	})
}

func TestPhaseMachineRollsBackOnEveryFailingPhase(t *testing.T) {
	for _, tc := range []struct {
		name       string
		set        func(h *harness, s *scenarios.Scenario)
		wantStates []string // journal states; nil: no journal entry at all
		wantErr    string
	}{
		{"steady state: unhealthy app, nothing journaled", func(h *harness, s *scenarios.Scenario) { h.w.unhealthy = true }, nil, "not healthy"},
		{"backup fails: no fault journaled", func(h *harness, s *scenarios.Scenario) {
			h.opts.Backup = &fakeBackups{w: h.w, fails: errors.New("repository unreachable")}
			s.Backup.Before = true
		}, nil, "repository unreachable"},
		{"recover phase times out: aborted and rolled back", func(h *harness, s *scenarios.Scenario) {
			h.w.down = [][2]time.Duration{{0, time.Hour}} // never comes back
			s.Recovery.Timeout = time.Hour                // the phase's own timeout ends it first
			s.PhaseTimeouts.Recover = 20 * time.Second
		}, []string{journal.StatePending, journal.StateApplied, journal.StateRecovered}, "phaseTimeouts.recover"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				s := h.scenario(5 * time.Second)
				tc.set(h, s)
				run, err := h.run(s)
				msg := run.AbortReason
				if len(run.Scenarios) > 0 {
					msg += run.Scenarios[0].Error
				}
				if !strings.Contains(msg, tc.wantErr) {
					t.Errorf("error %q (run err %v), want it to say %q", msg, err, tc.wantErr)
				}
				if tc.wantStates == nil {
					if _, err := os.Stat(filepath.Join(journal.JournalDir(h.opts.StateDir), h.runID+".jsonl")); err == nil {
						if got := h.journalStates(); len(got) != 0 {
							t.Errorf("journal states %v, want none", got)
						}
					}
				} else if got := h.journalStates(); !slices.Equal(got, tc.wantStates) {
					t.Errorf("journal states %v, want %v", got, tc.wantStates)
				}
				if n := h.chaosObjects(); n != 0 {
					t.Errorf("%d Chaos Mesh objects left", n)
				}
			})
		})
	}
}

// A fault whose duration is exactly phaseTimeouts.observe (the default for
// a 30 s fault) is valid and must not overrun the phase: the default game
// day's node-loss aborted this way.
func TestPhaseMachineFaultAsLongAsTheObservePhase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.opts.PollEvery = 700 * time.Millisecond // polls that do not divide the duration
		s := h.scenario(30 * time.Second)
		s.PhaseTimeouts.Observe = 30 * time.Second
		run, err := h.run(s)
		if err != nil || run.Aborted {
			t.Fatalf("err %v, aborted %v (%s)\n%s", err, run.Aborted, run.AbortReason, h.out)
		}
		if st := run.Scenarios[0].Status(); st != reports.StatusPass {
			t.Errorf("status %s, want PASS\n%s", st, h.out)
		}
	})
}

// A member that never comes back keeps full redundancy away until the
// recovery timeout, which equals phaseTimeouts.recover (the defaults): the
// scenario is a measured breach with its final read, not an aborted run.
func TestPhaseMachineRecoveryTimeoutAsLongAsTheRecoverPhase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.w.unhealthyAfterFault = true
		h.opts.PollEvery = 700 * time.Millisecond
		s := h.scenario(5 * time.Second)
		s.Recovery.Timeout, s.PhaseTimeouts.Recover = 30*time.Second, 30*time.Second
		run, err := h.run(s)
		if err != nil || run.Aborted {
			t.Fatalf("err %v, aborted %v (%s)\n%s", err, run.Aborted, run.AbortReason, h.out)
		}
		res := run.Scenarios[0].Result
		if res.RedundancyRestored || !res.DataChecked {
			t.Errorf("redundancy restored %v, data checked %v: want not restored, with the final read made\n%s", res.RedundancyRestored, res.DataChecked, h.out)
		}
		if st := run.Scenarios[0].Status(); st != reports.StatusBreach {
			t.Errorf("status %s, want BREACH", st)
		}
	})
}
