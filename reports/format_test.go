package reports_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/reports"
)

func TestNewUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := reports.New("pdf")
	if !errors.Is(err, reports.ErrUnknownFormat) {
		t.Fatalf("New(pdf) = %v, want ErrUnknownFormat", err)
	}
	if want := "html, json, junit, markdown, prometheus, table"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not list the known formats %q", err, want)
	}
}

func TestFormatsNameThemselves(t *testing.T) {
	t.Parallel()
	files := map[string]bool{}
	for _, name := range reports.Formats() {
		f, err := reports.New(name)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name() != name {
			t.Errorf("format %q calls itself %q", name, f.Name())
		}
		if files[f.FileName()] {
			t.Errorf("two formats write %s", f.FileName())
		}
		files[f.FileName()] = true
	}
}

func TestWriteAll(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	tests := []struct {
		name    string
		formats []string
		want    []string // file names, in order
	}{
		{"every format when none is named", nil, []string{"report.html", "report.json", "junit.xml", "report.md", "metrics.prom", "summary.txt"}},
		{"the named ones, in order, once", []string{"junit", "table", "junit"}, []string{"junit.xml", "summary.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "rebound-report") // WriteAll creates it
			paths, err := reports.WriteAll(dir, run, tt.formats...)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range paths {
				names = append(names, filepath.Base(p))
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("wrote %v, want %v", names, tt.want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(tt.want) {
				var left []string
				for _, e := range entries {
					left = append(left, e.Name())
				}
				t.Errorf("folder holds %v, want only %v (no temporary files)", left, tt.want)
			}
			for _, p := range paths {
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				fi, _ := os.Stat(p)
				if fi.Mode().Perm() != 0o644 {
					t.Errorf("%s mode %v, want 0644", p, fi.Mode().Perm())
				}
				if want := render(t, formatOf(t, filepath.Base(p)), run); !bytes.Equal(got, want) {
					t.Errorf("%s differs from what its format writes", p)
				}
			}
		})
	}
}

func TestWriteAllReplacesOldReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := filepath.Join(dir, "report.json")
	if err := os.WriteFile(old, []byte("old report, much longer than nothing at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.WriteAll(dir, fixtureRun(t), "json"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(old)
	if _, err := reports.ReadJSON(bytes.NewReader(got)); err != nil {
		t.Errorf("report.json after a rewrite does not read back: %v", err)
	}
}

func TestWriteAllWritesNothingOnBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		run     *reports.Run
		formats []string
		want    error
	}{
		{"unknown format among good ones", fixtureRun(t), []string{"json", "pdf", "junit"}, reports.ErrUnknownFormat},
		{"run not finalized", &reports.Run{ID: "r", StartedAt: runStart}, nil, reports.ErrNotFinal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out")
			paths, err := reports.WriteAll(dir, tt.run, tt.formats...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("WriteAll = %v, want %v", err, tt.want)
			}
			if len(paths) != 0 {
				t.Errorf("returned paths %v", paths)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("report folder exists after refused input: %v", err)
			}
		})
	}
}

func TestWriteAllUnwritableFolder(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reports.WriteAll(file, fixtureRun(t), "json"); err == nil {
		t.Error("WriteAll into a path that is a file succeeded")
	}
}

func formatOf(t *testing.T, fileName string) reports.Format {
	t.Helper()
	for _, name := range reports.Formats() {
		f, _ := reports.New(name)
		if f.FileName() == fileName {
			return f
		}
	}
	t.Fatalf("no format writes %s", fileName)
	return nil
}

func render(t *testing.T, f reports.Format, run *reports.Run) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
