package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// binaryStandIn stands in for the rebound binary: the image builder copies
// bytes, so any file with recognisable content shows where they went.
func binaryStandIn(t *testing.T) (string, []byte) {
	t.Helper()
	data := []byte("\x7fELF stand-in for the statically built rebound binary")
	p := filepath.Join(t.TempDir(), "rebound")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func caStandIn(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkImage asserts what a user and the chart rely on.
func checkImage(t *testing.T, img v1.Image, wantBinary []byte) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/rebound"}) {
		t.Errorf("entrypoint %q, want [/rebound]", cf.Config.Entrypoint)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", cf.Config.User)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64", cf.OS, cf.Architecture)
	}
	if v := cf.Config.Labels["org.opencontainers.image.version"]; v != "v1.2.3" {
		t.Errorf("version label %q, want v1.2.3", v)
	}
	if r := cf.Config.Labels["org.opencontainers.image.revision"]; r != "abc123" {
		t.Errorf("revision label %q", r)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	var binary, passwd []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		switch h.Name {
		case "rebound":
			binary, _ = io.ReadAll(tr)
		case "etc/passwd":
			passwd, _ = io.ReadAll(tr)
		}
	}
	if h := files["rebound"]; h == nil || !bytes.Equal(binary, wantBinary) || h.Mode&0o111 == 0 {
		t.Errorf("the layer does not hold the binary as an executable /rebound (header %+v)", h)
	}
	if !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot user:\n%s", passwd)
	}
	if files["etc/ssl/certs/ca-certificates.crt"] == nil || files["tmp/"] == nil {
		t.Errorf("the layer lacks the CA bundle or /tmp: %v", slices.Sorted(func(yield func(string) bool) {
			for n := range files {
				if !yield(n) {
					return
				}
			}
		}))
	}
}

func TestBuildWritesALayoutAndATarballThatReadBack(t *testing.T) {
	bin, data := binaryStandIn(t)
	out := t.TempDir()
	o := Options{
		Binary: bin, Repository: DefaultRepository, Version: "v1.2.3", Revision: "abc123",
		OS: "linux", Arch: "arm64", CABundle: caStandIn(t),
		Layout: filepath.Join(out, "oci"), Tarball: filepath.Join(out, "image.tar"),
	}
	digest, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}

	idx, err := layout.ImageIndexFromPath(o.Layout)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("layout index: %v, %v; want one manifest", im, err)
	}
	if im.Manifests[0].Digest != digest || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3" {
		t.Errorf("layout manifest %+v, want digest %s tagged v1.2.3", im.Manifests[0], digest)
	}
	img, err := idx.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, img, data)

	tag, err := name.NewTag(DefaultRepository + ":v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	timg, err := tarball.ImageFromPath(o.Tarball, &tag)
	if err != nil {
		t.Fatalf("the tarball does not load as %s: %v", tag, err)
	}
	checkImage(t, timg, data)

	// Readable by others, as any build output (not the temp files' 0700/0600).
	for p, want := range map[string]os.FileMode{o.Layout: 0o755, o.Tarball: 0o644} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	// Nothing temporary left beside the outputs.
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	// Reproducible: the same inputs make the same image.
	again, err := Build(Options{Binary: bin, Repository: DefaultRepository, Version: "v1.2.3", Revision: "abc123", OS: "linux", Arch: "arm64", CABundle: o.CABundle, Layout: o.Layout})
	if err != nil || again != digest {
		t.Errorf("rebuild: %s, %v; want the same digest %s", again, err, digest)
	}
}

func TestBuildErrors(t *testing.T) {
	bin, _ := binaryStandIn(t)
	// A file where a folder should be: not writable whoever runs the test
	// (root ignores permission bits).
	blocker := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Options{Binary: bin, Repository: DefaultRepository, Version: "v1", OS: "linux", Arch: "amd64", Layout: filepath.Join(t.TempDir(), "oci")}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"layout not writable", func(o *Options) { o.Layout = filepath.Join(blocker, "oci") }, "cannot write " + filepath.Join(blocker, "oci")},
		{"tarball not writable", func(o *Options) { o.Layout, o.Tarball = "", filepath.Join(blocker, "image.tar") }, "choose a writable place"},
		{"no binary", func(o *Options) { o.Binary = filepath.Join(t.TempDir(), "missing") }, "--binary: open"},
		{"no CA bundle", func(o *Options) { o.CABundle = filepath.Join(t.TempDir(), "missing.crt") }, "--ca-bundle: open"},
		{"no output", func(o *Options) { o.Layout = "" }, "nothing to write"},
		{"bad tag", func(o *Options) { o.Version = "not a tag" }, `--version "not a tag"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			_, err := Build(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
