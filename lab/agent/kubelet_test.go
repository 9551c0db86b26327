package agent

import (
	"testing"

	"github.com/reboundhq/rebound/lab/agent/podspec"
)

func TestLookPath(t *testing.T) {
	images := podspec.ImageMap{Images: []podspec.ImageMapping{
		{Image: "registry.k8s.io/etcd", Binaries: map[string]string{"/usr/local/bin/etcd": "/bins/etcd", "etcdctl": "/bins/etcdctl"}},
	}}
	path := []string{"HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/bin"}
	for _, tc := range []struct {
		image, name string
		env         []string
		want        string
	}{
		{"registry.k8s.io/etcd:3.6", "etcd", path, "/usr/local/bin/etcd"},                // found in $PATH
		{"registry.k8s.io/etcd:3.6", "etcdctl", path, "etcdctl"},                         // mapped by its bare name
		{"registry.k8s.io/etcd:3.6", "/usr/local/bin/etcd", path, "/usr/local/bin/etcd"}, // a path stays
		{"registry.k8s.io/etcd:3.6", "etcd", []string{"PATH=/bin"}, "etcd"},              // not in this $PATH
		{"registry.k8s.io/etcd:3.6", "sh", path, "sh"},                                   // not in the image
		{"example.com/unmapped", "etcd", path, "etcd"},
	} {
		if got := lookPath(images, tc.image, tc.name, tc.env); got != tc.want {
			t.Errorf("lookPath(%s, %q, %v) = %q, want %q", tc.image, tc.name, tc.env, got, tc.want)
		}
	}
}
