package etcd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"

	"github.com/reboundhq/rebound/internal/etcdtest"
	"github.com/reboundhq/rebound/internal/silentapi"
)

// startMember starts a one-member etcd, in process, and returns its
// client URL.
func startMember(t *testing.T) string {
	t.Helper()
	return etcdtest.Start(t, "default", nil)
}

// silentMember stands in for a member that takes connections and never
// answers (a wiped member in a bad state, a frozen process): it returns
// the URL of a listener that accepts and then says nothing.
func silentMember(t *testing.T) string { return "http://" + silentapi.Listen(t) }

// A member that never answers holds its status call for the whole budget.
// Health must still see that the cluster serves reads, and not report a
// lost quorum because the read was left no time (it once ran after the
// status calls, and the default game day's disk-loss report said "no
// quorum" while every write was acknowledged).
func TestHealthWithAMemberThatNeverAnswers(t *testing.T) {
	ctx := context.Background()
	live, silent := startMember(t), silentMember(t)
	d, err := New(ctx, apps.Config{Endpoints: apps.Endpoints{URLs: []string{live, silent}}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.(*Driver).cli.Close()
	if err := d.(*Driver).Read(ctx); err != nil {
		t.Fatalf("read through the live member: %v", err)
	}

	hctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	h, err := d.Health(hctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("health after %s: %+v", time.Since(start).Round(time.Millisecond), h)
	if !h.Serving || strings.Contains(h.Detail, "read failed") {
		t.Errorf("health says the cluster does not serve: %q", h.Detail)
	}
	if h.Healthy != 1 || h.Full {
		t.Errorf("healthy %d, full %v; want 1 healthy (the silent member is not) and not full", h.Healthy, h.Full)
	}
}
