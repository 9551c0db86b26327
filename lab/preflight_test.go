package lab

import (
	"os"
	"strings"
	"testing"
)

func TestPreflightNamesTheFix(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the missing-binaries check comes after the root check")
	}
	o := DefaultOptions()
	o.BinDir = t.TempDir()
	err := Preflight(o)
	if err == nil || !strings.Contains(err.Error(), "make lab-bins") || !strings.Contains(err.Error(), "kube-apiserver") {
		t.Errorf("Preflight with no binaries = %v, want an error naming the missing binaries and `make lab-bins`", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"defaults", func(*Options) {}, ""},
		{"bad name", func(o *Options) { o.Name = "Bad_Name" }, "lower-case"},
		{"fewer nodes than zones", func(o *Options) { o.Nodes, o.Zones = 2, 3 }, "at least one node per zone"},
		{"no zones", func(o *Options) { o.Zones = 0 }, "1 to 26 zones"},
	} {
		o := DefaultOptions()
		tc.mutate(&o)
		err := o.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestNetworksOfLabsSideBySideDiffer(t *testing.T) {
	t.Parallel()
	a, b := DefaultOptions(), DefaultOptions()
	a.Name, b.Name = "rebound", "e2e"
	if a.Network() == b.Network() {
		t.Errorf("labs %q and %q share the network %s", a.Name, b.Name, a.Network())
	}
	if !a.Network().Addr().IsLoopback() {
		t.Errorf("lab network %s is not loopback", a.Network())
	}
}
