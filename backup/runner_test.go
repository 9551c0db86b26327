package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/target"
)

func hostClock(t *testing.T) clock.Instant {
	t.Helper()
	now := clock.Now()
	if now.IsZero() {
		t.Skip("this machine has no boot id: its monotonic clock cannot be named")
	}
	return now
}

// after reports whether a is strictly after b (same boot).
func after(t *testing.T, a, b clock.Instant) bool {
	t.Helper()
	d, err := a.Sub(b)
	if err != nil {
		t.Fatal(err)
	}
	return d > 0
}

func TestRunnerBackupCutIsOnTheHostMonotonicClock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "empty"}})
	ctx := context.Background()
	before := hostClock(t)
	bc, err := h.e.ForRunner().Backup(ctx, &target.Target{Namespace: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	end := clock.Now()
	if bc.At.IsZero() || bc.Unknown != "" {
		t.Fatalf("cut %+v: want an instant of this host's clock", bc)
	}
	if !after(t, bc.At, before) || !after(t, end, bc.At) {
		t.Errorf("cut %v not between %v and %v, when the backup ran", bc.At, before, end)
	}
	if bc.Wall.IsZero() || time.Since(bc.Wall) > time.Minute {
		t.Errorf("wall time of the cut %v", bc.Wall)
	}
	infos, err := h.e.List(ctx)
	if err != nil || len(infos) != 1 {
		t.Fatalf("list: %v %v", infos, err)
	}
	if infos[0].CutAt != bc.At || infos[0].FinishedAt.IsZero() || after(t, bc.At, infos[0].FinishedAt) {
		t.Errorf("listed cut %v finished %v, want the backup's cut %v, finished after it", infos[0].CutAt, infos[0].FinishedAt, bc.At)
	}
	_, m, err := h.e.Describe(ctx, bc.ID)
	if err != nil || m.CutAt != bc.At {
		t.Errorf("manifest cut %v (%v), want %v", m.CutAt, err, bc.At)
	}
}

func TestLatestPicksTheScheduleBackupBeforeTheFault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	take := func(tags ...string) Result {
		res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		return *res
	}
	take("schedule-shop")
	want := take("schedule-shop")
	take("manual")
	fault := hostClock(t)
	time.Sleep(5 * time.Millisecond)
	take("schedule-shop") // after the fault: never the one restored

	re := h.e.ForRunner()
	tgt := &target.Target{Namespace: "shop"}
	bc, err := re.Latest(ctx, tgt, "schedule-shop", fault)
	if err != nil {
		t.Fatal(err)
	}
	if bc.ID != want.ID || bc.At != want.Manifest.CutAt || !bc.Wall.Equal(want.Manifest.Cut) {
		t.Errorf("Latest = %s, want %s (the newest of the schedule before the fault)", bc.ID[:8], want.ID[:8])
	}
	if _, err := re.Latest(ctx, tgt, "no-such-schedule", fault); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown schedule: %v, want ErrNotFound", err)
	}
	if _, err := re.Latest(ctx, &target.Target{Namespace: "other"}, "schedule-shop", fault); !errors.Is(err, ErrNotFound) {
		t.Errorf("another namespace's backups must not be restored: %v", err)
	}
}

// TestLatestRefusesACutFromAnotherHost: a schedule that ran on another
// host (its boot id stands in) took the newest backup; its cut cannot be
// placed on this run's clock, and its wall time is not trusted instead.
func TestLatestRefusesACutFromAnotherHost(t *testing.T) {
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	take := func() Result {
		res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataNone, Tags: []string{"schedule-shop"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		return *res
	}
	take()
	h.e.clock = func() clock.Instant { return clock.Instant{Boot: "another-host-boot", Monotonic: time.Hour} }
	take()
	h.e.clock = clock.Now
	fault := hostClock(t)

	_, err := h.e.ForRunner().Latest(ctx, &target.Target{Namespace: "shop"}, "schedule-shop", fault)
	if err == nil || !strings.Contains(err.Error(), "another host") || !strings.Contains(err.Error(), "spec.backup.before") {
		t.Fatalf("Latest with the newest backup from another host: %v, want a refusal naming it and what to do", err)
	}
	// Once this host's schedule has a newer one, that one is used.
	newer := take()
	fault = clock.Now()
	bc, err := h.e.ForRunner().Latest(ctx, &target.Target{Namespace: "shop"}, "schedule-shop", fault)
	if err != nil || bc.ID != newer.ID {
		t.Errorf("Latest = %+v, %v; want %s (this host's, newer than the other host's)", bc, err, newer.ID[:8])
	}
}

// TestCrashCopyClaimsNoCut: a volume copied file by file while the app ran
// is consistent to no instant; the backup says so instead of claiming a
// cut. A fake API server stands in for the cluster, and the pod's mover
// runs in-process when the engine first looks at the pod.
func TestCrashCopyClaimsNoCut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, shopObjects("shop")...)
	ctx := context.Background()
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "data.db"), []byte("half-written page"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.kube.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p, err := h.kube.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "shop", a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		pod := p.(*corev1.Pod)
		if pod.Status.Phase != corev1.PodSucceeded {
			o := mover.PVCOptions{Common: mover.Common{Token: pod.Labels[LabelMoverGroup], Target: "data-shop-0"}, Namespace: "shop", Path: vol}
			if _, err := mover.BackupPath(ctx, h.e.repo, o); err != nil {
				return true, nil, err
			}
			pod.Status.Phase = corev1.PodSucceeded
			if err := h.kube.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, "shop"); err != nil {
				return true, nil, err
			}
		}
		return true, pod, nil
	})
	res, err := h.e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, Data: DataPVC, Tags: []string{"schedule-shop"}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Level != LevelCrash || m.CutUnknown == "" || !m.CutAt.IsZero() {
		t.Fatalf("crash-level copy: level %s, cut at %v, unknown %q; want no cut and the reason", m.Level, m.CutAt, m.CutUnknown)
	}
	fault := hostClock(t)
	bc, err := h.e.ForRunner().Latest(ctx, &target.Target{Namespace: "shop"}, "schedule-shop", fault)
	if err != nil {
		t.Fatal(err)
	}
	if bc.ID != res.ID || !bc.At.IsZero() || bc.Unknown != m.CutUnknown {
		t.Errorf("Latest = %+v: want the crash copy, with no instant and why", bc)
	}
}
