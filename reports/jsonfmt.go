package reports

import (
	"encoding/json"
	"io"
)

// jsonFormat is report.json: the Run itself, the form other tools read and
// ReadJSON reads back. schema/report.v1alpha1.json describes it.
type jsonFormat struct{}

func (jsonFormat) Name() string     { return "json" }
func (jsonFormat) FileName() string { return "report.json" }

func (jsonFormat) Write(w io.Writer, run *Run) error {
	out := *run // a shallow copy: Write must not change the run
	out.Schema = SchemaVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// "≤", "<" and "&" stay readable: this is not HTML.
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}
