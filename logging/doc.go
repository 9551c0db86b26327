// Package logging is rebound's structured log: the slog logger a command
// builds from --log-level and --log-format, carried in the context so that
// every layer below adds its keys (run, scenario, fault) and logs with them,
// and Heartbeat, the line every long wait prints so a user never watches a
// silent terminal.
//
// It only formats and carries; it must not decide what is worth logging, and
// nothing it does may change the outcome of a run: a logger that fails to
// write loses the line, never the run. Progress meant for the user's eyes
// (phases, verdicts, tables) stays on the commands' output, not here.
package logging
