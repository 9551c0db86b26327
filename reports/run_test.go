package reports_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

func TestFinalizeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*reports.Run)
		at     time.Time
		want   []string // in the error, one per problem
	}{
		{"no id", func(r *reports.Run) { r.ID = "" }, runEnd, []string{"id: must not be empty"}},
		{"other schema", func(r *reports.Run) { r.Schema = "rebound.dev/report/v2" }, runEnd, []string{`schema: "rebound.dev/report/v2"`}},
		{"finished before started", func(*reports.Run) {}, runStart.Add(-time.Second), []string{"is before startedAt"}},
		{"zero finish", func(*reports.Run) {}, time.Time{}, []string{"finishedAt: must not be zero"}},
		{"duplicate names", func(r *reports.Run) { r.Scenarios[1].Name = r.Scenarios[0].Name }, runEnd,
			[]string{`scenarios[1].name: "etcd-node-stop" already used by scenarios[0]`}},
		{"no verdict", func(r *reports.Run) { r.Scenarios[0].Result.Verdict = measure.Verdict{} }, runEnd,
			[]string{`scenarios[0] ("etcd-node-stop"): no verdict`}},
		{"aborted without a reason", func(r *reports.Run) { r.Aborted = true }, runEnd, []string{"abortReason"}},
		{"every problem at once", func(r *reports.Run) { r.ID = ""; r.Scenarios[2].Name = "" }, runEnd,
			[]string{"id: must not be empty", "scenarios[2].name: must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := &reports.Run{
				ID: "r", StartedAt: runStart,
				Scenarios: []reports.Scenario{passScenario(), notRestoredScenario(), restoreScenario(), errorScenario()},
			}
			tt.change(run)
			err := run.Finalize(tt.at)
			if !errors.Is(err, reports.ErrInvalidRun) {
				t.Fatalf("Finalize = %v, want ErrInvalidRun", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if run.Finalized() {
				t.Error("a refused run reads as finalized")
			}
		})
	}
}

func TestFinalizeFillsEmptyLists(t *testing.T) {
	t.Parallel()
	sc := errorScenario() // nil notes, events, result lists
	run := &reports.Run{ID: "r", StartedAt: runStart, Scenarios: []reports.Scenario{sc}}
	if run.Finalized() {
		t.Fatal("finalized before Finalize")
	}
	if err := run.Finalize(runEnd); err != nil {
		t.Fatal(err)
	}
	if !run.Finalized() || run.Schema != reports.SchemaVersion || !run.FinishedAt.Equal(runEnd) {
		t.Fatalf("after Finalize: finalized=%v schema=%q finishedAt=%v", run.Finalized(), run.Schema, run.FinishedAt)
	}
	var b bytes.Buffer
	f, _ := reports.New("json")
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"scenarios": [`, `"achieved": []`, `"cleanupIncomplete": []`, `"notes": []`, `"events": []`, `"lost": []`, `"breaches": []`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("report lacks %s:\n%s", key, b.String())
		}
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sc   reports.Scenario
		want reports.Status
	}{
		{passScenario(), reports.StatusPass},
		{notRestoredScenario(), reports.StatusBreach},
		{restoreScenario(), reports.StatusBug},
		{errorScenario(), reports.StatusError},
	}
	for _, tt := range tests {
		if got := tt.sc.Status(); got != tt.want {
			t.Errorf("%s: Status = %s, want %s", tt.sc.Name, got, tt.want)
		}
	}
}

// TestJSONRoundTrip reads report.json back to the same run: nothing the
// report says is lost in JSON, Targets and Events included.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	var b bytes.Buffer
	f, _ := reports.New("json")
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	got, err := reports.ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(run, got); diff != "" {
		t.Errorf("round trip changed the run (-want +got):\n%s", diff)
	}
}

// An unknown cut and event kinds this version does not name survive the
// round trip and validate against the schema: reports render any kind.
func TestJSONUnknownCutAndEventKinds(t *testing.T) {
	t.Parallel()
	sc := unknownCutScenario()
	sc.Events = append(sc.Events,
		measure.Event{At: 500 * s, Kind: measure.RolledBack, Detail: "mover Secret deleted"},
		measure.Event{At: 501 * s, Kind: "somethingNew", Detail: "a later version's event"})
	run := finalRun(t, sc)
	doc := reportJSON(t, run)
	if err := validate(t, compileSchema(t), doc); err != nil {
		t.Errorf("report does not validate: %v", err)
	}
	if !bytes.Contains(doc, []byte(`"cutUnknown": "volume copied file by file while etcd ran"`)) || !bytes.Contains(doc, []byte(`"bugCheck": "not made: `)) {
		t.Errorf("report.json lacks cutUnknown or bugCheck:\n%s", doc)
	}
	got, err := reports.ReadJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(run, got); diff != "" {
		t.Errorf("round trip changed the run (-want +got):\n%s", diff)
	}
}

func TestReadJSONRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"unknown top-level field", `{"schema":"rebound.dev/report/v1alpha1","id":"r","extra":1}`, `unknown field "extra"`},
		{"unknown field in a scenario", `{"schema":"rebound.dev/report/v1alpha1","id":"r","scenarios":[{"name":"a","rto":1}]}`, `unknown field "rto"`},
		{"other schema", `{"schema":"rebound.dev/report/v9","id":"r"}`, `schema "rebound.dev/report/v9"`},
		{"not JSON", `<testsuites/>`, "invalid character"},
	}
	for _, tt := range tests {
		_, err := reports.ReadJSON(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ReadJSON = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
