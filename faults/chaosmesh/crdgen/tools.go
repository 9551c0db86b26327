//go:build tools

// Package tools pins the controller-gen command and the Chaos Mesh api
// module that gen.sh turns into CRDs. Only 'make chaos-crds' uses this
// module; the api version must match the one in rebound's own go.mod, which
// gen.sh checks.
package tools

import (
	_ "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
