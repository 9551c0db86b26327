package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSecretVolumeFoldersAreTheAgentUsersAlone(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pods", "uid-1", "volumes", "token")
	// A folder left from an earlier start of the pod, readable by all.
	if err := os.MkdirAll(filepath.Join(dir, "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]file{
		"token":           {[]byte("eyJhbGciOi"), 0o600},
		"nested/deep/key": {[]byte("hunter2"), 0o400},
		"nested/ca.crt":   {[]byte("-----BEGIN"), 0o644},
	}
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "nested"), filepath.Join(dir, "nested", "deep")} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("folder %s has mode %o, want 0700: other users could read the pod's secrets", d, st.Mode().Perm())
		}
	}
	for name, f := range files {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != f.mode {
			t.Errorf("file %s has mode %o, want the volume's %o", name, st.Mode().Perm(), f.mode)
		}
	}
	if err := writeFiles(dir, map[string]file{"../escape": {nil, 0o600}}); err == nil {
		t.Error("a path out of the volume was written")
	}
}
