package drillcmd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/cmd/rebound/app"
)

// Bad input is refused with a clear error and exit 2 before any cluster
// is reached (none is here: the kubeconfig named does not exist).
func TestBadInput(t *testing.T) {
	t.Parallel()
	missing := "/nonexistent/kubeconfig"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"drill"}, "nothing to drill: give --backup latest|ID, or -n/--namespace and --driver"},
		{[]string{"drill", "-n", "rebound-demo"}, "nothing to drill"},
		{[]string{"drill", "--backup", "latest", "-n", "rebound-demo", "--driver", "etcd"}, "not both"},
		{[]string{"drill", "--backup", "latest", "--count", "3"}, "--count goes with --every"},
		{[]string{"drill", "--backup", "latest", "--probes", "0"}, "give positive values"},
		{[]string{"drill", "--backup", "latest", "--format", "pdf"}, "pdf"},
		{[]string{"drill", "-n", "rebound-demo", "--driver", "etcd", "--selector", "a in (b"}, "--selector"},
		{[]string{"drill", "--backup", "latest", "--every", "nonsense"}, "--every"},
		{[]string{"drill", "--backup", "latest", "--reuse-namespace"}, "--reuse-namespace restores into a namespace that exists: name it with --scratch-namespace"},
		{[]string{"drill", "-f", "../../examples/drill.yaml", "--backup", "latest", "--rto", "1m"}, "sets the drill; drop --backup, --rto"},
		{[]string{"drill", "-f", "../../scenarios/testdata/bad-drill.input.yaml"}, "bad-drill.input.yaml:7: spec.backup"},
		{[]string{"drill", "-f", "../../scenarios/testdata/scenario-minimal.input.yaml"}, "want exactly one Drill, found 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			err := app.Run(streams.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, append(tt.args, "--kubeconfig", missing))
			if code := exitcode.Of(err); code != exitcode.InvalidInput || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q: want %d saying %q", code, errb.String(), exitcode.InvalidInput, tt.want)
			}
		})
	}
}

// A report folder that cannot be written is refused before the drill
// touches anything, naming the folder and the flag.
func TestUnwritableReportDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := app.Run(streams.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		[]string{"drill", "--backup", "latest", "--kubeconfig", "/nonexistent/kubeconfig", "--report-dir", filepath.Join(file, "report")})
	want := file + " is a file, not a folder"
	if code := exitcode.Of(err); code != exitcode.InvalidInput || !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "--report-dir") {
		t.Errorf("exit %d, stderr %q: want %d saying %q and naming --report-dir", code, errb.String(), exitcode.InvalidInput, want)
	}
}

// A cluster that cannot be reached is "could not run", naming the file.
func TestNoClusterIsNotRun(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	err := app.Run(streams.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		[]string{"drill", "--backup", "latest", "--kubeconfig", "/nonexistent/kubeconfig", "--yes"})
	if code := exitcode.Of(err); code != exitcode.NotRun || !strings.Contains(errb.String(), "/nonexistent/kubeconfig") {
		t.Errorf("exit %d, stderr %q: want %d naming the kubeconfig", code, errb.String(), exitcode.NotRun)
	}
}

// The example Drill document loads, and gets as far as the cluster: a
// kubeconfig that does not exist is "could not run", not bad input.
func TestExampleDrillFile(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	err := app.Run(streams.Streams{In: strings.NewReader(""), Out: &out, Err: &errb},
		[]string{"drill", "-f", "../../examples/drill.yaml", "--kubeconfig", "/nonexistent/kubeconfig", "--yes", "--report-dir", t.TempDir()})
	if code := exitcode.Of(err); code != exitcode.NotRun || !strings.Contains(errb.String(), "/nonexistent/kubeconfig") {
		t.Errorf("exit %d, stderr %q: want %d naming the kubeconfig", code, errb.String(), exitcode.NotRun)
	}
}
