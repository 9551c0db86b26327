package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Levels are the names --log-level accepts, quietest last.
var Levels = []string{"debug", "info", "warn", "error"}

// Formats are the names --log-format accepts.
var Formats = []string{"text", "json"}

// Keys rebound's logs carry, so that a JSON log can be filtered on them.
const (
	KeyRun      = "run"
	KeyScenario = "scenario"
	KeyFault    = "fault"
)

// ParseLevel reads a --log-level value.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use one of %s", s, strings.Join(Levels, ", "))
}

// New makes the logger a command writes to w: level is a --log-level value,
// format a --log-format value. Its error names the bad value and the good
// ones.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	lv, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown log format %q: use one of %s", format, strings.Join(Formats, ", "))
}

// Discard is a logger that writes nothing.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

type ctxKey struct{}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the logger ctx carries, or one that writes nothing:
// code that is handed no logger stays quiet rather than writing to a
// default the caller never chose.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return Discard()
}

// Carried tells whether ctx carries a logger.
func Carried(ctx context.Context) bool {
	l, ok := ctx.Value(ctxKey{}).(*slog.Logger)
	return ok && l != nil
}

// With returns ctx carrying its logger with args added (key, value pairs,
// as slog.Logger.With takes them).
func With(ctx context.Context, args ...any) context.Context {
	return NewContext(ctx, FromContext(ctx).With(args...))
}
