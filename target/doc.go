// Package target holds the app a scenario or a backup acts on, resolved
// against a cluster: its Kubernetes client, namespace and selector, its
// app driver by name and connected, where its probe records live, and the
// backup settings that go with it. It also holds the interfaces through
// which the runner drives a backup engine, so that runner and backup both
// import this package and neither imports the other for it.
package target
