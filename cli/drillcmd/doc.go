// Package drillcmd is `rebound drill`: a restore drill, once or every
// --every interval — take a backup (or pick one), restore it into a new
// scratch namespace, verify the copy, report it like any scenario (table,
// JSON, JUnit, HTML, Markdown), and delete the namespace. It exits with
// the documented codes (docs/exit-codes.md): 0 verified, 1 a check failed,
// 2 bad input, 3 interrupted, 4 the scratch namespace could not be
// deleted, 5 could not run.
//
// It parses flags, connects, prints and writes reports; the drill itself
// is package drill. It must not hold drill or backup logic of its own.
package drillcmd
