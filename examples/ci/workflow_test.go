package ci

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/cmd/rebound/app"
	"github.com/reboundhq/rebound/reports"
)

const workflowFile = "../../.github/workflows/rebound-gameday.yaml"

// workflow is the part of a GitHub Actions workflow the test reads.
type workflow struct {
	Name string               `yaml:"name"`
	On   map[string]any       `yaml:"on"`
	Jobs map[string]job       `yaml:"jobs"`
	Env  map[string]string    `yaml:"env"`
	Perm map[string]string    `yaml:"permissions"`
	Rest map[string]yaml.Node `yaml:",inline"`
}

type job struct {
	RunsOn string            `yaml:"runs-on"`
	Env    map[string]string `yaml:"env"`
	Steps  []step            `yaml:"steps"`
}

type step struct {
	Name            string            `yaml:"name"`
	ID              string            `yaml:"id"`
	If              string            `yaml:"if"`
	Uses            string            `yaml:"uses"`
	Run             string            `yaml:"run"`
	With            map[string]string `yaml:"with"`
	ContinueOnError any               `yaml:"continue-on-error"`
}

func load(t *testing.T) (workflow, job) {
	t.Helper()
	data, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", workflowFile, err)
	}
	if len(w.Jobs) != 1 {
		t.Fatalf("%s: want one job, got %d", workflowFile, len(w.Jobs))
	}
	for _, j := range w.Jobs {
		return w, j
	}
	panic("unreachable")
}

// expand replaces $VAR, "$VAR" and ${{ env.VAR }} with the job's env.
func expand(s string, env map[string]string) string {
	for k, v := range env {
		s = strings.NewReplacer(`"$`+k+`"`, v, "$"+k, v, "${{ env."+k+" }}", v).Replace(s)
	}
	return s
}

// stepWhere returns the index of the first step that matches, or fails.
func stepWhere(t *testing.T, steps []step, what string, match func(step) bool) int {
	t.Helper()
	i := slices.IndexFunc(steps, match)
	if i < 0 {
		t.Fatalf("%s: no step %s", workflowFile, what)
	}
	return i
}

func fileName(t *testing.T, format string) string {
	t.Helper()
	f, err := reports.New(format)
	if err != nil {
		t.Fatal(err)
	}
	return f.FileName()
}

func TestWorkflowIsAGateOnPullRequests(t *testing.T) {
	w, j := load(t)
	if _, ok := w.On["pull_request"]; !ok {
		t.Errorf("on: %v, want pull_request", w.On)
	}
	if j.RunsOn == "" {
		t.Error("the job names no runs-on")
	}
	steps := j.Steps
	checkout := stepWhere(t, steps, "checking out the repository", func(s step) bool { return strings.HasPrefix(s.Uses, "actions/checkout@") })
	setupGo := stepWhere(t, steps, "setting up Go", func(s step) bool { return strings.HasPrefix(s.Uses, "actions/setup-go@") })
	if steps[setupGo].With["go-version-file"] != "go.mod" && steps[setupGo].With["go-version"] == "" {
		t.Errorf("setup-go: with %v, want go-version-file: go.mod", steps[setupGo].With)
	}

	// The gate: `rebound run`, whose exit code fails the step, with flags
	// the real command accepts.
	gate := stepWhere(t, steps, "running `rebound run`", func(s step) bool { return strings.Contains(s.Run, "rebound run") })
	g := steps[gate]
	if checkout > gate || setupGo > gate {
		t.Error("the game day runs before the checkout or the Go set-up")
	}
	if g.ContinueOnError != nil || strings.Contains(g.Run, "|| true") || strings.Contains(g.Run, "make gameday") {
		t.Errorf("step %q hides the exit code (continue-on-error, || true, or make gameday, which turns a breach into success): %q", g.Name, g.Run)
	}
	if strings.Contains(g.Run, "\n") {
		t.Errorf("step %q runs more than `rebound run`; the step's exit code must be rebound's", g.Name)
	}
	fields := strings.Fields(expand(g.Run, j.Env))
	at := slices.IndexFunc(fields, func(f string) bool { return filepath.Base(f) == "rebound" })
	if at < 0 || at+1 >= len(fields) || fields[at+1] != "run" {
		t.Fatalf("step %q: no `rebound run` in %q", g.Name, g.Run)
	}
	args := fields[at+1:]
	root := app.NewCommand(streams.Streams{In: strings.NewReader(""), Out: os.Stderr, Err: os.Stderr})
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Name() != "run" {
		t.Fatalf("rebound %v: %v", args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("step %q: rebound run %v: %v", g.Name, rest, err)
	}
	reportDir, err := cmd.Flags().GetString("report-dir")
	if err != nil {
		t.Fatal(err)
	}
	formats, err := cmd.Flags().GetStringSlice("format")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"markdown", "junit", "html", "json"} {
		if !slices.Contains(formats, want) {
			t.Errorf("step %q writes formats %v, which lack %s", g.Name, formats, want)
		}
	}

	// report.md into the job summary, whatever the outcome.
	summary := stepWhere(t, steps, "writing report.md to $GITHUB_STEP_SUMMARY", func(s step) bool { return strings.Contains(s.Run, "GITHUB_STEP_SUMMARY") })
	sum := steps[summary]
	md := filepath.Join(reportDir, fileName(t, "markdown"))
	if !strings.Contains(expand(sum.Run, j.Env), md) || sum.If != "always()" || summary < gate {
		t.Errorf("summary step %q: want it after the gate, with if: always(), appending %s; got if %q:\n%s", sum.Name, md, sum.If, sum.Run)
	}

	// junit.xml, report.html and report.json kept, whatever the outcome.
	upload := stepWhere(t, steps, "uploading the reports", func(s step) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
	up := steps[upload]
	if up.If != "always()" || upload < gate {
		t.Errorf("upload step %q: want it after the gate with if: always(), got if %q", up.Name, up.If)
	}
	var paths []string
	for _, p := range strings.Split(strings.TrimSpace(expand(up.With["path"], j.Env)), "\n") {
		paths = append(paths, filepath.Clean(strings.TrimSpace(p)))
	}
	for _, format := range []string{"junit", "html", "json"} {
		want := filepath.Join(reportDir, fileName(t, format))
		if !slices.Contains(paths, want) {
			t.Errorf("upload step %q uploads %v, not %s", up.Name, paths, want)
		}
	}
	if up.With["name"] == "" {
		t.Errorf("upload step %q names no artifact", up.Name)
	}

	// The lab goes down even when the gate fails.
	down := stepWhere(t, steps, "taking the lab down", func(s step) bool { return strings.Contains(s.Run, "rebound lab down") })
	if steps[down].If != "always()" || down < gate {
		t.Errorf("lab down step: want it after the gate with if: always(), got if %q", steps[down].If)
	}
}
