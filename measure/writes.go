package measure

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// BugCheckMade is Writes.BugCheck (and Result.BugCheck) when lost writes were
// checked against the restored backup's cut.
const BugCheckMade = "made"

// ErrInvalidHistory is returned when the write probe's history breaks the
// rules the checks depend on: one invoke per id, at most one completion,
// after the invoke. It means a probe bug, not data loss.
var ErrInvalidHistory = errors.New("invalid write history")

// Backup is the backup a restore used: its id and the instant of its cut.
type Backup struct {
	ID  string
	Cut time.Duration
	// CutUnknown, when set, says why the backup has no known cut; Cut is
	// then meaningless and lost writes are not split into bug and
	// expected loss.
	CutUnknown string
}

// Writes is the write probe's verdict on data, Jepsen "set" style.
type Writes struct {
	Invoked, Acked, Failed int
	// Indeterminate writes ended in info, or never completed before the
	// probe stopped; either way nobody knows whether they happened.
	Indeterminate int
	Read          int // distinct ids the final read found

	// Lost = ok − read: acknowledged, then gone. In acknowledgement order.
	Lost []string
	// LostAcked are the acknowledgement instants (timeline offsets) of
	// Lost, index for index.
	LostAcked []time.Duration
	// Unexpected = read − invoked: never written, yet there. By id.
	Unexpected []string
	// Recovered = read ∩ (fail ∪ info): not known to be written, yet
	// there. In invoke order.
	Recovered []string

	// LostBeforeBackup and ExpectedLoss split Lost when a restore from a
	// backup was the recovery: a write acknowledged before the backup's
	// cut must be in the backup, so losing it is a bug; one acknowledged
	// at or after the cut is the loss a restore is expected to cause.
	// Both are empty without a restore, and when the backup's cut is
	// unknown (BugCheck then says why).
	LostBeforeBackup []string
	ExpectedLoss     []string
	// BugCheck says whether lost writes could be checked against the
	// restored backup's cut: empty without a restore, BugCheckMade, or
	// "not made: " and why.
	BugCheck string

	// RPOWrites is |Lost| without the bug writes (those are reported, never
	// counted as RPO).
	RPOWrites int
	// RecoveryPoint is P, the latest instant such that every write acked
	// before it is present: the ack of the earliest lost write that counts
	// toward RPO. HasRecoveryPoint is false when nothing counted was lost.
	RecoveryPoint    time.Duration
	HasRecoveryPoint bool
	// RPO = max(0, T0 − P), 0 when nothing counted was lost.
	RPO time.Duration
	// DataSafe is true when Lost and Unexpected are both empty.
	DataSafe bool
}

type writeOp struct {
	id        string
	invoke    time.Duration
	done      time.Duration
	outcome   OpType // "" while not completed
	completed bool
}

