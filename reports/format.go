package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// DefaultDir is the folder the CLI writes reports into unless told otherwise.
const DefaultDir = "rebound-report"

// Format renders a finalized Run one way. Implementations are stateless:
// Write may be called many times, from many goroutines, and must not change
// the run.
type Format interface {
	// Name is the name users pick the format by (--out NAME).
	Name() string
	// FileName is the file WriteAll writes in the report folder.
	FileName() string
	// Write renders the whole run to w. On error w may hold part of it;
	// WriteAll renders to memory first so no file is left half written.
	Write(w io.Writer, run *Run) error
}

// Constructor makes a Format.
type Constructor func() Format

// formats is every known format by name, k6-style; New and WriteAll pick
// from it.
var formats = map[string]Constructor{
	"table":      func() Format { return tableFormat{} },
	"json":       func() Format { return jsonFormat{} },
	"junit":      func() Format { return junitFormat{} },
	"prometheus": func() Format { return prometheusFormat{} },
	"html":       func() Format { return htmlFormat{} },
	"markdown":   func() Format { return markdownFormat{} },
}

// Formats returns the names of the known formats, sorted.
func Formats() []string { return slices.Sorted(maps.Keys(formats)) }

// New returns the format called name, or an error wrapping ErrUnknownFormat
// that lists the known ones.
func New(name string) (Format, error) {
	c, ok := formats[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: known formats are %s", ErrUnknownFormat, name, strings.Join(Formats(), ", "))
	}
	return c(), nil
}

// WriteAll renders run in each named format (every known format when none is
// named; a name given twice is written once) and writes each file into dir,
// creating dir if needed. It is the flush step: run must be finalized.
//
// Every name is checked and every format rendered before any file is
// touched, so bad input writes nothing. Each file is then written to a
// temporary file in dir and renamed over its final name, so a reader never
// sees a half-written report and an older report stays whole until the new
// one replaces it. It returns the paths written, in the order named.
func WriteAll(dir string, run *Run, names ...string) ([]string, error) {
	if !run.Finalized() {
		return nil, ErrNotFinal
	}
	if len(names) == 0 {
		names = Formats()
	}
	var picked []Format
	var errs []error
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		f, err := New(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		picked = append(picked, f)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	rendered := make([][]byte, len(picked))
	for i, f := range picked {
		var buf bytes.Buffer
		if err := f.Write(&buf, run); err != nil {
			return nil, fmt.Errorf("render %s report: %w", f.Name(), err)
		}
		rendered[i] = buf.Bytes()
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		if cerr := CheckDir(dir); cerr != nil {
			return nil, cerr // says what is in the way
		}
		return nil, fmt.Errorf("report folder %s cannot be created: %w: %w", dir, err, ErrUnwritableDir)
	}
	var paths []string
	for i, f := range picked {
		path := filepath.Join(dir, f.FileName())
		if err := writeFileAtomic(path, rendered[i]); err != nil {
			return paths, fmt.Errorf("write %s report %s: %w: %w", f.Name(), path, err, ErrUnwritableDir)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// CheckDir tells early whether WriteAll will be able to write into dir, so
// that a command can refuse a bad report folder before it runs anything
// rather than lose its results at the end. It changes nothing: when dir does
// not exist yet, it checks that the nearest folder that does exist is a
// folder in which a file can be created (with a file made and removed
// again). Its error wraps ErrUnwritableDir and names dir and why.
func CheckDir(dir string) error {
	probe := filepath.Clean(dir)
	for {
		fi, err := os.Stat(probe)
		if err == nil {
			if !fi.IsDir() {
				if probe == filepath.Clean(dir) {
					return fmt.Errorf("report folder %s is a file, not a folder: %w", dir, ErrUnwritableDir)
				}
				return fmt.Errorf("report folder %s cannot be created: %s is a file, not a folder: %w", dir, probe, ErrUnwritableDir)
			}
			break
		}
		// Not there yet, or under a file (ENOTDIR): look one folder up.
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("report folder %s: %w: %w", dir, err, ErrUnwritableDir)
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return fmt.Errorf("report folder %s: %w: %w", dir, err, ErrUnwritableDir)
		}
		probe = parent
	}
	f, err := os.CreateTemp(probe, ".rebound-write-check.*.tmp")
	if err != nil {
		return fmt.Errorf("report folder %s cannot be written: %w: %w", dir, err, ErrUnwritableDir)
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		_ = os.Remove(name) // already failing; the close error is the one to report
		return fmt.Errorf("report folder %s cannot be written: %w: %w", dir, err, ErrUnwritableDir)
	}
	return os.Remove(name)
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path; on error it removes the temporary file.
func writeFileAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close() // already failing; the first error is the one to report
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	// Sync before rename: otherwise a crash can leave the new name pointing
	// at an empty file on some filesystems.
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
