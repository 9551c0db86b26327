package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestKernelAtLeast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"5.13.0", true}, {"5.12.19-generic", false}, {"6.1.0-18-amd64", true}, {"4.19.0", false},
		{"6.18.44-fc-v1147", true}, {"5.15.0-91-generic", true}, {"weird", true},
	} {
		if got := kernelAtLeast(tc.release, 5, 13); got != tc.want {
			t.Errorf("kernelAtLeast(%q, 5.13) = %v, want %v", tc.release, got, tc.want)
		}
	}
}

// TestCheckServicesOnThisMachine runs the nftables check for real: in a
// throwaway network namespace, never the host's.
func TestCheckServicesOnThisMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed (make deps)")
	}
	if err := checkServices(); err != nil {
		t.Fatalf("checkServices on a machine with nft and root: %v", err)
	}
}

func TestCheckServicesNamesMissingNft(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no nft, no unshare
	err := checkServices()
	if err == nil || !strings.Contains(err.Error(), "install Debian's nftables") {
		t.Errorf("checkServices without nft = %v, want an error naming the package", err)
	}
}

func TestPreflightNamesMissingAddonBinaries(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the missing-binaries check comes after the root check")
	}
	o := DefaultOptions()
	o.BinDir = t.TempDir()
	for _, b := range labBinaries {
		if b == "kube-proxy" || b == "coredns" {
			continue
		}
		if err := os.WriteFile(filepath.Join(o.BinDir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := Preflight(o)
	if err == nil || !strings.Contains(err.Error(), "kube-proxy, coredns") || !strings.Contains(err.Error(), "make lab-bins") {
		t.Errorf("Preflight without kube-proxy and coredns = %v, want an error naming both and `make lab-bins`", err)
	}
}
