package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// SchemaVersion names the report's schema; it is the "schema" key of every
// report.json and the version of schema/report.v1alpha1.json.
const SchemaVersion = "rebound.dev/report/v1alpha1"

// Errors callers branch on with errors.Is.
var (
	// ErrInvalidRun wraps every problem Finalize finds in a Run.
	ErrInvalidRun = errors.New("invalid run report")
	// ErrNotFinal is returned by the outputs (WriteAll, Push, Live.Publish)
	// when given a Run that Finalize has not closed: verdicts come first.
	ErrNotFinal = errors.New("run report not finalized: call Run.Finalize first")
	// ErrUnknownFormat is returned for a format name that is not in Formats.
	ErrUnknownFormat = errors.New("unknown report format")
	// ErrUnwritableDir is wrapped by WriteAll and CheckDir when the report
	// folder cannot be created or a report cannot be written into it.
	ErrUnwritableDir = errors.New("reports cannot be written there")
)

// Run is the report of one `rebound run`: every scenario it ran and what
// the ladder says about them. It is the versioned report model: report.json
// is this struct, and every other format is rendered from it. Fields are
// filled by the runner from measure's results; reports never computes them.
type Run struct {
	// Schema is SchemaVersion; Finalize sets it.
	Schema string `json:"schema"`
	// ID names the run; it labels the Prometheus metrics and the JUnit suite.
	ID string `json:"id"`
	// StartedAt and FinishedAt are wall-clock times of the whole run.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Cluster is the Kubernetes context (or "lab") the run acted on.
	Cluster string `json:"cluster"`
	// Ladder is the name of the ladder Achieved was judged against; empty
	// when the run used none.
	Ladder string `json:"ladder"`
	// Scenarios in the order they ran.
	Scenarios []Scenario `json:"scenarios"`
	// Achieved is the rung reached per disruption type
	// (measure.AchievedRungs); empty without a ladder.
	Achieved []measure.Achievement `json:"achieved"`
	// Aborted is true when a signal, an abort condition or a phase timeout
	// stopped the run; AbortReason says which.
	Aborted     bool   `json:"aborted"`
	AbortReason string `json:"abortReason"`
	// CleanupIncomplete lists what could not be rolled back (journal entries,
	// as `rebound cleanup` names them); empty when everything was undone.
	CleanupIncomplete []string `json:"cleanupIncomplete"`
}

// Scenario is one scenario's part of a Run.
type Scenario struct {
	// Name is the scenario's name; it is unique within a Run.
	Name string `json:"name"`
	// Disruption is the disruption type (node, zone, disk, human-error,
	// region) the scenario stands for on the ladder.
	Disruption string `json:"disruption"`
	// Fault is the fault kind that was injected (node-stop, zone-freeze, …).
	Fault string `json:"fault"`
	// Recovery is the recovery path: self-heal, restore or manual.
	Recovery string `json:"recovery"`
	// Target is the app the scenario acted on, for people
	// ("etcd in rebound-demo"). The RTO/RPO goals are Targets.
	Target string `json:"target"`
	// StartedAt is the wall-clock start of the scenario's timeline: Events'
	// offsets count from it.
	StartedAt time.Time `json:"startedAt"`
	// Duration is how long the scenario took, all phases included.
	Duration measure.Millis `json:"durationMillis"`
	// Error is why the scenario could not run or could not be measured;
	// Result is then meaningless. Empty when it ran.
	Error string `json:"error"`
	// Notes are remarks for people (a simulated pod, a manual step).
	Notes []string `json:"notes"`
	// Result is measure.Analyse's result, verdict included.
	Result measure.Result `json:"result"`
	// Targets are the goals Result.Verdict was judged against. In JSON:
	// {"rtoMillis", "rpoWrites", "rpoTimeMillis"}, null where unset.
	Targets measure.Targets `json:"-"`
	// Events is the scenario's timeline (fault applied, recovery started,
	// backups, marks, observation ended, …; any kind renders the same way).
	// In JSON: {"atMillis", "kind", "detail"} and, for a backup,
	// "cutMillis" or, when its cut is unknown, "cutUnknown".
	Events []measure.Event `json:"-"`
	// Probes are every availability probe of the scenario, run-length
	// encoded by ProbeSpans, on the same timeline as Events.
	Probes []ProbeSpan `json:"probes"`
	// Drill is what a restore drill (`rebound drill`) restored and
	// verified; nil for a fault scenario. A drill's timeline has no fault:
	// its T0 is the restore's start (the first RecoveryStarted event), and
	// Result.RTO is the time to a verified, serving copy.
	Drill *Drill `json:"drill,omitempty"`
}

