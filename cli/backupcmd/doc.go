// Package backupcmd is `rebound backup`: init, create, list, describe,
// verify, delete, prune, restore and schedule, over the engine of package
// backup, with progress bars (bytes and rate) on a terminal and plain
// lines otherwise; and the hidden subcommands data-mover pods run
// (etcd-restore-member, pvc-backup, pvc-restore). RepoFlags is shared with
// `rebound run`, so a game day restores from the same repository.
//
// It parses flags and prints; it must not hold backup logic of its own.
package backupcmd
