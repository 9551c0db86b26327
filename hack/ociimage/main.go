// Command ociimage builds rebound's container image without Docker: one
// layer holding the statically built rebound binary as /rebound (the
// entrypoint), a non-root user (65532, "nonroot", in /etc/passwd and
// /etc/group), CA certificates for object storage over HTTPS, and an empty
// /tmp; the config names the OCI labels (version, revision, source), the
// OS and the architecture. It writes an OCI image layout (for `crane push
// DIR REF` or `skopeo copy oci:DIR`) and a tarball (for `docker load` or
// `crane push FILE REF`), each to a temporary name renamed into place, so a
// failed build leaves nothing half written.
//
// It is a module of its own (`make image` runs it) so that
// go-containerregistry and what it brings stay out of rebound's dependency
// graph: the rebound binary does not need them.
//
//	go run . --binary ../../bin/rebound-linux-amd64 --arch amd64 --version v0.1.0 \
//	    --layout ../../bin/rebound-oci --tarball ../../bin/rebound-image.tar
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var o Options
	flag.StringVar(&o.Binary, "binary", "", "the statically built rebound binary (CGO_ENABLED=0) for --os/--arch")
	flag.StringVar(&o.Repository, "repository", DefaultRepository, "image repository, named in the tarball and the layout's ref annotation")
	flag.StringVar(&o.Version, "version", "", "image tag and org.opencontainers.image.version")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision (the git commit)")
	flag.StringVar(&o.OS, "os", "linux", "the binary's operating system")
	flag.StringVar(&o.Arch, "arch", "amd64", "the binary's architecture (GOARCH)")
	flag.StringVar(&o.CABundle, "ca-bundle", DefaultCABundle, "CA certificates put at /etc/ssl/certs/ca-certificates.crt; empty: none")
	flag.StringVar(&o.Layout, "layout", "", "write an OCI image layout to this folder (replaced)")
	flag.StringVar(&o.Tarball, "tarball", "", "write a docker-loadable tarball to this file (replaced)")
	flag.Int64Var(&o.Epoch, "epoch", 0, "seconds since 1970 stamped on the files and the config, for reproducible images (default $SOURCE_DATE_EPOCH, else 0)")
	flag.Parse()
	if o.Epoch == 0 {
		if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
			if _, err := fmt.Sscan(v, &o.Epoch); err != nil {
				fmt.Fprintf(os.Stderr, "ociimage: SOURCE_DATE_EPOCH=%q: %v\n", v, err)
				os.Exit(2)
			}
		}
	}
	digest, err := Build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
	if o.Layout != "" {
		fmt.Printf("OCI layout: %s (%s:%s, %s)\n", o.Layout, o.Repository, o.Version, digest)
	}
	if o.Tarball != "" {
		fmt.Printf("tarball:    %s (docker load -i %s, or crane push %s %s:%s)\n", o.Tarball, o.Tarball, o.Tarball, o.Repository, o.Version)
	}
}
