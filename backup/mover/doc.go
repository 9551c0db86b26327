// Package mover is what rebound's data-mover pods run: the rebound binary
// started by the backup engine inside a pod, with the app's volume
// mounted, to copy that volume into the repository (a crash-consistent
// copy of an app without a driver), to write a volume back, or to rebuild
// one etcd member's data directory from an etcd snapshot in the
// repository, the equivalent of `etcdutl snapshot restore`, or to fill a
// directory with tar objects of a backup (restore-archive: a PostgreSQL
// base backup and its WAL into a member's data directory), staged on the
// volume and swapped in once written and synced.
//
// Each entry point works on a path and an open repository only: it knows
// nothing of Kubernetes, and never talks to the app. The engine (package
// backup) decides what runs where; the hidden `rebound backup` subcommands
// (package cli/backupcmd) parse the flags that Args builds.
//
// A mover that fails records its error in the repository as a small
// snapshot tagged TagError, so the engine can say why on any cluster, with
// or without access to pod logs.
package mover
