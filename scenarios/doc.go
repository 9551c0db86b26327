// Package scenarios is rebound's spec layer: the internal Scenario and Ladder
// types the runner, the measurements and the reports work with; strict
// loading of the versioned YAML (package v1alpha1) with every problem
// reported by file, line and field path; defaulting and validation; the
// embedded catalog of scenarios with its game days; and the default ladder.
//
// It must not touch a cluster, start anything, or read files other than the
// ones it is asked to load: everything it returns is checked data, so that
// a bad spec fails before any fault is applied. Knowledge of how to inject a
// fault belongs to the runner; this package only knows which settings each
// fault kind takes (Rule).
package scenarios
