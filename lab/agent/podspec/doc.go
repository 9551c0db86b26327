// Package podspec translates a Kubernetes container into the process the lab
// node agent runs for it: which host executable an image maps to, the argv
// after Docker's entrypoint/cmd rules and Kubernetes' $(VAR) expansion, the
// environment, and where each volume mount comes from.
//
// It is pure: it reads the objects it is given and a lookup for ConfigMaps and
// Secrets, and never starts, mounts or writes anything. The agent does that.
package podspec
