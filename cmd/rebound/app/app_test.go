package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/cmd/rebound/app"
	"github.com/reboundhq/rebound/internal/silentapi"
)

// silentAPIServer stands in for a cluster whose API server accepts
// connections and never answers; it returns its address.
func silentAPIServer(t *testing.T) string { return silentapi.Listen(t) }

// TestRunUnreachableClusterIsNotRun is the user's view of an unreachable
// cluster: `rebound run` against it ends quickly with the documented "could
// not run" code, and says which server did not answer.
func TestRunUnreachableClusterIsNotRun(t *testing.T) {
	t.Parallel()
	addr := silentAPIServer(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: silent
  cluster: {server: "https://` + addr + `", insecure-skip-tls-verify: true}
contexts:
- name: silent-ctx
  context: {cluster: silent, user: u}
current-context: silent-ctx
users:
- name: u
  user: {token: x}
`
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	start := time.Now()
	err := app.Run(streams.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut},
		[]string{"run", "--kubeconfig", kubeconfig, "--yes", "--report-dir", filepath.Join(dir, "report")})
	elapsed := time.Since(start)

	if got := exitcode.Of(err); got != exitcode.NotRun {
		t.Errorf("exit code = %d (%v), want %d (NotRun)", got, err, exitcode.NotRun)
	}
	if elapsed > 15*time.Second {
		t.Errorf("took %s to give up on a cluster that does not answer, want under 15s", elapsed.Round(time.Second))
	}
	for _, want := range []string{"https://" + addr, "context silent-ctx", "did not answer within 10s"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut.String())
		}
	}
}

// TestRunBadReportFlags: a report format or folder that cannot be written
// is refused before anything runs (the kubeconfig named does not even
// exist), with exit code 2 and an error that says what to give instead;
// nothing is created.
func TestRunBadReportFlags(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "a-file")
	if err := os.WriteFile(file, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown format", []string{"--format", "json,pdf", "--report-dir", filepath.Join(root, "report")},
			[]string{`unknown report format "pdf"`, "known formats are html, json, junit, markdown, prometheus, table"}},
		{"report folder under a file", []string{"--report-dir", filepath.Join(file, "report")},
			[]string{filepath.Join(file, "report"), file + " is a file, not a folder", "give --report-dir a folder that can be written"}},
		{"report folder is a file", []string{"--report-dir", file},
			[]string{file + " is a file, not a folder", "give --report-dir a folder that can be written"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			args := append([]string{"run", "--kubeconfig", filepath.Join(root, "no-kubeconfig"), "--yes"}, tt.args...)
			err := app.Run(streams.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, args)
			if got := exitcode.Of(err); got != exitcode.InvalidInput {
				t.Errorf("exit code = %d (%v), want %d (InvalidInput)", got, err, exitcode.InvalidInput)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr does not say %q:\n%s", want, errOut.String())
				}
			}
		})
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v after refused runs, want only a-file", root, names)
	}
}
