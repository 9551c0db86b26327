// Package example is rebound's region-loss case on AKS: an etcd app in a
// cluster in West Europe, lost as a whole, and restored into a cluster in
// North Europe from a repository in a storage account both reach. The files
// next to this one are the deliverable: region-loss.yaml is the scenario and
// README.md says how to set the clusters up and run it. The package holds no
// code; its test keeps the scenario valid as rebound's spec evolves.
package example
