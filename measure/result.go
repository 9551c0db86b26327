package measure

import (
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
)

// Millis is a duration in a Result. In JSON it is a number of milliseconds
// (fractions allowed), so the schema does not depend on Go's encoding of
// time.Duration.
type Millis time.Duration

// Duration is m as a time.Duration.
func (m Millis) Duration() time.Duration { return time.Duration(m) }

func (m Millis) String() string { return time.Duration(m).String() }

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
	// FirstFailure is nil when no probe failed after T0.
	FirstFailure *Millis `json:"firstFailureMillis"`
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

	Lost            []string `json:"lost"`
	LostCount       int      `json:"lostCount"`
	Unexpected      []string `json:"unexpected"`
	UnexpectedCount int      `json:"unexpectedCount"`
	Recovered       []string `json:"recovered"`
	RecoveredCount  int      `json:"recoveredCount"`

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
	t0, found := time.Duration(0), false
	var backup *Backup
	for _, e := range rec.Events {
		if e.Kind == FaultApplied && !found {
			t0, found = e.At, true
		}
		// The latest event wins if an id was recorded twice.
		if e.Kind == BackupTaken && opts.RestoredBackup != "" && e.Detail == opts.RestoredBackup {
			backup = &Backup{ID: e.Detail, Cut: e.Cut}
		}
	}
	if !found {
		return Result{}, ErrNoFault
	}
	if opts.RestoredBackup != "" && backup == nil {
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownBackup, opts.RestoredBackup)
	}

	r := Result{
		StabilityWindow:  Millis(window),
		Lost:             []string{},
		Unexpected:       []string{},
		Recovered:        []string{},
		ExpectedLoss:     []string{},
		LostBeforeBackup: []string{},
	}

	av := ServiceRestored(rec.Probes, t0, window)
	r.ServiceRestored = av.Restored
	if av.Restored {
		r.RTO = millisPtr(av.RTO)
	}
	r.RTOResolution = Millis(av.Resolution)
	r.Observed = Millis(av.Observed)
	if av.Failed {
		r.FirstFailure = millisPtr(av.FirstFailure)
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
		r.BackupAge = millisPtr(t0 - backup.Cut)
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
