package scenarios_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.output.yaml files from the current output")

// TestGolden parses every testdata/*.input.yaml and compares the result with
// its *.output.yaml: the defaulted objects for valid input, the rendered
// problems for invalid input. Run with -update after a deliberate change and
// review the diff.
func TestGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.input.yaml")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, filepath.Base(in), data)
			out := filepath.Join("testdata", name+".output.yaml")
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs (-want +got), run with -update if intended:\n%s", out, diff)
			}
		})
	}
}

// render is what the golden files hold: the objects as rebound understood
// them, or every problem as a person reads it.
func render(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	objs, err := scenarios.Parse(name, data)
	if err != nil {
		return []byte("# error\n" + err.Error() + "\n")
	}
	var docs [][]byte
	for _, s := range objs.Scenarios {
		docs = append(docs, mustYAML(t, scenarios.ScenarioToV1Alpha1(s)))
	}
	for _, l := range objs.Ladders {
		docs = append(docs, mustYAML(t, scenarios.LadderToV1Alpha1(l)))
	}
	for _, d := range objs.Drills {
		docs = append(docs, mustYAML(t, scenarios.DrillToV1Alpha1(d)))
	}
	return bytes.Join(docs, []byte("---\n"))
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := scenarios.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
