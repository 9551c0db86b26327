package measure

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Errors Analyse returns; callers branch on them with errors.Is.
var (
	// ErrNoFault means the recording has no FaultApplied event, so there
	// is no T0 to measure from.
	ErrNoFault = errors.New("no fault applied on the timeline")
	// ErrUnknownBackup means Options.RestoredBackup names no BackupTaken
	// event on the timeline.
	ErrUnknownBackup = errors.New("restored backup not on the timeline")
	// ErrCutAfterFault means the restored backup's cut is after T0: it
	// holds the fault's effect, or its cut was placed on the wrong clock.
	// Either way no backup age or expected loss can be computed from it.
	ErrCutAfterFault = errors.New("restored backup's cut is after the fault")
)

// Millis is a duration in a Result. In JSON it is a number of milliseconds
// (fractions allowed), so the schema does not depend on Go's encoding of
// time.Duration.
type Millis time.Duration

// Duration is m as a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) }

// String rounds to the millisecond: finer digits are below any resolution
// rebound measures at.
func (m Millis) String() string { return time.Duration(m).Round(time.Millisecond).String() }

// MarshalJSON encodes m as milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, millis(time.Duration(m)), 'f', -1, 64), nil
}

// UnmarshalJSON decodes milliseconds, to the nanosecond.
func (m *Millis) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("milliseconds: %w", err)
	}
	*m = Millis(math.Round(f * float64(time.Millisecond)))
	return nil
}

func millisPtr(d time.Duration) *Millis { m := Millis(d); return &m }

// outageJSON is an Outage on the wire: milliseconds from T0, endMillis null
// while open.
type outageJSON struct {
	Start Millis  `json:"startMillis"`
	End   *Millis `json:"endMillis"`
}

// MarshalJSON encodes o as {"startMillis", "endMillis"}, endMillis null when
// the outage is open.
func (o Outage) MarshalJSON() ([]byte, error) {
	j := outageJSON{Start: Millis(o.Start)}
	if !o.Open {
		j.End = millisPtr(o.End)
	}
	return json.Marshal(j)
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (o *Outage) UnmarshalJSON(b []byte) error {
	var j outageJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("outage: %w", err)
	}
	*o = Outage{Start: j.Start.Duration(), Open: j.End == nil}
	if j.End != nil {
		o.End = j.End.Duration()
	}
	return nil
}

// LostWrite is an acknowledged write the final read did not find, with the
// instant it was acknowledged, from T0 (negative: before the fault).
type LostWrite struct {
	ID    string `json:"id"`
	Acked Millis `json:"ackedMillis"`
}

