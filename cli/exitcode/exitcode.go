// Package exitcode is rebound's exit code contract: each error that ends a
// command carries the code the process exits with, and the innermost
// classification wins (a breach wrapped in a generic failure still exits as
// a breach). Scripts and CI gates branch on these numbers; never renumber.
package exitcode

import "errors"

// Code is a process exit code.
type Code int

// The documented exit codes (docs/exit-codes.md).
const (
	OK                Code = 0  // every target met, or the command did what it was asked
	Breached          Code = 1  // every scenario ran, and at least one breached a target or showed a bug
	InvalidInput      Code = 2  // bad flags, arguments or spec files; nothing was changed
	Aborted           Code = 3  // a run was aborted (signal, abort condition, phase timeout) and rolled back
	CleanupIncomplete Code = 4  // something could not be rolled back: see `rebound cleanup`
	NotRun            Code = 5  // could not run: cluster unreachable, lab not up, app not found, a scenario ended in ERROR
	Failure           Code = 10 // any other error (a report that cannot be written, …)
)

// Error is an error with an exit code.
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// With wraps err with code; nil stays nil.
func With(code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Of returns the exit code for err: OK for nil, the innermost code carried
// in its chain, or Failure.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	code := Failure
	for e := err; e != nil; {
		var ce *Error
		if !errors.As(e, &ce) {
			break
		}
		code = ce.Code
		e = ce.Err
	}
	return code
}
