// Package streams carries a command's standard input and outputs, so the
// real CLI runs in-process in tests.
package streams

import "io"

// Streams are a command's standard input, output and error.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}
