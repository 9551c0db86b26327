// Package v1alpha1 holds the rebound.dev/v1alpha1 API: the Scenario, Ladder and Drill
// objects people write in YAML, every field documented, and the defaults this
// version fills in. It is the stable surface of the project, so it changes
// only by adding optional fields; a breaking change is a new version with a
// conversion. It must not hold behaviour beyond defaulting: loading,
// validation and everything the runner needs live in package scenarios, which
// converts these objects into its internal types.
package v1alpha1
