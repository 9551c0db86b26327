// Package journal is the on-disk record that makes every change rebound
// makes to a cluster undoable after a crash: an entry with its undo steps is
// written and synced before the change is made, and each later state is
// appended. `rebound cleanup` rolls back whatever is not recorded as
// recovered.
//
// It only stores and reads entries; it never acts on a cluster (package
// faults runs the undo steps) and imports nothing of rebound's.
package journal
