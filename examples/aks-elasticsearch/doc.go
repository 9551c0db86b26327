// Package example is rebound's reference case: Elasticsearch on AKS, run by
// ECK as three master-eligible data nodes over three availability zones with
// zone-aware shard allocation, and a game day against it (a drained node, a
// killed master pod, a partitioned zone, I/O errors on a data volume, a
// deleted index) judged against a resiliency ladder for a search tier. The
// files next to this one are the deliverable: manifests/ deploys the cluster,
// scenarios/ and extras/ hold the rebound scenarios, ladder.yaml the targets,
// and README.md says how to run them and read the results. The package holds
// no code; its test keeps those files valid as rebound's spec and the
// manifests evolve.
package example
