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

// A report folder that cannot be written is a clear error from both
// CheckDir (before a run) and WriteAll (after it) that names the folder and
// what is in the way, and no temporary file is left behind. (Tests run as
// root, whom permission bits do not stop: the folders here are in the way
// of files and of folders instead.)
func TestUnwritableReportFolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup makes the mess in root and returns the report folder.
		setup func(t *testing.T, root string) string
		// check is whether CheckDir sees it coming; say is what both
		// errors say besides the folder.
		check bool
		say   string
	}{
		{"the folder is a file", func(t *testing.T, root string) string {
			return writeFile(t, filepath.Join(root, "rebound-report"))
		}, true, "is a file, not a folder"},
		{"the folder would be under a file", func(t *testing.T, root string) string {
			return filepath.Join(writeFile(t, filepath.Join(root, "a-file")), "out", "rebound-report")
		}, true, "a-file"},
		{"a folder in the way of report.json", func(t *testing.T, root string) string {
			dir := filepath.Join(root, "rebound-report")
			writeFile(t, filepath.Join(dir, "report.json", "keep"))
			return dir
		}, false, "report.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dir := tt.setup(t, root)
			before := tree(t, root)

			err := reports.CheckDir(dir)
			switch {
			case !tt.check && err != nil:
				t.Errorf("CheckDir(%s) = %v, want nil: the folder itself can be written", dir, err)
			case tt.check && !errors.Is(err, reports.ErrUnwritableDir):
				t.Errorf("CheckDir(%s) = %v, want ErrUnwritableDir", dir, err)
			case tt.check && (!strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.say)):
				t.Errorf("CheckDir error %q does not name %s and say %q", err, dir, tt.say)
			}

			paths, err := reports.WriteAll(dir, fixtureRun(t), "json")
			if !errors.Is(err, reports.ErrUnwritableDir) {
				t.Fatalf("WriteAll(%s) = %v, want ErrUnwritableDir", dir, err)
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.say) {
				t.Errorf("WriteAll error %q does not name %s and say %q", err, dir, tt.say)
			}
			if len(paths) != 0 {
				t.Errorf("WriteAll says it wrote %v", paths)
			}
			if after := tree(t, root); !slices.Equal(after, before) {
				t.Errorf("files before %v, after the failed write %v: want nothing added (no temporary file, no report)", before, after)
			}
		})
	}
}

// TestCheckDirChangesNothing: a folder that can be written, made or not yet
// made, passes, and the check leaves no trace (not even the folder).
func TestCheckDirChangesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, dir := range []string{root, filepath.Join(root, "a", "b", "rebound-report")} {
		if err := reports.CheckDir(dir); err != nil {
			t.Errorf("CheckDir(%s) = %v", dir, err)
		}
	}
	if left := tree(t, root); len(left) != 0 {
		t.Errorf("CheckDir left %v behind", left)
	}
}

// writeFile creates path (and its folders) as a small file and returns it.
func writeFile(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tree lists every file and folder under root, relative to it, sorted.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
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
