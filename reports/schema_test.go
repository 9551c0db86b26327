package reports_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reboundhq/rebound/reports"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(reports.JSONSchema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time must really be one
	if err := c.AddResource(reports.SchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(reports.SchemaURL)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

func reportJSON(t *testing.T, run *reports.Run) []byte {
	t.Helper()
	var b bytes.Buffer
	f, _ := reports.New("json")
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func validate(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

func TestReportValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	aborted := fixtureRun(t)
	aborted.Aborted, aborted.AbortReason = true, "SIGTERM"
	aborted.CleanupIncomplete = []string{"zone-freeze lab-1b"}
	minimal := &reports.Run{ID: "empty", StartedAt: runStart}
	if err := minimal.Finalize(runEnd); err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]*reports.Run{"fixture": fixtureRun(t), "aborted": aborted, "no scenario": minimal} {
		if err := validate(t, sch, reportJSON(t, run)); err != nil {
			t.Errorf("%s: report does not validate: %v", name, err)
		}
	}
}

// TestSchemaRejects shows the schema is not a blank check: reports with a
// missing key, a null list or a wrong type fail it.
func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	tests := map[string]func(map[string]any){
		"no id":              func(m map[string]any) { delete(m, "id") },
		"other schema":       func(m map[string]any) { m["schema"] = "rebound.dev/report/v2" },
		"null list":          func(m map[string]any) { m["cleanupIncomplete"] = nil },
		"unknown key":        func(m map[string]any) { m["rto"] = 1 },
		"bad time":           func(m map[string]any) { m["startedAt"] = "yesterday" },
		"scenario no result": func(m map[string]any) { delete(scenario0(m), "result") },
		"rto as a string":    func(m map[string]any) { result0(m)["rtoMillis"] = "4.2s" },
		"unknown metric": func(m map[string]any) {
			result0(m)["verdict"].(map[string]any)["targets"].([]any)[0].(map[string]any)["metric"] = "mttr"
		},
	}
	base := reportJSON(t, fixtureRun(t))
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			change(m)
			doc, _ := json.Marshal(m)
			if err := validate(t, sch, doc); err == nil {
				t.Errorf("schema accepted a report with %s", name)
			}
		})
	}
}

func scenario0(m map[string]any) map[string]any { return m["scenarios"].([]any)[0].(map[string]any) }
func result0(m map[string]any) map[string]any   { return scenario0(m)["result"].(map[string]any) }

func TestSchemaNamesItsVersion(t *testing.T) {
	t.Parallel()
	var s struct {
		ID         string `json:"$id"`
		Properties struct {
			Schema struct {
				Const string `json:"const"`
			} `json:"schema"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(reports.JSONSchema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != reports.SchemaURL || s.Properties.Schema.Const != reports.SchemaVersion {
		t.Errorf("schema $id %q, schema const %q; want %q, %q", s.ID, s.Properties.Schema.Const, reports.SchemaURL, reports.SchemaVersion)
	}
}
