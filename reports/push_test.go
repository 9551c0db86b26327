package reports_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/reboundhq/rebound/reports"
)

// pushgatewayDouble stands in for a Prometheus Pushgateway on 127.0.0.1: it
// records each push and answers with status.
type pushgatewayDouble struct {
	*httptest.Server
	status int

	mu     sync.Mutex
	pushes []recordedPush
}

type recordedPush struct {
	method, path, contentType, body string
	user, pass                      string
	auth                            bool
}

func newPushgatewayDouble(t *testing.T, status int) *pushgatewayDouble {
	t.Helper()
	d := &pushgatewayDouble{status: status}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p := recordedPush{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), body: string(b)}
		p.user, p.pass, p.auth = r.BasicAuth()
		d.mu.Lock()
		d.pushes = append(d.pushes, p)
		d.mu.Unlock()
		w.WriteHeader(d.status)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *pushgatewayDouble) received() []recordedPush {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]recordedPush(nil), d.pushes...)
}

func TestPush(t *testing.T) {
	t.Parallel()
	gw := newPushgatewayDouble(t, http.StatusOK)
	if err := reports.Push(context.Background(), gw.URL, "rebound", fixtureRun(t)); err != nil {
		t.Fatal(err)
	}
	got := gw.received()
	if len(got) != 1 {
		t.Fatalf("%d pushes, want 1", len(got))
	}
	p := got[0]
	if p.method != http.MethodPut || p.path != "/metrics/job/rebound" {
		t.Errorf("push %s %s, want PUT /metrics/job/rebound (replace the job's metrics)", p.method, p.path)
	}
	if !strings.HasPrefix(p.contentType, "text/plain") {
		t.Errorf("content type %q, want the text format", p.contentType)
	}
	for _, want := range []string{
		`rebound_rto_seconds{disruption="node",fault="node-stop",recovery="self-heal",run="20260314-090000-gameday",scenario="etcd-node-stop"} 16.2`,
		`rebound_lost_writes{disruption="human-error",fault="delete-keys",recovery="restore",run="20260314-090000-gameday",scenario="etcd-delete-keys"} 13`,
		`rebound_target_met{disruption="zone",fault="zone-freeze",recovery="self-heal",run="20260314-090000-gameday",scenario="etcd-zone-freeze",target="rto"} 0`,
		`rebound_scenario_pass{disruption="node",fault="node-stop",recovery="self-heal",run="20260314-090000-gameday",scenario="etcd-node-stop"} 1`,
		`rebound_achieved_rung_level{disruption="node",ladder="default",run="20260314-090000-gameday"} 2`,
	} {
		if !strings.Contains(p.body, want+"\n") {
			t.Errorf("pushed body lacks %s", want)
		}
	}
	if strings.Contains(p.body, `rebound_rto_seconds{disruption="zone"`) {
		t.Error("pushed an RTO for a scenario that was not restored")
	}
}

func TestPushCredentials(t *testing.T) {
	t.Parallel()
	gw := newPushgatewayDouble(t, http.StatusInternalServerError)
	u := strings.Replace(gw.URL, "http://", "http://ci:s3cret@", 1)
	err := reports.Push(context.Background(), u, "rebound", fixtureRun(t))
	if err == nil {
		t.Fatal("Push succeeded against a failing Pushgateway")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("error %v does not give the status", err)
	}
	got := gw.received()
	if len(got) != 1 || !got[0].auth || got[0].user != "ci" || got[0].pass != "s3cret" {
		t.Errorf("pushes %+v, want one with basic auth ci:s3cret", got)
	}
}

func TestPushRefusesOpenRun(t *testing.T) {
	t.Parallel()
	gw := newPushgatewayDouble(t, http.StatusOK)
	err := reports.Push(context.Background(), gw.URL, "rebound", &reports.Run{ID: "open", StartedAt: runStart})
	if !errors.Is(err, reports.ErrNotFinal) {
		t.Errorf("Push(open run) = %v, want ErrNotFinal", err)
	}
	if n := len(gw.received()); n != 0 {
		t.Errorf("%d pushes for a refused run", n)
	}
}
