// Package etcd is the etcd app driver: records are keys under the run's
// prefix written with clientv3, reads are linearizable, health is every
// member's status, and the leader is the member etcd elected. It also takes
// app-native backups with the Maintenance API (a consistent snapshot).
//
// It only talks to etcd through the endpoints it is given; it never changes
// Kubernetes objects and never injects faults.
package etcd