// Result is everything rebound reports about one scenario run. Durations are
// from T0 unless said otherwise. A measurement that could not be made is null
// in JSON (a nil pointer), never zero. Id lists are never null.
type Result struct {
	// Availability.
	ServiceRestored bool `json:"serviceRestored"`
	// RTO is nil when the service was not restored within observation.
	RTO             *Millis `json:"rtoMillis"`
	RTOResolution   Millis  `json:"rtoResolutionMillis"`
	StabilityWindow Millis  `json:"stabilityWindowMillis"`
	// Observed is how long after T0 the availability probe watched.
	Observed Millis `json:"observedMillis"`
	// Outages are every outage after T0 (Availability.Outages), from T0.
	Outages []Outage `json:"outages"`
	// TimeToImpact is the start of the first outage, from T0; nil when no
	// probe failed after T0.
	TimeToImpact *Millis `json:"timeToImpactMillis"`
	// Downtime is the sum of the outages' lengths.
	Downtime     Millis  `json:"downtimeMillis"`
	Probes       int     `json:"probes"`
	FailedProbes int     `json:"failedProbes"`
	ErrorRate    float64 `json:"errorRate"`

	// Redundancy. TimeToFullRedundancy is nil when full redundancy was not
	// back (and stable) by the last sample.
	RedundancyRestored       bool    `json:"redundancyRestored"`
	TimeToFullRedundancy     *Millis `json:"timeToFullRedundancyMillis"`
	FullRedundancyResolution Millis  `json:"fullRedundancyResolutionMillis"`
	// RedundancyDegraded is the detail of the last degraded sample.
	RedundancyDegraded string `json:"redundancyDegraded"`

	// Data. DataChecked is false when no final read was recorded; the
	// RPO fields are then nil and the id lists empty, meaning unknown.
	DataChecked         bool `json:"dataChecked"`
	DataSafe            bool `json:"dataSafe"`
	WritesInvoked       int  `json:"writesInvoked"`
	WritesAcked         int  `json:"writesAcked"`
	WritesFailed        int  `json:"writesFailed"`
	WritesIndeterminate int  `json:"writesIndeterminate"`
	IDsRead             int  `json:"idsRead"`

	Lost      []string `json:"lost"`
	LostCount int      `json:"lostCount"`
	// LostWrites are Lost with their acknowledgement instants, from T0.
	LostWrites      []LostWrite `json:"lostWrites"`
	Unexpected      []string    `json:"unexpected"`
	UnexpectedCount int         `json:"unexpectedCount"`
	Recovered       []string    `json:"recovered"`
	RecoveredCount  int         `json:"recoveredCount"`

	RPOWrites *int    `json:"rpoWrites"`
	RPO       *Millis `json:"rpoMillis"`

	// Restore path only: BackupAge is T0 − the restored backup's cut (the
	// RPO a restore is expected to cost); ExpectedLoss are writes acked at
	// or after the cut and missing; LostBeforeBackup are writes acked
	// before it and missing — a bug, never counted in RPO.
	RestoredBackup        string   `json:"restoredBackup"`
	BackupAge             *Millis  `json:"backupAgeMillis"`
	ExpectedLoss          []string `json:"expectedLoss"`
	ExpectedLossCount     int      `json:"expectedLossCount"`
	LostBeforeBackup      []string `json:"lostBeforeBackup"`
	LostBeforeBackupCount int      `json:"lostBeforeBackupCount"`
	// BugCheck says whether lost writes were checked against the restored
	// backup's cut: empty without a restore, BugCheckMade, or "not made: "
	// and why (a backup with no known cut). When not made, ExpectedLoss
	// and LostBeforeBackup are empty and BackupAge is nil.
	BugCheck string `json:"bugCheck"`

	// The app's data-safety promise, from Options: LostWritesAllowed is
	// how many acknowledged writes may be lost (nil: any number), and
	// PromiseWhy what the promise rests on. Judge breaches a result that
	// loses more, whatever the targets.
	LostWritesAllowed *int   `json:"lostWritesAllowed"`
	PromiseWhy        string `json:"promiseWhy"`

	Verdict Verdict `json:"verdict"`
}

// Options tune Analyse.
type Options struct {
	// StabilityWindow is how long probes must keep succeeding for the
	// service to count as restored; zero means DefaultStabilityWindow.
	StabilityWindow time.Duration
	// RestoredBackup is the id of the BackupTaken event the recovery
	// restored from; empty when recovery did not restore a backup.
	RestoredBackup string
	// Targets are the scenario's own targets, for Result.Verdict.
	Targets Targets
	// LostWritesAllowed is the data-safety promise: how many acknowledged
	// writes the app may lose (the scenario's expect.lostWrites, else the
	// driver's promise); nil means any number. Lost writes a restore
	// explains (expected loss) or that are already a bug do not count.
	LostWritesAllowed *int
	// PromiseWhy is what the promise rests on (the driver's
	// Promise.Why), for the breach reason.
	PromiseWhy string
}

