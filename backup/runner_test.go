package backup

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/reboundhq/rebound/runner"
)

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
	fault := time.Now()
	time.Sleep(5 * time.Millisecond)
	take("schedule-shop") // after the fault: never the one restored

	re := h.e.ForRunner()
	tgt := &runner.Target{Namespace: "shop"}
	id, cut, err := re.Latest(ctx, tgt, "schedule-shop", fault)
	if err != nil {
		t.Fatal(err)
	}
	if id != want.ID || !cut.Equal(want.Manifest.Cut) {
		t.Errorf("Latest = %s, want %s (the newest of the schedule before the fault)", id[:8], want.ID[:8])
	}
	if _, _, err := re.Latest(ctx, tgt, "no-such-schedule", fault); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown schedule: %v, want ErrNotFound", err)
	}
	if _, _, err := re.Latest(ctx, &runner.Target{Namespace: "other"}, "schedule-shop", fault); !errors.Is(err, ErrNotFound) {
		t.Errorf("another namespace's backups must not be restored: %v", err)
	}
}

func TestESIndicesHoldTheProbeIndexAndTheScenarios(t *testing.T) {
	t.Parallel()
	tgt := &runner.Target{Prefix: "rebound-r1-del"}
	if got := esIndices(tgt); got != nil {
		t.Errorf("no indices named: %v, want the engine's default (the probe index)", got)
	}
	tgt.Backup.ESIndices = []string{"products", "rebound-r1-del"}
	if got := esIndices(tgt); !slices.Equal(got, []string{"rebound-r1-del", "products"}) {
		t.Errorf("indices %v, want the probe index once, then products", got)
	}
}
