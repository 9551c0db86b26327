// Package faults holds one injector per fault kind. An injector first makes
// a Plan: what it will do, the objects it will create, and the undo steps
// that put things back, as plain data. The runner writes the plan to the
// on-disk journal, then calls Apply; Recover runs the undo steps, and so
// does `rebound cleanup` from the journal after a crash. Apply returns only
// once the fault is confirmed in effect (ErrNotConfirmed when it never is),
// so that T0 is when the fault took hold, not when it was asked for. A one-shot fault
// (a deleted pod, deleted data) has no undo: recovering from it is the
// app's or a restore's job, and its plan says so.
//
// Injectors act only on the target they are given, through the Kubernetes
// API, Chaos Mesh objects, or the lab's node power and disk faults; they
// never measure anything.
package faults