// Analyse computes a Result from a recording. T0 is the first FaultApplied
// event; a scenario that applies several faults measures from the first.
func Analyse(rec Recording, opts Options) (Result, error) {
	window := opts.StabilityWindow
	switch {
	case window == 0:
		window = DefaultStabilityWindow
	case window < 0:
		return Result{}, fmt.Errorf("stability window %s: must not be negative", window)
	}
	if n := opts.LostWritesAllowed; n != nil && *n < 0 {
		return Result{}, fmt.Errorf("lost writes allowed %d: must not be negative (nil allows any number)", *n)
	}
	t0, found := time.Duration(0), false
	var backup *Backup
	for _, e := range rec.Events {
		if e.Kind == FaultApplied && !found {
			t0, found = e.At, true
		}
		// The latest event wins if an id was recorded twice.
		if e.Kind == BackupTaken && opts.RestoredBackup != "" && e.Detail == opts.RestoredBackup {
			backup = &Backup{ID: e.Detail, Cut: e.Cut, CutUnknown: e.CutUnknown}
		}
	}
	if !found {
		return Result{}, ErrNoFault
	}
	if opts.RestoredBackup != "" && backup == nil {
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownBackup, opts.RestoredBackup)
	}
	if backup != nil && backup.CutUnknown == "" && backup.Cut > t0 {
		return Result{}, fmt.Errorf("%w: backup %q cut at %s on the timeline, the fault at %s: a restore from it cannot undo the fault, or its cut was placed on another clock",
			ErrCutAfterFault, backup.ID, backup.Cut, t0)
	}

	r := Result{
		StabilityWindow:   Millis(window),
		Outages:           []Outage{},
		Lost:              []string{},
		LostWrites:        []LostWrite{},
		Unexpected:        []string{},
		LostWritesAllowed: opts.LostWritesAllowed,
		PromiseWhy:        opts.PromiseWhy,
		Recovered:         []string{},
		ExpectedLoss:      []string{},
		LostBeforeBackup:  []string{},
	}

	av := ServiceRestored(rec.Probes, t0, window)
	r.ServiceRestored = av.Restored
	if av.Restored {
		r.RTO = millisPtr(av.RTO)
	}
	r.RTOResolution = Millis(av.Resolution)
	r.Observed = Millis(av.Observed)
	if len(av.Outages) > 0 {
		r.Outages = av.Outages
	}
	if av.Failed {
		r.TimeToImpact = millisPtr(av.TimeToImpact)
	}
	r.Downtime = Millis(av.Downtime)
	r.Probes, r.FailedProbes, r.ErrorRate = av.Probes, av.FailedProbes, av.ErrorRate

	red := RedundancyRestored(rec.Redundancy, t0)
	r.RedundancyRestored = red.Restored
	if red.Restored {
		r.TimeToFullRedundancy = millisPtr(red.TimeToFull)
	}
	r.FullRedundancyResolution = Millis(red.Resolution)
	r.RedundancyDegraded = red.Degraded

	if backup != nil {
		r.RestoredBackup = backup.ID
		if backup.CutUnknown == "" {
			r.BackupAge = millisPtr(t0 - backup.Cut)
		}
	}
	// Without a final read every acked write would look lost; say
	// "unknown" instead.
	if rec.ReadDone {
		w, err := CheckWrites(rec.Writes, rec.Read, t0, backup)
		if err != nil {
			return Result{}, err
		}
		r.DataChecked, r.DataSafe = true, w.DataSafe
		r.WritesInvoked, r.WritesAcked, r.WritesFailed, r.WritesIndeterminate = w.Invoked, w.Acked, w.Failed, w.Indeterminate
		r.IDsRead = w.Read
		r.Lost, r.LostCount = orEmpty(w.Lost), len(w.Lost)
		for i, id := range w.Lost {
			r.LostWrites = append(r.LostWrites, LostWrite{ID: id, Acked: Millis(w.LostAcked[i] - t0)})
		}
		r.BugCheck = w.BugCheck
		r.Unexpected, r.UnexpectedCount = orEmpty(w.Unexpected), len(w.Unexpected)
		r.Recovered, r.RecoveredCount = orEmpty(w.Recovered), len(w.Recovered)
		r.ExpectedLoss, r.ExpectedLossCount = orEmpty(w.ExpectedLoss), len(w.ExpectedLoss)
		r.LostBeforeBackup, r.LostBeforeBackupCount = orEmpty(w.LostBeforeBackup), len(w.LostBeforeBackup)
		r.RPOWrites = new(w.RPOWrites)
		r.RPO = millisPtr(w.RPO)
	}

	r.Verdict = Judge(r, opts.Targets)
	return r, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
