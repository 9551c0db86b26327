package exitcode

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestOfInnermostCodeWins(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want Code
	}{
		{"nil is OK", nil, OK},
		{"plain error is Failure", base, Failure},
		{"coded", With(InvalidInput, base), InvalidInput},
		{"wrapped coded", fmt.Errorf("ctx: %w", With(Breached, base)), Breached},
		{"innermost wins", With(Failure, fmt.Errorf("run: %w", With(Aborted, base))), Aborted},
		{"not run inside an abort stays not run", With(Aborted, fmt.Errorf("run: %w", With(NotRun, base))), NotRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Of(tc.err); got != tc.want {
				t.Errorf("Of(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

// TestDocumented keeps docs/exit-codes.md, the contract scripts read, in
// step with the constants: each code is in its table, under its name.
func TestDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/exit-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code Code
		name string
	}{
		{OK, "OK"}, {Breached, "Breached"}, {InvalidInput, "InvalidInput"}, {Aborted, "Aborted"},
		{CleanupIncomplete, "CleanupIncomplete"}, {NotRun, "NotRun"}, {Failure, "Failure"},
	} {
		row := fmt.Sprintf("| %d | %s |", c.code, c.name)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/exit-codes.md has no row %q", row)
		}
	}
}
