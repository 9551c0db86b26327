// Package udpflow is the yardstick of the network fault latency
// benchmarks: a steady stream of numbered UDP datagrams from one network
// namespace to another, each one's send time kept, so a benchmark can tell
// how long after a call the first datagram was dropped, or passed again.
package udpflow
