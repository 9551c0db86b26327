// Package apps defines what rebound knows about a stateful app: the Driver
// interface that the probes, faults and backup engine use, and a registry of
// drivers by name (etcd, elasticsearch). A driver writes uniquely identified
// records and says whether each was acknowledged, reads them all back, reports
// health and redundancy, freezes and unfreezes writes, and names the leader.
//
// Drivers only talk to the app through the endpoints they are given; they
// never change Kubernetes objects and never inject faults. Over TLS they
// verify the server, always, for Config.ServerName whatever address they
// dial, with the settings Config.TLSConfig builds, and pass connection
// errors through Config.ExplainTLS so that a failed verification says
// which scenario field to fix.
package apps
