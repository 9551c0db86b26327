package exitcode

import (
	"errors"
	"fmt"
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Of(tc.err); got != tc.want {
				t.Errorf("Of(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
