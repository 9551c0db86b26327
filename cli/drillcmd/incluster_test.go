package drillcmd

import (
	"os"
	"path/filepath"
	"testing"
)

// In a pod with no lab and no --kubeconfig, the drill uses the pod's own
// credentials (a CronJob); anywhere else the lab, or what the flag names.
func TestInCluster(t *testing.T) {
	lab := filepath.Join(t.TempDir(), "kubeconfig")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if inCluster("", lab) {
		t.Error("outside a pod: in-cluster")
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
	if !inCluster("", lab) {
		t.Error("in a pod with no lab: not in-cluster")
	}
	if inCluster("/some/kubeconfig", lab) {
		t.Error("--kubeconfig given: in-cluster")
	}
	if err := os.WriteFile(lab, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if inCluster("", lab) {
		t.Error("the lab is up: in-cluster")
	}
}