// Drill is a restore drill's own part of its scenario: which backup went
// where, how long it took, and every check with its outcome.
type Drill struct {
	// Backup is the id of the backup restored; Taken is true when the
	// drill took it itself. Cut is its consistent cut, wall clock (when
	// CutUnknown is set, only when its copy began).
	Backup     string    `json:"backup"`
	Taken      bool      `json:"taken"`
	Cut        time.Time `json:"cut"`
	CutUnknown string    `json:"cutUnknown"`
	// SourceNamespace is where the backup was taken; Namespace the scratch
	// namespace it was restored into, on Cluster.
	SourceNamespace string `json:"sourceNamespace"`
	Namespace       string `json:"namespace"`
	Cluster         string `json:"cluster"`
	// Restore is how long the backup engine's restore took (objects, data,
	// Ready and healthy); TimeToVerified is from the restore's start to the
	// last check passed, null when the copy was not verified.
	Restore        measure.Millis  `json:"restoreMillis"`
	TimeToVerified *measure.Millis `json:"timeToVerifiedMillis"`
	// Checks are every check, made or not, in the order they ran.
	Checks []DrillCheck `json:"checks"`
	// Created is true once the restore was asked to create the scratch
	// namespace (false when the drill stopped before, e.g. at a damaged
	// backup). Kept is true when --keep left it for inspection; Deleted
	// when the drill deleted it and saw it gone. Cleanup says what went
	// wrong deleting it, empty when nothing did. Reused is true when the
	// drill restored into a namespace that existed (rebound drill
	// --reuse-namespace): then Created, Kept and Deleted are about the
	// objects the restore created in it, and the namespace stays.
	Created bool   `json:"created"`
	Kept    bool   `json:"kept"`
	Deleted bool   `json:"deleted"`
	Cleanup string `json:"cleanup"`
	Reused  bool   `json:"reused"`
}

// DrillCheck is one thing a drill verified, failed to verify, or could not
// check.
type DrillCheck struct {
	// Name is health, probe-ids or checksum.
	Name string `json:"name"`
	// Status is DrillVerified, DrillFailed or DrillNotMade.
	Status DrillStatus `json:"status"`
	// Detail says exactly what was compared, or why nothing was.
	Detail string `json:"detail"`
}

// DrillStatus is a drill check's outcome.
type DrillStatus string

// Drill check outcomes.
const (
	DrillVerified DrillStatus = "verified" // checked, and it holds
	DrillFailed   DrillStatus = "failed"   // checked, and it does not
	DrillNotMade  DrillStatus = "not-made" // could not be checked; Detail says why
)

// Status is a scenario's outcome in one word, as the table and JUnit show it.
type Status string

// Statuses, from best to worst.
const (
	StatusPass   Status = "PASS"   // every target met
	StatusBreach Status = "BREACH" // a target was missed or the service was not restored
	StatusBug    Status = "BUG"    // the data shows a defect whatever the targets
	StatusError  Status = "ERROR"  // the scenario could not run or be measured
)

