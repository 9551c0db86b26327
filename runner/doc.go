// Package runner executes scenarios as phases: steady state → probes on →
// backup (when asked) → inject → observe → recover → verify → measure →
// clean up, each bounded by its timeout, with abort conditions. It owns the
// journal that makes every applied fault undoable after a crash: a fault's
// undo is on disk before the fault acts, and SIGINT, SIGTERM, a timeout or an
// abort roll back everything applied; `rebound cleanup` does the same from
// the journal after a kill -9.
//
// A scenario with a DR region (spec.dr) acts on two clusters: the fault in
// its target's, the restore in the DR cluster (Options.DR), where the probes
// follow the app; each change is journaled with the cluster it was made in,
// so cleanup rolls both back.
//
// It refuses kube-system and namespaces outside the allowlist, in every
// cluster it acts on, and a dry run only reads the clusters. It computes
// nothing itself: measure does.
package runner
