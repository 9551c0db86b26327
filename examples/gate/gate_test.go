package gate

import (
	"os"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/reboundhq/rebound/gate"
	"github.com/reboundhq/rebound/scenarios"
)

// kubeconfigEnv names the cluster the example runs on.
const kubeconfigEnv = "REBOUND_GATE_KUBECONFIG"

var testenv env.Environment

func TestMain(m *testing.M) {
	if kc := os.Getenv(kubeconfigEnv); kc != "" {
		testenv = env.NewWithConfig(envconf.New().WithKubeconfigFile(kc))
		os.Exit(testenv.Run(m))
	}
	os.Exit(m.Run())
}

// TestLeaderLossGate is what a user writes: the scenario, what it must
// show, and e2e-framework runs it against the environment's cluster.
func TestLeaderLossGate(t *testing.T) {
	if testenv == nil {
		t.Skipf("set %s to a cluster's kubeconfig (on the lab: $(rebound lab kubeconfig --path), after `rebound demo deploy etcd`)", kubeconfigEnv)
	}
	testenv.Test(t, gate.Scenario("scenarios/etcd-leader-kill.yaml").
		Expect(gate.RTOBelow(30*time.Second), gate.NoLostWrites()).
		Feature())
}

// TestScenariosLoad keeps the example's scenario valid as rebound's spec
// evolves, with or without a cluster.
func TestScenariosLoad(t *testing.T) {
	objs, err := scenarios.Load("scenarios")
	if err != nil {
		t.Fatalf("load scenarios:\n%v", err)
	}
	if len(objs.Scenarios) == 0 {
		t.Fatal("scenarios/ holds no scenario")
	}
	for _, s := range objs.Scenarios {
		if s.Target.Namespace != "rebound-demo" {
			t.Errorf("%s: namespace %q, want rebound-demo, where `rebound demo deploy etcd` puts the demo app", s.Name, s.Target.Namespace)
		}
	}
}
