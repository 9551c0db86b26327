package gate

import (
	"os"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/reboundhq/rebound/gate"
	"github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/scenarios"
)

// The cluster the example runs on: a rebound lab by name, or any cluster
// by its kubeconfig.
const (
	labEnv        = "REBOUND_GATE_LAB"
	kubeconfigEnv = "REBOUND_GATE_KUBECONFIG"
)

var (
	testenv env.Environment
	onLab   *lab.Lab
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(labEnv) != "":
		o := lab.DefaultOptions()
		o.Name = os.Getenv(labEnv)
		onLab = lab.New(o, os.Stderr)
		testenv = env.NewWithConfig(envconf.New().WithKubeconfigFile(onLab.Kubeconfig()))
	case os.Getenv(kubeconfigEnv) != "":
		testenv = env.NewWithConfig(envconf.New().WithKubeconfigFile(os.Getenv(kubeconfigEnv)))
	default:
		os.Exit(m.Run())
	}
	os.Exit(testenv.Run(m))
}

// TestLeaderLossGate is what a user writes: the scenario, what it must
// show, and e2e-framework runs it against the environment's cluster.
func TestLeaderLossGate(t *testing.T) {
	if testenv == nil {
		t.Skipf("set %s to a rebound lab's name (after `rebound lab up && rebound demo deploy etcd`: %s=rebound), or %s to a cluster's kubeconfig", labEnv, labEnv, kubeconfigEnv)
	}
	g := gate.Scenario("scenarios/etcd-leader-kill.yaml").
		Expect(gate.RTOBelow(30*time.Second), gate.NoLostWrites())
	if onLab != nil {
		g = g.OnLab(onLab) // the lab's pods are reached at their own addresses
	}
	testenv.Test(t, g.Feature())
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
