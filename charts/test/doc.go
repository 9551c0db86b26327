// Package charttest lints and renders the rebound Helm chart (../rebound)
// with helm's Go library, checks what it grants (the RBAC rules, table by
// table) and refuses (values naming a namespace outside the allowlist), and
// keeps the renderings the end-to-end tests apply to the lab in
// ../../test/e2e/testdata/chart (refresh them with `go test -update`).
//
// It is a module of its own: helm.sh/helm/v4 brings k8s.io modules one minor
// version ahead of the ones rebound's main module pins (v0.37 vs v0.36), and
// keeping it apart leaves the main module's dependency graph as it is. It
// must not import rebound's packages for the same reason.
package charttest
