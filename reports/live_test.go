package reports_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

// serveLive serves l on 127.0.0.1:0 until the test ends and returns the
// /metrics URL and a stop function that returns Serve's result.
func serveLive(t *testing.T, l *reports.Live) (url string, stop func() error) {
	t.Helper()
	srv, err := l.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				result = errors.New("Serve did not return after its context was cancelled")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + srv.Addr().String() + "/metrics", stop
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, "\n"+l+"\n") {
			t.Errorf("scrape lacks %q", l)
		}
	}
}

func TestLiveServe(t *testing.T) {
	t.Parallel()
	l := reports.NewLive("r1")
	url, stop := serveLive(t, l)

	l.Phase("etcd-node-stop", "steady-state")
	for i := range 5 {
		l.Probe("etcd-node-stop", reports.ProbeAvailability, i < 3)
	}
	l.Probe("etcd-node-stop", reports.ProbeRedundancy, true)
	for _, op := range []measure.OpType{measure.OpInvoke, measure.OpOK, measure.OpInvoke, measure.OpFail, measure.OpInvoke, measure.OpInfo, measure.OpInvoke} {
		l.Write("etcd-node-stop", op)
	}
	l.Phase("etcd-node-stop", "inject")
	l.Fault("etcd-node-stop", "node-stop", true)

	wantLines(t, scrape(t, url),
		`rebound_probe_attempts_total{kind="availability",run="r1",scenario="etcd-node-stop"} 5`,
		`rebound_probe_failures_total{kind="availability",run="r1",scenario="etcd-node-stop"} 2`,
		`rebound_probe_failures_total{kind="redundancy",run="r1",scenario="etcd-node-stop"} 0`,
		`rebound_writes_invoked_total{run="r1",scenario="etcd-node-stop"} 4`,
		`rebound_writes_total{outcome="acked",run="r1",scenario="etcd-node-stop"} 1`,
		`rebound_writes_total{outcome="failed",run="r1",scenario="etcd-node-stop"} 1`,
		`rebound_writes_total{outcome="indeterminate",run="r1",scenario="etcd-node-stop"} 1`,
		`rebound_fault_applied{fault="node-stop",run="r1",scenario="etcd-node-stop"} 1`,
		`rebound_phase{phase="inject",run="r1",scenario="etcd-node-stop"} 1`,
		`rebound_phase{phase="steady-state",run="r1",scenario="etcd-node-stop"} 0`,
	)
	if body := scrape(t, url); strings.Contains(body, "rebound_scenario_pass") {
		t.Error("final metrics served before Publish")
	}

	// Flush, then stop: the last scrapes see the final metrics.
	l.Fault("etcd-node-stop", "node-stop", false)
	if err := l.Publish(fixtureRun(t)); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, url)
	wantLines(t, body,
		`rebound_fault_applied{fault="node-stop",run="r1",scenario="etcd-node-stop"} 0`,
		`rebound_scenario_pass{disruption="node",fault="node-stop",recovery="self-heal",run="20260314-090000-gameday",scenario="etcd-node-stop"} 1`,
		`rebound_achieved_rung_level{disruption="node",ladder="default",run="20260314-090000-gameday"} 2`,
	)

	if err := stop(); err != nil {
		t.Fatalf("Serve after stop = %v, want nil", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("still serving after stop")
	}
}

func TestLiveServeBlocksUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reports.NewLive("r").Serve(ctx, "127.0.0.1:0") }()
	select {
	case err := <-done:
		t.Fatalf("Serve returned before its context was done: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestLiveListenRefusesBusyOrBadAddress(t *testing.T) {
	t.Parallel()
	l := reports.NewLive("r")
	srv, err := l.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx) }()
	for _, addr := range []string{srv.Addr().String(), "127.0.0.1:notaport"} {
		if err := reports.NewLive("r").Serve(context.Background(), addr); err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("Serve(%s) = %v, want an error naming the address", addr, err)
		}
	}
}

func TestLivePublishNeedsFinalRun(t *testing.T) {
	t.Parallel()
	if err := reports.NewLive("r").Publish(&reports.Run{ID: "r"}); !errors.Is(err, reports.ErrNotFinal) {
		t.Errorf("Publish(open run) = %v, want ErrNotFinal", err)
	}
}

// TestNilLive: the runner may hold a nil *Live when live metrics are off.
func TestNilLive(t *testing.T) {
	t.Parallel()
	var l *reports.Live
	l.Probe("s", reports.ProbeAvailability, false)
	l.Write("s", measure.OpOK)
	l.Fault("s", "f", true)
	l.Phase("s", "inject")
	if err := l.Publish(fixtureRun(t)); err != nil {
		t.Errorf("Publish on nil = %v", err)
	}
	if l.Registry() != nil {
		t.Error("nil Live has a registry")
	}
}
