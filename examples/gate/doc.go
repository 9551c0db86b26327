// Package gate is an example of package gate in a project's own tests: a
// resilience gate that kills the etcd leader's pod of rebound's demo app
// and fails unless the service is back within 30 s with no acknowledged
// write lost. The scenario is in scenarios/; the test is the whole example.
//
// It runs against a rebound lab named by REBOUND_GATE_LAB, or any cluster
// whose kubeconfig REBOUND_GATE_KUBECONFIG names (the demo app deployed
// there with `rebound demo deploy etcd --kubeconfig …`), and is skipped
// without either. On the default lab:
//
//	rebound lab up && rebound demo deploy etcd
//	REBOUND_GATE_LAB=rebound go test ./examples/gate/
package gate
