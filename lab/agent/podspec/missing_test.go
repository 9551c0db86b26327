package podspec

import (
	"io/fs"
	"strings"
	"testing"
)

func TestProcessMissing(t *testing.T) {
	present := map[string]bool{"/usr/bin/patroni": true, "/usr/lib/postgresql/15/bin/postgres": true}
	stat := func(p string) error {
		if present[p] {
			return nil
		}
		return fs.ErrNotExist
	}
	tests := []struct {
		name    string
		proc    Process
		wantErr []string // substrings; nil: no error
	}{
		{"all there", Process{Path: "/usr/bin/patroni", Requires: []string{"/usr/lib/postgresql/15/bin/postgres"}, Install: "run `make deps`"}, nil},
		{"executable missing", Process{Path: "/usr/bin/nothere", Install: "run `make deps`"}, []string{"/usr/bin/nothere", "make deps"}},
		{"required path missing", Process{Path: "/usr/bin/patroni", Requires: []string{"/usr/lib/postgresql/15/bin/initdb"}, Install: "run `make deps` (Debian packages postgresql, patroni)"}, []string{"/usr/lib/postgresql/15/bin/initdb", "make deps", "postgresql"}},
		{"no install hint", Process{Path: "/opt/app"}, []string{"/opt/app", "images.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.proc.Missing(stat)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Missing: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Missing: no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestParseImagesRequires(t *testing.T) {
	_, err := ParseImages("x.yaml", []byte("images:\n- image: a\n  binaries: {/a: /bin/true}\n  requires: [relative/path]\n"))
	if err == nil || !strings.Contains(err.Error(), "images[0].requires[0]") {
		t.Fatalf("err = %v, want one naming images[0].requires[0]", err)
	}
	m := DefaultImages()
	im, ok := m.Lookup("ghcr.io/reboundhq/patroni:3.0.2-pg15")
	if !ok || !strings.Contains(im.Install, "make deps") || len(im.Requires) == 0 {
		t.Fatalf("built-in patroni mapping = %+v, %v; want requires and a make deps hint", im, ok)
	}
}
