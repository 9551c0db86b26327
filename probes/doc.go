// Package probes watches an app during a scenario and records what it sees
// on the run's timeline: the availability probe (a read and a write every
// interval), the write probe (writers issuing uniquely identified writes,
// Jepsen "set" style: invoke, then ok, fail or info), and the redundancy
// sampler (desired replicas Ready and the app's own health at full). With
// Config.MaxLost set it also reads the records back periodically and tells
// the caller, once, when too many acknowledged writes are missing, so the
// run can abort (abort.maxLostWrites).
//
// A probe answers within its timeout or has failed, whatever the driver
// does with its context, and Stop records every write still in flight as
// of unknown outcome: nothing is recorded after Stop returns.
//
// Probes only observe and record. They never decide verdicts (package
// measure does) and never change the cluster.
package probes
