package podexec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reboundhq/rebound/lab/agent/podspec"
)

func TestEnsureTargetsRecordsWhatItMade(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := filepath.Join(root, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(root, "exists")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	created, err := EnsureTargets([]podspec.Mount{
		{Source: src, Target: filepath.Join(root, "var/lib/etcd")},
		{Source: file, Target: filepath.Join(root, "etc/app/conf.yaml")},
		{Source: src, Target: existing},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "var"), filepath.Join(root, "var/lib"), filepath.Join(root, "var/lib/etcd"),
		filepath.Join(root, "etc"), filepath.Join(root, "etc/app"), filepath.Join(root, "etc/app/conf.yaml"),
	}
	if !slices.Equal(created, want) {
		t.Errorf("created %v, want %v (parents first, nothing that existed)", created, want)
	}
	if st, err := os.Stat(filepath.Join(root, "etc/app/conf.yaml")); err != nil || st.IsDir() {
		t.Errorf("a file source needs a file mount target: %v", err)
	}
}
