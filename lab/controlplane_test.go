package lab

import (
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKwokctlConfigKubeletAPI: the control plane can reach the nodes'
// kubelet API and sign their serving certificates, with kwokctl's own PKI.
func TestKwokctlConfigKubeletAPI(t *testing.T) {
	l := New(Options{Name: "t", StateDir: "/state", BinDir: t.TempDir()}, nil)
	var cfg struct {
		ComponentsPatches []struct {
			Name      string `json:"name"`
			ExtraArgs []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"extraArgs"`
		} `json:"componentsPatches"`
	}
	if err := yaml.Unmarshal([]byte(l.kwokctlConfig()), &cfg); err != nil {
		t.Fatal(err)
	}
	args := map[string]map[string]string{}
	for _, p := range cfg.ComponentsPatches {
		args[p.Name] = map[string]string{}
		for _, a := range p.ExtraArgs {
			args[p.Name][a.Key] = a.Value
		}
	}
	pki := filepath.Join("/state", "labs", "t", "kwok", "clusters", "rebound-t", "pki")
	for _, tc := range []struct{ component, flag, want string }{
		{"kube-apiserver", "kubelet-preferred-address-types", "InternalIP"},
		{"kube-apiserver", "kubelet-client-certificate", pki + "/admin.crt"},
		{"kube-apiserver", "kubelet-client-key", pki + "/admin.key"},
		{"kube-apiserver", "kubelet-certificate-authority", pki + "/ca.crt"},
		{"kube-controller-manager", "cluster-signing-cert-file", pki + "/ca.crt"},
		{"kube-controller-manager", "cluster-signing-key-file", pki + "/ca.key"},
	} {
		if got := args[tc.component][tc.flag]; got != tc.want {
			t.Errorf("%s --%s=%q, want %q", tc.component, tc.flag, got, tc.want)
		}
	}
}
