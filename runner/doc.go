// Package runner executes scenarios as phases: steady state → probes on →
// backup (when asked) → inject → observe → recover → verify → measure →
// clean up, each bounded by its timeout, with abort conditions. It owns the
// journal that makes every applied fault undoable after a crash: a fault's
// undo is on disk before the fault acts, and SIGINT, SIGTERM, a timeout or an
// abort roll back everything applied; `rebound cleanup` does the same from
// the journal after a kill -9.
//
// It refuses kube-system and namespaces outside the allowlist, and a dry run
// only reads the cluster. It computes nothing itself: measure does.
package runner
