// Package silentapi is a test helper: a TCP listener on loopback that
// accepts connections and never answers, standing in for a hung API server
// or a load balancer with no backend. It must not be imported by anything
// but tests.
package silentapi
