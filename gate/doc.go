// Package gate turns rebound scenarios into resilience gates for a project's
// own Go tests, on sigs.k8s.io/e2e-framework:
//
//	testenv.Test(t, gate.Scenario("scenarios/primary-loss.yaml").
//		Expect(gate.RTOBelow(30*time.Second), gate.NoLostWrites()).
//		Feature())
//
// The feature loads the scenario files with rebound's strict loader, runs
// them in the test process with package runner against the cluster of the
// test environment (its envconf.Config), and fails the test with rebound's
// reason: a scenario that could not run, an aborted run, a fault left
// applied, and every expectation not met, each with what rebound measured
// and the breaches it found.
//
// A gate acts on the cluster the test environment names, which its author
// chose: that stands for `rebound run --yes`. It acts only in the
// namespaces its scenarios target (or those AllowNamespaces names), never in
// kube-system, and journals every fault before it acts, in the same state
// folder as the CLI, so `rebound cleanup` rolls back after a killed test.
//
// Expectations are pure functions of a finished run's result; they never
// touch the cluster. The package must not measure anything itself: the
// numbers are package measure's, as the CLI reports them.
package gate
