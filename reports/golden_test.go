package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/reports"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports/ -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got); if the change is meant, run go test ./reports/ -update:\n%s", path, diff)
	}
}

// TestGolden renders the fixture run in every format, and the table in its
// terminal style too, and compares each with its golden file.
func TestGolden(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	type render func(*bytes.Buffer) error
	cases := map[string]render{
		"table-unicode": func(b *bytes.Buffer) error {
			return reports.WriteTable(b, run, reports.TableOptions{Unicode: true})
		},
	}
	for _, name := range reports.Formats() {
		f, err := reports.New(name)
		if err != nil {
			t.Fatal(err)
		}
		cases[name] = func(b *bytes.Buffer) error { return f.Write(b, run) }
	}
	if len(cases) != 7 {
		t.Fatalf("formats: %v, want html, json, junit, markdown, prometheus and table", reports.Formats())
	}
	for name, render := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.Bytes())
		})
	}
}
