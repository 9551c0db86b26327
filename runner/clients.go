package runner

import (
	"errors"
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/scenarios"
)

// NewForConfig is New with the clients built from opts.RestConfig, for a
// caller that holds a cluster's rest.Config rather than clients (a Go test
// of package gate, the e2e suite). It raises the client's rate limits to
// what probing and fault injection need unless they are set.
func NewForConfig(opts Options, list []*scenarios.Scenario) (*Runner, error) {
	if opts.RestConfig == nil {
		return nil, errors.New("runner: no rest config to reach the cluster with")
	}
	rc := rest.CopyConfig(opts.RestConfig)
	opts.RestConfig = rc
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 50, 100
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for %s: %w", rc.Host, err)
	}
	return New(opts, kube, dyn, list)
}
