package reports_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/reports"
)

func TestUploadCopiesTheReportsUnderTheRunID(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	files, err := reports.WriteAll(t.TempDir(), run, "json", "junit")
	if err != nil {
		t.Fatal(err)
	}
	bucket := t.TempDir()
	u := (&url.URL{Scheme: "file", Path: bucket, RawQuery: "prefix=reports/"}).String()
	keys, err := reports.Upload(context.Background(), u, run, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{run.ID + "/report.json", run.ID + "/junit.xml"}
	if !slices.Equal(slices.Sorted(slices.Values(keys)), slices.Sorted(slices.Values(want))) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
	for _, f := range files {
		local, _ := os.ReadFile(f)
		up, err := os.ReadFile(filepath.Join(bucket, "reports", run.ID, filepath.Base(f)))
		if err != nil || !bytes.Equal(local, up) {
			t.Errorf("%s in the bucket: %v, or not the file written", filepath.Base(f), err)
		}
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	files, err := reports.WriteAll(t.TempDir(), run, "json")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "no-such-bucket")
	for _, tc := range []struct{ name, url, want, notWant string }{
		{"unknown scheme", "ftp://bucket", `open report bucket ftp://bucket`, ""},
		{"credentials kept out", "ftp://user:secret@bucket", `open report bucket ftp://bucket`, "secret"},
		{"no such bucket", "file://" + missing, "open report bucket file://" + missing, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reports.Upload(context.Background(), tc.url, run, files)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.notWant != "" && strings.Contains(err.Error(), tc.notWant)) {
				t.Errorf("Upload(%s) = %v, want an error saying %q without %q", tc.url, err, tc.want, tc.notWant)
			}
		})
	}
	if _, err := reports.Upload(context.Background(), "file:///tmp", &reports.Run{}, files); err == nil {
		t.Error("Upload of a run that is not finalized: no error")
	}
}
