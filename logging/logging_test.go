package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestNewRejectsBadValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		level, format string
		wantErr       string // "" for none
	}{
		{"info", "text", ""},
		{"DEBUG", "json", ""},
		{"warning", "text", ""},
		{"error", "json", ""},
		{"verbose", "text", `unknown log level "verbose": use one of debug, info, warn, error`},
		{"info", "yaml", `unknown log format "yaml": use one of text, json`},
		{"", "text", "unknown log level"},
	}
	for _, c := range cases {
		_, err := New(&bytes.Buffer{}, c.level, c.format)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("New(%q, %q): %v", c.level, c.format, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("New(%q, %q) = %v, want an error containing %q", c.level, c.format, err, c.wantErr)
		}
	}
}

// TestJSONCarriesContextKeys: a JSON log is one valid object a line, with
// the run, scenario and fault keys added along the context.
func TestJSONCarriesContextKeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := NewContext(context.Background(), l)
	ctx = With(ctx, KeyRun, "r1")
	ctx = With(ctx, KeyScenario, "pod-kill", KeyFault, "pod-kill")
	FromContext(ctx).Debug("applied", "pods", 1)
	FromContext(ctx).Info("second line")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), buf.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		for k, want := range map[string]string{KeyRun: "r1", KeyScenario: "pod-kill", KeyFault: "pod-kill"} {
			if m[k] != want {
				t.Errorf("%s = %v, want %q in %s", k, m[k], want, line)
			}
		}
	}
}

func TestLevelFilters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "warn", "text")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "shown") {
		t.Errorf("at warn level, got:\n%s", out)
	}
}

func TestFromContextWithoutLoggerIsQuiet(t *testing.T) {
	t.Parallel()
	l := FromContext(context.Background())
	if l.Enabled(context.Background(), 12) {
		t.Error("a context with no logger gave one that writes")
	}
}

// TestHeartbeat runs in a synctest bubble: time is fake, so the waits are
// exact and the test instant.
func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		l, err := New(&buf, "info", "json")
		if err != nil {
			t.Fatal(err)
		}
		ctx := With(NewContext(t.Context(), l), KeyScenario, "s1")

		stop := Heartbeat(ctx, "the app to be healthy", 2*time.Minute)
		time.Sleep(3 * time.Second) // shorter than HeartbeatEvery: silent
		synctest.Wait()
		if buf.Len() != 0 {
			t.Fatalf("a wait shorter than %s printed:\n%s", HeartbeatEvery, buf.String())
		}
		time.Sleep(2*HeartbeatEvery - 3*time.Second + time.Millisecond)
		synctest.Wait()
		stop()
		time.Sleep(3 * HeartbeatEvery) // nothing after stop
		synctest.Wait()
		stop() // twice is fine

		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("want 2 heartbeats in %s, got %d:\n%s", 2*HeartbeatEvery, len(lines), buf.String())
		}
		for i, line := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, line)
			}
			want := map[string]any{
				"msg": "still waiting", "for": "the app to be healthy", "timeout": "2m0s",
				"elapsed": (time.Duration(i+1) * HeartbeatEvery).String(), KeyScenario: "s1",
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("line %d: %s = %v, want %v", i+1, k, m[k], v)
				}
			}
		}
	})
}

func TestHeartbeatStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		l, _ := New(&buf, "info", "text")
		ctx, cancel := context.WithCancel(NewContext(t.Context(), l))
		stop := Heartbeat(ctx, "a restore", 0)
		defer stop()
		time.Sleep(HeartbeatEvery + time.Millisecond)
		synctest.Wait()
		cancel()
		time.Sleep(5 * HeartbeatEvery)
		synctest.Wait()
		out := buf.String()
		if n := strings.Count(out, "still waiting"); n != 1 {
			t.Errorf("want 1 heartbeat before the context ended, got %d:\n%s", n, out)
		}
		if strings.Contains(out, "timeout=") {
			t.Errorf("a wait with no timeout printed one:\n%s", out)
		}
		if !strings.Contains(out, `for="a restore" elapsed=5s`) {
			t.Errorf("heartbeat does not say what and how long:\n%s", out)
		}
	})
}
