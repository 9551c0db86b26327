// Package lab is the `rebound lab` command group: bring the local lab up and
// down, show it, print its kubeconfig, and drive its node power and disk
// faults by hand. It parses flags and prints; the work is in package lab.
package lab
