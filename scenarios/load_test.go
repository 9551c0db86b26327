package scenarios_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/reboundhq/rebound/scenarios"
)

const validScenario = `apiVersion: rebound.dev/v1alpha1
kind: Scenario
metadata:
  name: %s
spec:
  disruption: node
  target:
    namespace: shop
    labelSelector:
      matchLabels: {app: etcd}
    driver: etcd
  fault:
    kind: pod-kill
    leader: true
`

func scenarioYAML(name string) string { return strings.Replace(validScenario, "%s", name, 1) }

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		files     map[string]string
		path      string // under the temp dir; "" for the dir itself
		scenarios []string
		ladders   []string
		problems  []string // each rendered problem, with the temp dir cut off
	}{
		{
			name:      "one file",
			files:     map[string]string{"a.yaml": scenarioYAML("a")},
			path:      "a.yaml",
			scenarios: []string{"a"},
		},
		{
			name: "folder, nested, both extensions, other files and hidden folders skipped",
			files: map[string]string{
				"a.yaml":          scenarioYAML("a"),
				"sub/b.yml":       scenarioYAML("b"),
				"README.md":       "not yaml",
				".git/c.yaml":     "not: [even valid",
				"ladders/l.yaml":  "apiVersion: rebound.dev/v1alpha1\nkind: Ladder\nmetadata: {name: l}\nspec:\n  rungs: [{name: only}]\n",
				"sub/.hidden/x.y": "",
			},
			scenarios: []string{"a", "b"},
			ladders:   []string{"l"},
		},
		{
			name:     "the example of the design: an unknown field, with its line and fix",
			files:    map[string]string{"bad.yaml": strings.Replace(scenarioYAML("a"), "    kind: pod-kill", "    kindd: pod-kill", 1)},
			path:     "bad.yaml",
			problems: []string{`bad.yaml:13: spec.fault.kindd: unknown field; did you mean "kind"?`},
		},
		{
			name: "problems of every file at once, and names across files",
			files: map[string]string{
				"a.yaml": scenarioYAML("same"),
				"b.yaml": scenarioYAML("same") + "---\n" + scenarioYAML("c") +
					"---\n" + strings.Replace(scenarioYAML("d"), "namespace: shop", "namespace: kube-system", 1),
				"c.yaml": "apiVersion: v1\nkind: ConfigMap\n",
			},
			problems: []string{
				`b.yaml:1: metadata.name: Duplicate value: "same": a Scenario of that name is already defined at a.yaml:1`,
				`b.yaml:38: spec.target.namespace: Forbidden: rebound never injects faults into kube-system: it holds Kubernetes' own components, and an outage there is an outage of the whole cluster, not a test of your app`,
				`c.yaml:1: apiVersion: Unsupported value: "v1": this rebound reads rebound.dev/v1alpha1; this is not a rebound object: keep other manifests out of the files and folders given to rebound`,
			},
		},
		{
			name:     "a folder without YAML",
			files:    map[string]string{"notes.txt": "hi"},
			problems: []string{`: no *.yaml or *.yml files found`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tt.files)
			objs, err := scenarios.Load(filepath.Join(dir, tt.path))
			if len(tt.problems) > 0 {
				if !errors.Is(err, scenarios.ErrInvalid) {
					t.Fatalf("err = %v, want one matching ErrInvalid", err)
				}
				got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
				got = strings.ReplaceAll(got, dir, "")
				if want := strings.Join(tt.problems, "\n"); got != want {
					t.Errorf("problems:\n%s\nwant:\n%s", got, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotS, gotL []string
			for _, s := range objs.Scenarios {
				gotS = append(gotS, s.Name)
			}
			for _, l := range objs.Ladders {
				gotL = append(gotL, l.Name)
			}
			if strings.Join(gotS, ",") != strings.Join(tt.scenarios, ",") || strings.Join(gotL, ",") != strings.Join(tt.ladders, ",") {
				t.Errorf("loaded scenarios %v and ladders %v, want %v and %v", gotS, gotL, tt.scenarios, tt.ladders)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := scenarios.Load(p)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, scenarios.ErrInvalid) {
		t.Errorf("err = %v, want a not-exist error that is not ErrInvalid", err)
	}
	if err != nil && !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v, want it to name %s", err, p)
	}
}

func TestLoadFS(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"x/a.yaml": {Data: []byte(scenarioYAML("a"))},
		"x/b.yaml": {Data: []byte("kind: Scenario\n")},
	}
	_, err := scenarios.LoadFS(fsys, "x")
	if err == nil || !strings.Contains(err.Error(), "x/b.yaml:1: apiVersion: Required value") {
		t.Errorf("err = %v, want the problem of x/b.yaml", err)
	}
}

// TestSourceLines checks that objects of a multi-document file know their
// own line, and that problems in a later document point into the file.
func TestSourceLines(t *testing.T) {
	t.Parallel()
	data := "# comment\n" + scenarioYAML("a") + "---\n" + scenarioYAML("b")
	objs, err := scenarios.Parse("m.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := objs.Scenarios[1].Source.String(); got != "m.yaml:17" {
		t.Errorf("second scenario from %s, want m.yaml:17", got)
	}
	bad := "# comment\n" + scenarioYAML("a") + "    duration: 5s\n" + "---\n" +
		strings.Replace(scenarioYAML("b"), "leader: true", "leader: maybe", 1)
	_, err = scenarios.Parse("m.yaml", []byte(bad))
	want := "m.yaml:16: spec.fault.duration: Forbidden: a pod-kill fault is one-shot: nothing is left to undo, the recovery repairs it; remove duration\n" +
		"m.yaml:31: spec.fault.leader: must be true or false, not the string \"maybe\""
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}
