// Package probes watches an app during a scenario and records what it sees
// on the run's timeline: the availability probe (a read and a write every
// interval), the write probe (writers issuing uniquely identified writes,
// Jepsen "set" style: invoke, then ok, fail or info), and the redundancy
// sampler (desired replicas Ready and the app's own health at full).
//
// Probes only observe and record. They never decide verdicts (package
// measure does) and never change the cluster.
package probes
