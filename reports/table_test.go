package reports_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func table(t *testing.T, run *reports.Run, opts reports.TableOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := reports.WriteTable(&b, run, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTableColour(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	tests := []struct {
		opts      reports.TableOptions
		wantColor bool
	}{
		{reports.TableOptions{}, false},
		{reports.TableOptions{Unicode: true}, false},
		{reports.TableOptions{Unicode: true, Color: true}, true},
	}
	for _, tt := range tests {
		out := table(t, run, tt.opts)
		if got := ansi.MatchString(out); got != tt.wantColor {
			t.Errorf("%+v: colour codes present = %v, want %v", tt.opts, got, tt.wantColor)
		}
		// Colour must not shift the borders: every line of a table is
		// as wide as its first, escape codes aside.
		var width int
		for _, line := range strings.Split(ansi.ReplaceAllString(out, ""), "\n") {
			first, _ := utf8.DecodeRuneInString(line)
			isTable := strings.ContainsRune("|+│┌├└", first)
			switch n := utf8.RuneCountInString(line); {
			case !isTable:
				width = 0
			case width == 0:
				width = n
			case n != width:
				t.Errorf("%+v: table line is %d wide, want %d: %q", tt.opts, n, width, line)
			}
		}
		if plain := ansi.ReplaceAllString(out, ""); tt.wantColor && plain != table(t, run, reports.TableOptions{Unicode: true}) {
			t.Errorf("coloured table says something else than the plain one once colour is removed")
		}
	}
}

// TestTablePlainIsASCIIBordered: the fallback draws with ASCII, whatever the
// cells hold.
func TestTablePlainIsASCIIBordered(t *testing.T) {
	t.Parallel()
	out := table(t, fixtureRun(t), reports.TableOptions{})
	if strings.ContainsAny(out, "│┌┬┐├┼┤└┴┘─") {
		t.Errorf("plain table uses box-drawing characters:\n%s", out)
	}
}

func TestTableRows(t *testing.T) {
	t.Parallel()
	out := table(t, fixtureRun(t), reports.TableOptions{})
	row := func(scenario string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "| "+scenario+" ") {
				return l
			}
		}
		t.Fatalf("no row for %s in:\n%s", scenario, out)
		return ""
	}
	tests := []struct {
		scenario string
		want     []string
	}{
		{"etcd-node-stop", []string{"16.2s ±100ms", "38.5s ±500ms", "RTO ≤ 60s, RPO ≤ 0 writes", "PASS"}},
		{"etcd-zone-freeze", []string{"not restored", "not checked", "BREACH: not restored"}},
		{"etcd-delete-keys", []string{"3m05s ±100ms", "12 expected + 1 BUG", "4m10s", "RPO ≤ 15m", "BUG: 1 acked write missing"}},
		{"etcd-disk-fill", []string{"ERROR: inject disk-fill"}},
	}
	for _, tt := range tests {
		r := row(tt.scenario)
		for _, w := range tt.want {
			if !strings.Contains(r, w) {
				t.Errorf("%s row lacks %q: %s", tt.scenario, w, r)
			}
		}
	}
	for _, w := range []string{"node        | silver (level 2)", "region      | not covered", "zone        | none"} {
		if !strings.Contains(out, w) {
			t.Errorf("rung table lacks %q:\n%s", w, out)
		}
	}
}

func TestTableRunState(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	run.Aborted, run.AbortReason = true, "SIGINT received"
	run.CleanupIncomplete = []string{"node-stop lab-1a-1: node did not start"}
	out := table(t, run, reports.TableOptions{})
	for _, w := range []string{"ABORTED: SIGINT received", "CLEANUP INCOMPLETE", "node-stop lab-1a-1: node did not start", "rebound cleanup"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}

	empty := &reports.Run{ID: "empty", StartedAt: runStart}
	if err := empty.Finalize(runEnd); err != nil {
		t.Fatal(err)
	}
	out = table(t, empty, reports.TableOptions{})
	for _, w := range []string{"No scenario ran.", "No ladder"} {
		if !strings.Contains(out, w) {
			t.Errorf("empty run's table lacks %q:\n%s", w, out)
		}
	}
}

// TestTableExpectedLossWithoutBug: a restore that lost only what it had
// to shows the expected loss, and no BUG.
func TestTableExpectedLossWithoutBug(t *testing.T) {
	t.Parallel()
	sc := restoreScenario()
	r := &sc.Result
	r.Lost, r.LostCount = r.ExpectedLoss, r.ExpectedLossCount
	r.LostBeforeBackup, r.LostBeforeBackupCount = []string{}, 0
	r.Verdict = measure.Judge(*r, sc.Targets)
	run := &reports.Run{ID: "r", StartedAt: runStart, Scenarios: []reports.Scenario{sc}}
	if err := run.Finalize(runEnd); err != nil {
		t.Fatal(err)
	}
	out := table(t, run, reports.TableOptions{})
	if !strings.Contains(out, "| 12 expected ") || strings.Contains(out, "BUG") || !strings.Contains(out, "PASS") {
		t.Errorf("want 12 expected, PASS and no BUG:\n%s", out)
	}
}

func TestTableOptionsFor(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := func(string) (string, bool) { return "", false }
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f} {
		if got := reports.TableOptionsFor(w, env); got != (reports.TableOptions{}) {
			t.Errorf("%s: options %+v, want the plain fallback", name, got)
		}
	}
}

// TestTableUnknownCut: a restore from a backup with no known cut shows every
// lost write, no BUG, and the statement why the bug check was not made.
func TestTableUnknownCut(t *testing.T) {
	t.Parallel()
	out := table(t, finalRun(t, unknownCutScenario()), reports.TableOptions{})
	for _, w := range []string{"| 13 (cut unknown) ", "restored backup b-20260314-0855, cut unknown: bug check not made: ", "volume copied file by file"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "BUG") {
		t.Errorf("a restore with an unknown cut shows a BUG:\n%s", out)
	}
}

// TestTablePromiseBreach: lost writes beyond the app's promise breach with
// no RPO target, and the row and details say so.
func TestTablePromiseBreach(t *testing.T) {
	t.Parallel()
	sc := passScenario()
	sc.Targets = measure.Targets{RTO: new(60 * s)}
	r := &sc.Result
	r.Lost, r.LostCount, r.DataSafe, r.RPOWrites = []string{"w00007", "w00008"}, 2, false, new(2)
	r.LostWrites = []measure.LostWrite{{ID: "w00007", Acked: measure.Millis(-2 * s)}, {ID: "w00008", Acked: measure.Millis(-1900 * ms)}}
	r.LostWritesAllowed, r.PromiseWhy = new(0), "raft"
	r.Verdict = judgeOf(sc)
	out := table(t, finalRun(t, sc), reports.TableOptions{})
	for _, w := range []string{
		"BREACH: 2 lost > promise of 0",
		"breach: data-safety promise broken: 2 acknowledged writes lost",
		"w00007 acked at T0-2s, w00008 acked at T0-1.9s",
		"data-safety promise: at most 0 writes lost (raft); 2 counted against it",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
}
