// Package gate is an example of package gate in a project's own tests: a
// resilience gate that kills the etcd leader's pod of rebound's demo app
// and fails unless the service is back within 30 s with no acknowledged
// write lost. The scenario is in scenarios/; the test is the whole example.
//
// It runs against the cluster REBOUND_GATE_KUBECONFIG names and is skipped
// without it. On the lab:
//
//	rebound lab up && rebound demo deploy etcd
//	REBOUND_GATE_KUBECONFIG=$(rebound lab kubeconfig --path) go test ./examples/gate/
package gate
