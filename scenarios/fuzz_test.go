package scenarios_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reboundhq/rebound/scenarios"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic; every
// error must name the file; and whatever it accepts must, written back with
// Marshal, load again as the same objects. Beyond the corpus committed in
// testdata/fuzz/FuzzLoad, the golden inputs and the built-in files are seeds.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/*.input.yaml", "catalog/*/scenario.yaml", "ladders/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}

	const file = "dir/fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := scenarios.LoadFS(fstest.MapFS{file: {Data: data}}, "dir")
		if err != nil {
			var e *scenarios.Error
			if !errors.As(err, &e) || !errors.Is(err, scenarios.ErrInvalid) {
				t.Fatalf("error is not a *scenarios.Error matching ErrInvalid: %#v", err)
			}
			for _, p := range e.Problems {
				if p.File != file || !strings.HasPrefix(p.String(), file) {
					t.Fatalf("problem without the file name: %#v", p)
				}
			}
			return
		}

		ignore := cmpopts.IgnoreFields(scenarios.Scenario{}, "Source")
		for _, s := range objs.Scenarios {
			out, err := scenarios.Marshal(scenarios.ScenarioToV1Alpha1(s))
			if err != nil {
				t.Fatal(err)
			}
			again, err := scenarios.Parse("again.yaml", out)
			if err != nil {
				t.Fatalf("written back, scenario %s does not load:\n%v\n%s", s.Name, err, out)
			}
			if diff := cmp.Diff(s, again.Scenarios[0], ignore, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("scenario %s changed on a round trip (-before +after):\n%s", s.Name, diff)
			}
		}
		for _, l := range objs.Ladders {
			out, err := scenarios.Marshal(scenarios.LadderToV1Alpha1(l))
			if err != nil {
				t.Fatal(err)
			}
			again, err := scenarios.Parse("again.yaml", out)
			if err != nil {
				t.Fatalf("written back, ladder %s does not load:\n%v\n%s", l.Name, err, out)
			}
			if diff := cmp.Diff(l, again.Ladders[0], cmpopts.IgnoreFields(scenarios.Ladder{}, "Source"), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("ladder %s changed on a round trip (-before +after):\n%s", l.Name, diff)
			}
		}
	})
}