// Status is the scenario's outcome: ERROR when it has an Error, then BUG,
// BREACH or PASS from its verdict.
func (s *Scenario) Status() Status {
	switch {
	case s.Error != "":
		return StatusError
	case s.Result.Verdict.Bug:
		return StatusBug
	case !s.Result.Verdict.Pass:
		return StatusBreach
	}
	return StatusPass
}

// Finalized reports whether Finalize has closed the run.
func (r *Run) Finalized() bool {
	return r != nil && r.Schema == SchemaVersion && !r.FinishedAt.IsZero()
}

// Finalize closes the run at finishedAt: it is the first of the three steps
// in the package doc (finalize, flush, stop). It checks that every verdict is
// in — each scenario has an Error or a Verdict from measure.Judge — and that
// names are unique (JUnit and Prometheus need them to be), replaces nil lists
// with empty ones so the JSON never says null for a list, and only then sets
// Schema and FinishedAt. It returns every problem at once, wrapped in
// ErrInvalidRun, and leaves the run open when there is one. The run must not
// change afterwards.
func (r *Run) Finalize(finishedAt time.Time) error {
	if r == nil {
		return fmt.Errorf("%w: nil run", ErrInvalidRun)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRun}, args...)...))
	}
	if r.Schema != "" && r.Schema != SchemaVersion {
		bad("schema: %q, want %q", r.Schema, SchemaVersion)
	}
	if r.ID == "" {
		bad("id: must not be empty")
	}
	switch {
	case finishedAt.IsZero():
		bad("finishedAt: must not be zero")
	case r.StartedAt.IsZero():
		bad("startedAt: must not be zero")
	case finishedAt.Before(r.StartedAt):
		bad("finishedAt %s is before startedAt %s", finishedAt.Format(time.RFC3339), r.StartedAt.Format(time.RFC3339))
	}
	seen := make(map[string]int, len(r.Scenarios))
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		path := fmt.Sprintf("scenarios[%d]", i)
		if s.Name == "" {
			bad("%s.name: must not be empty", path)
		} else if j, dup := seen[s.Name]; dup {
			bad("%s.name: %q already used by scenarios[%d]", path, s.Name, j)
		} else {
			seen[s.Name] = i
		}
		if d := s.Drill; d != nil {
			for j, c := range d.Checks {
				if c.Status != DrillVerified && c.Status != DrillFailed && c.Status != DrillNotMade {
					bad("%s.drill.checks[%d].status: %q, want %s, %s or %s", path, j, c.Status, DrillVerified, DrillFailed, DrillNotMade)
				}
			}
		}
		// measure.Judge always sets Breaches; nil means nobody judged it.
		if s.Error == "" && s.Result.Verdict.Breaches == nil {
			bad("%s (%q): no verdict: set Result from measure.Analyse, or Error when it could not run", path, s.Name)
		}
	}
	if r.Aborted && r.AbortReason == "" {
		bad("abortReason: must say why the run was aborted")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	r.Scenarios = orEmpty(r.Scenarios)
	r.Achieved = orEmpty(r.Achieved)
	r.CleanupIncomplete = orEmpty(r.CleanupIncomplete)
	for i := range r.Achieved {
		r.Achieved[i].Blocked = orEmpty(r.Achieved[i].Blocked)
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		s.Notes = orEmpty(s.Notes)
		s.Events = orEmpty(s.Events)
		s.Probes = orEmpty(s.Probes)
		if s.Drill != nil {
			s.Drill.Checks = orEmpty(s.Drill.Checks)
		}
		res := &s.Result
		res.Lost, res.Unexpected, res.Recovered = orEmpty(res.Lost), orEmpty(res.Unexpected), orEmpty(res.Recovered)
		res.Outages, res.LostWrites = orEmpty(res.Outages), orEmpty(res.LostWrites)
		res.ExpectedLoss, res.LostBeforeBackup = orEmpty(res.ExpectedLoss), orEmpty(res.LostBeforeBackup)
		res.Verdict.Breaches = orEmpty(res.Verdict.Breaches)
		res.Verdict.Targets = orEmpty(res.Verdict.Targets)
	}
	r.Schema = SchemaVersion
	r.FinishedAt = finishedAt
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ReadJSON decodes a report.json, refusing unknown fields and other schema
// versions, so a report can be rendered again in other formats later.
func ReadJSON(r io.Reader) (*Run, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var run Run
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	if run.Schema != SchemaVersion {
		return nil, fmt.Errorf("decode report: schema %q, want %q", run.Schema, SchemaVersion)
	}
	return &run, nil
}

// targetsJSON is measure.Targets on the wire: measure's Targets has no JSON
// tags and time.Duration would encode as nanoseconds.
type targetsJSON struct {
	RTO       *float64 `json:"rtoMillis"`
	RPOWrites *int     `json:"rpoWrites"`
	RPOTime   *float64 `json:"rpoTimeMillis"`
}

// eventJSON is measure.Event on the wire, for the same reason.
type eventJSON struct {
	At     float64           `json:"atMillis"`
	Kind   measure.EventKind `json:"kind"`
	Detail string            `json:"detail"`
	Cut    *float64          `json:"cutMillis,omitempty"`
	// CutUnknown replaces Cut for a backup whose cut instant is unknown.
	CutUnknown string `json:"cutUnknown,omitempty"`
	// Cluster names where the event happened, for a scenario that acts on
	// two clusters (a DR region).
	Cluster string `json:"cluster,omitempty"`
}

func toMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMillis(f float64) time.Duration {
	return time.Duration(math.Round(f * float64(time.Millisecond)))
}

func durationPtrMillis(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	return new(toMillis(*d))
}

func millisPtrDuration(f *float64) *time.Duration {
	if f == nil {
		return nil
	}
	return new(fromMillis(*f))
}

// MarshalJSON encodes the scenario with Targets and Events in milliseconds.
func (s Scenario) MarshalJSON() ([]byte, error) {
	type plain Scenario // no methods: no recursion
	w := struct {
		plain
		Targets targetsJSON `json:"targets"`
		Events  []eventJSON `json:"events"`
	}{
		plain: plain(s),
		Targets: targetsJSON{
			RTO:       durationPtrMillis(s.Targets.RTO),
			RPOWrites: s.Targets.RPOWrites,
			RPOTime:   durationPtrMillis(s.Targets.RPOTime),
		},
		Events: make([]eventJSON, 0, len(s.Events)),
	}
	for _, e := range s.Events {
		ej := eventJSON{At: toMillis(e.At), Kind: e.Kind, Detail: e.Detail, Cluster: e.Cluster}
		switch {
		case e.CutUnknown != "":
			ej.CutUnknown = e.CutUnknown
		case e.Kind == measure.BackupTaken:
			ej.Cut = new(toMillis(e.Cut))
		}
		w.Events = append(w.Events, ej)
	}
	return json.Marshal(w)
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (s *Scenario) UnmarshalJSON(b []byte) error {
	type plain Scenario
	w := struct {
		*plain
		Targets targetsJSON `json:"targets"`
		Events  []eventJSON `json:"events"`
	}{plain: (*plain)(s)}
	// Strict like ReadJSON: a decoder's DisallowUnknownFields does not
	// reach into a custom UnmarshalJSON.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	s.Targets = measure.Targets{
		RTO:       millisPtrDuration(w.Targets.RTO),
		RPOWrites: w.Targets.RPOWrites,
		RPOTime:   millisPtrDuration(w.Targets.RPOTime),
	}
	s.Events = make([]measure.Event, 0, len(w.Events))
	for _, e := range w.Events {
		me := measure.Event{At: fromMillis(e.At), Kind: e.Kind, Detail: e.Detail, CutUnknown: e.CutUnknown, Cluster: e.Cluster}
		if e.Cut != nil {
			me.Cut = fromMillis(*e.Cut)
		}
		s.Events = append(s.Events, me)
	}
	return nil
}
