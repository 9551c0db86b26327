// Package apps holds the manifests of the demo apps rebound deploys for its
// game days (the lab's etcd first), embedded in the binary, and applies them
// to a namespace of any cluster. It knows nothing of the lab: the manifests
// are written as for a real cluster.
package apps