// CheckWrites computes lost, unexpected and recovered writes and the RPO for a
// fault applied at t0, given the probe's history and the ids the final read
// found (duplicates are fine). restoredFrom is the backup the recovery
// restored, or nil when recovery did not restore one.
func CheckWrites(history []WriteEvent, read []string, t0 time.Duration, restoredFrom *Backup) (Writes, error) {
	ops, invoked, err := foldHistory(history)
	if err != nil {
		return Writes{}, err
	}
	var w Writes
	present := make(map[string]struct{}, len(read))
	for _, id := range read {
		present[id] = struct{}{}
	}
	w.Read = len(present)
	w.Invoked = len(ops)

	var lost, recovered []*writeOp
	for i := range ops {
		op := &ops[i]
		_, isPresent := present[op.id]
		switch op.outcome {
		case OpOK:
			w.Acked++
			if !isPresent {
				lost = append(lost, op)
			}
			continue
		case OpFail:
			w.Failed++
		default:
			w.Indeterminate++
		}
		if isPresent {
			recovered = append(recovered, op)
		}
	}

	for id := range present {
		if _, ok := invoked[id]; !ok {
			w.Unexpected = append(w.Unexpected, id)
		}
	}
	slices.Sort(w.Unexpected)

	slices.SortFunc(lost, func(a, b *writeOp) int { return cmp.Or(cmp.Compare(a.done, b.done), cmp.Compare(a.id, b.id)) })
	slices.SortFunc(recovered, func(a, b *writeOp) int { return cmp.Or(cmp.Compare(a.invoke, b.invoke), cmp.Compare(a.id, b.id)) })
	for _, op := range recovered {
		w.Recovered = append(w.Recovered, op.id)
	}
	split := restoredFrom != nil && restoredFrom.CutUnknown == ""
	switch {
	case split:
		w.BugCheck = BugCheckMade
	case restoredFrom != nil:
		w.BugCheck = fmt.Sprintf("not made: backup %s has no known cut (%s), so a lost write cannot be told apart as expected loss or bug", restoredFrom.ID, restoredFrom.CutUnknown)
	}
	for _, op := range lost {
		w.Lost = append(w.Lost, op.id)
		w.LostAcked = append(w.LostAcked, op.done)
		switch {
		case split && op.done < restoredFrom.Cut:
			w.LostBeforeBackup = append(w.LostBeforeBackup, op.id)
			continue
		case split:
			w.ExpectedLoss = append(w.ExpectedLoss, op.id)
		}
		w.RPOWrites++
		// lost is in ack order, so the first counted one is P.
		if !w.HasRecoveryPoint {
			w.HasRecoveryPoint = true
			w.RecoveryPoint = op.done
			w.RPO = max(0, t0-op.done)
		}
	}
	w.DataSafe = len(w.Lost) == 0 && len(w.Unexpected) == 0
	return w, nil
}

// foldHistory turns invoke/complete entries into one record per id, in
// invoke order, and an index from id to record, refusing histories that break
// the set semantics. Entries may come in any order: a history merged from
// several writers need not be sorted.
func foldHistory(history []WriteEvent) ([]writeOp, map[string]int, error) {
	ops := make([]writeOp, 0, len(history)/2+1)
	for _, e := range history {
		if e.ID == "" {
			return nil, nil, fmt.Errorf("%w: %s entry at %s has no id", ErrInvalidHistory, e.Type, e.At)
		}
		if e.Type == OpInvoke {
			ops = append(ops, writeOp{id: e.ID, invoke: e.At})
		}
	}
	slices.SortStableFunc(ops, func(a, b writeOp) int { return cmp.Compare(a.invoke, b.invoke) })
	index := make(map[string]int, len(ops))
	for i, op := range ops {
		if _, dup := index[op.id]; dup {
			return nil, nil, fmt.Errorf("%w: write %q invoked twice; ids must be unique", ErrInvalidHistory, op.id)
		}
		index[op.id] = i
	}
	for _, e := range history {
		switch e.Type {
		case OpInvoke:
			continue
		case OpOK, OpFail, OpInfo:
		default:
			return nil, nil, fmt.Errorf("%w: write %q has unknown type %q", ErrInvalidHistory, e.ID, e.Type)
		}
		i, seen := index[e.ID]
		switch {
		case !seen:
			return nil, nil, fmt.Errorf("%w: write %q completed (%s) but never invoked", ErrInvalidHistory, e.ID, e.Type)
		case ops[i].completed:
			return nil, nil, fmt.Errorf("%w: write %q completed twice (%s, then %s)", ErrInvalidHistory, e.ID, ops[i].outcome, e.Type)
		case e.At < ops[i].invoke:
			return nil, nil, fmt.Errorf("%w: write %q completed at %s, before its invoke at %s", ErrInvalidHistory, e.ID, e.At, ops[i].invoke)
		}
		ops[i].completed, ops[i].outcome, ops[i].done = true, e.Type, e.At
	}
	return ops, index, nil
}
