package scenarios

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ErrInvalid is matched, with errors.Is, by every error that reports bad
// input, as opposed to a file that could not be read.
var ErrInvalid = errors.New("invalid rebound spec")

// ErrNotFound is matched by the error of a lookup in the catalog that found
// nothing.
var ErrNotFound = errors.New("not found")

// Problem is one thing wrong with an input, located where a person fixes it.
type Problem struct {
	// File is the file name as given to Load or Parse.
	File string
	// Line is 1-based; 0 when the problem is the file's as a whole.
	Line int
	// Field is the field path, like spec.fault.kind; empty when the
	// problem is the document's as a whole.
	Field string
	// Message says what is wrong and, where there is one, the fix.
	Message string
}

// String renders p like a compiler does, so that editors can jump to it:
// "bad.yaml:12: spec.fault.kindd: unknown field; did you mean "kind"?".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error holds every problem found in the inputs, sorted by file and line.
type Error struct {
	Problems []Problem
}

// Error renders one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// newError sorts problems and returns them as an error, or nil when there are
// none. The sort makes the output stable whatever order validation found
// them in (some of it iterates maps).
func newError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	problems = slices.Clone(problems)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
	problems = slices.Compact(problems)
	return &Error{Problems: problems}
}

// lineIndex maps the field paths of one document to their lines.
type lineIndex struct {
	lines map[string]int
	// doc is the line of the document, for a path found nowhere.
	doc int
}

// line returns the line of path, or of its closest ancestor that is written
// in the file: a missing field is reported where it should have been added.
func (x lineIndex) line(path string) int {
	for {
		if l, ok := x.lines[path]; ok {
			return l
		}
		parent, ok := parentPath(path)
		if !ok {
			return x.doc
		}
		path = parent
	}
}

// parentPath strips the last element of a field path: "a.b[c.d]" gives
// "a.b", "a.b" gives "a".
func parentPath(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i], true
		}
	}
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return "", true
	}
	return p[:i], true
}

// problemsOf locates validation errors in their file.
func problemsOf(file string, idx lineIndex, errs field.ErrorList) []Problem {
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, Problem{File: file, Line: idx.line(e.Field), Field: e.Field, Message: e.ErrorBody()})
	}
	return out
}
