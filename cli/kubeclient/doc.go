// Package kubeclient builds the Kubernetes client configuration of every
// rebound command that talks to a cluster, so that each connects with the
// same connect timeout, and makes the first call that tells a cluster that
// does not answer apart from one that does. It must not decide what a
// command does about an unreachable cluster (that is the command's exit
// code), nor cut long calls such as watches, exec or port-forwards: only
// connecting and the first call are bounded.
package kubeclient
