package app_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/reboundhq/rebound/cli/exitcode"
	"github.com/reboundhq/rebound/cli/streams"
	"github.com/reboundhq/rebound/cmd/rebound/app"
	"github.com/reboundhq/rebound/logging"
)

// rootWithLogProbe is the real root command plus a command standing in for
// any rebound command: it logs one line at each level through the logger
// its context carries, with the keys the runner adds.
func rootWithLogProbe(errOut *bytes.Buffer) *cobra.Command {
	s := streams.Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: errOut}
	root := app.NewCommand(s)
	root.AddCommand(&cobra.Command{
		Use: "logprobe",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := logging.With(cmd.Context(), logging.KeyRun, "r1", logging.KeyScenario, "s1", logging.KeyFault, "pod-kill")
			log := logging.FromContext(ctx)
			log.Debug("debug line")
			log.Info("info line")
			log.Warn("warn line")
			return nil
		},
	})
	return root
}

func TestLogFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args    []string
		wantErr string   // "" for none
		want    []string // lines expected on stderr, by message
		notWant []string
	}{
		{args: nil, want: []string{"info line", "warn line"}, notWant: []string{"debug line"}},
		{args: []string{"-v"}, want: []string{"debug line", "info line"}},
		{args: []string{"--log-level", "warn"}, want: []string{"warn line"}, notWant: []string{"info line"}},
		{args: []string{"--log-level", "debug", "-v"}, want: []string{"debug line"}},
		{args: []string{"--log-level", "loud"}, wantErr: `--log-level: unknown log level "loud": use one of debug, info, warn, error`},
		{args: []string{"--log-format", "xml"}, wantErr: `--log-format: unknown log format "xml": use one of text, json`},
		{args: []string{"-v", "--log-level", "error"}, wantErr: `-v asks for debug logs and --log-level for "error": give one of them`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var errOut bytes.Buffer
			root := rootWithLogProbe(&errOut)
			root.SetArgs(append(append([]string{}, c.args...), "logprobe"))
			err := root.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || exitcode.Of(err) != exitcode.InvalidInput {
					t.Fatalf("error %v (exit %d), want %q and exit %d", err, exitcode.Of(err), c.wantErr, exitcode.InvalidInput)
				}
				if errOut.Len() != 0 {
					t.Errorf("a bad flag still logged:\n%s", errOut.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(errOut.String(), w) {
					t.Errorf("stderr has %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

// TestLogFormatJSON: with --log-format json every line on stderr is one
// JSON object carrying the run, scenario and fault keys.
func TestLogFormatJSON(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	root := rootWithLogProbe(&errOut)
	root.SetArgs([]string{"--log-format", "json", "-v", "logprobe"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %d:\n%s", len(lines), errOut.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		for k, v := range map[string]string{"run": "r1", "scenario": "s1", "fault": "pod-kill"} {
			if m[k] != v {
				t.Errorf("%s = %v, want %s: %s", k, m[k], v, line)
			}
		}
		if m["level"] == nil || m["msg"] == nil || m["time"] == nil {
			t.Errorf("no level, msg or time: %s", line)
		}
	}
}
