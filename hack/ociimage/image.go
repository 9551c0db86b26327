package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// DefaultRepository is where rebound's image is published; the lab maps
	// it to the rebound binary (lab/agent/podspec/images.yaml).
	DefaultRepository = "ghcr.io/reboundhq/rebound"
	// DefaultCABundle is Debian's CA bundle.
	DefaultCABundle = "/etc/ssl/certs/ca-certificates.crt"
	// Entrypoint is where the binary is in the image, as the chart and the
	// lab's image mapping expect.
	Entrypoint = "/rebound"
	// UID and GID of the image's user, distroless's "nonroot".
	UID = 65532
	GID = 65532
)

// Options say what to build and where to write it.
type Options struct {
	Binary     string
	Repository string
	Version    string
	Revision   string
	OS, Arch   string
	CABundle   string
	Layout     string
	Tarball    string
	Epoch      int64
}

// Build makes the image and writes it where o says; it returns the image's
// manifest digest.
func Build(o Options) (v1.Hash, error) {
	if o.Binary == "" || o.Version == "" {
		return v1.Hash{}, errors.New("--binary and --version are required")
	}
	if o.Layout == "" && o.Tarball == "" {
		return v1.Hash{}, errors.New("nothing to write: give --layout DIR and/or --tarball FILE")
	}
	ref, err := name.NewTag(o.Repository + ":" + o.Version)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("--repository %q --version %q: %w", o.Repository, o.Version, err)
	}
	img, err := Image(o)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	if o.Layout != "" {
		if err := writeLayout(o.Layout, ref, img); err != nil {
			return v1.Hash{}, err
		}
	}
	if o.Tarball != "" {
		if err := writeTarball(o.Tarball, ref, img); err != nil {
			return v1.Hash{}, err
		}
	}
	return digest, nil
}

// Image builds the image in memory.
func Image(o Options) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("--binary: %w (build it with CGO_ENABLED=0 go build -o %s ./cmd/rebound)", err, o.Binary)
	}
	var ca []byte
	if o.CABundle != "" {
		if ca, err = os.ReadFile(o.CABundle); err != nil {
			return nil, fmt.Errorf("--ca-bundle: %w (install Debian's ca-certificates, or pass --ca-bundle '' for an image that cannot verify HTTPS object storage)", err)
		}
	}
	when := time.Unix(o.Epoch, 0).UTC()
	layerTar, err := rootfs(bin, ca, when)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	base := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = o.OS, o.Arch
	cf.Created = v1.Time{Time: when}
	cf.Author = "rebound"
	cf.Config = v1.Config{
		Entrypoint: []string{Entrypoint},
		User:       fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir: "/",
		Env:        []string{"PATH=/", "HOME=/tmp", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "rebound",
			"org.opencontainers.image.description": "chaos and resilience harness for stateful apps on Kubernetes: measured RTO and RPO",
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.source":      "https://github.com/reboundhq/rebound",
			"org.opencontainers.image.created":     when.Format(time.RFC3339),
		},
	}
	return mutate.ConfigFile(img, cf)
}

// rootfs is the layer: folders, the user, CA certificates and the binary.
func rootfs(bin, ca []byte, when time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: when, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: when, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc", 0o755) },
		func() error {
			return file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/tmp:/sbin/nologin\n", UID, GID))
		},
		func() error { return file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", GID)) },
		func() error { return dir("tmp", 0o1777) },
		func() error { return file(Entrypoint[1:], 0o755, bin) },
	}
	if ca != nil {
		steps = append(steps,
			func() error { return dir("etc/ssl", 0o755) },
			func() error { return dir("etc/ssl/certs", 0o755) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, ca) })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeLayout writes an OCI layout holding img, tagged ref, into a
// temporary folder beside dir and renames it into place.
func writeLayout(dir string, ref name.Tag, img v1.Image) error {
	tmp, err := tempBeside(dir, true)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		"io.containerd.image.name":          ref.String(),
	})); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return nil
}

// writeTarball writes a docker-loadable tarball to a temporary file beside
// file and renames it into place.
func writeTarball(file string, ref name.Tag, img v1.Image) error {
	tmp, err := tempBeside(file, false)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		return fmt.Errorf("tarball %s: %w", file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("tarball %s: %w", file, err)
	}
	return nil
}

// tempBeside makes a temporary folder or file next to path, so the final
// rename stays on one file system; its error says the place is not
// writable and what to do.
func tempBeside(path string, isDir bool) (string, error) {
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("cannot write %s: %w: choose a writable place", path, err)
	}
	pattern := "." + filepath.Base(path) + ".tmp-*"
	if isDir {
		d, err := os.MkdirTemp(parent, pattern)
		if err != nil {
			return "", fmt.Errorf("cannot write %s: %w: choose a writable place", path, err)
		}
		// MkdirTemp makes it 0700; the image is for others to read.
		return d, os.Chmod(d, 0o755)
	}
	f, err := os.CreateTemp(parent, pattern)
	if err != nil {
		return "", fmt.Errorf("cannot write %s: %w: choose a writable place", path, err)
	}
	f.Close()
	return f.Name(), os.Chmod(f.Name(), 0o644)
}
