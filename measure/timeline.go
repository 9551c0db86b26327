package measure

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/reboundhq/rebound/clock"
)

// Clock is where a Timeline reads the time. Now is called once when the
// Timeline is created and once per Record call, from any goroutine; the
// instants it returns must come from one monotonic source, because every
// number this package reports is a difference of two of them.
type Clock interface {
	Now() time.Time
}

// HostClock is a Clock that can also read the host's monotonic clock, so a
// Timeline can place instants another process on this host recorded (a
// scheduled backup's cut). SystemClock is one.
type HostClock interface {
	Clock
	HostNow() clock.Instant
}

type systemClock struct{}

func (systemClock) Now() time.Time         { return time.Now() }
func (systemClock) HostNow() clock.Instant { return clock.Now() }

// SystemClock is the process clock. time.Now carries a monotonic reading and
// Time.Sub uses it, so offsets stay right when the wall clock is stepped (NTP,
// a suspended laptop, a VM migration) in the middle of a game day.
func SystemClock() Clock { return systemClock{} }

// EventKind names what happened at an instant of the timeline.
type EventKind string

const (
	// FaultApplied is T0: the injector confirmed the fault applied, or a
	// person marked a manual fault.
	FaultApplied EventKind = "faultApplied"
	// FaultRecovered is when the injector undid the fault.
	FaultRecovered EventKind = "faultRecovered"
	// FirstFailure is when a probe first saw the app fail. Analyse derives
	// its own first failure from the probe samples; the event is for the
	// timeline a report draws.
	FirstFailure EventKind = "firstFailure"
	// RecoveryStarted and RecoveryFinished bracket a recovery action such as
	// a restore.
	RecoveryStarted  EventKind = "recoveryStarted"
	RecoveryFinished EventKind = "recoveryFinished"
	// BackupTaken is a backup that a restore may use; see Timeline.RecordBackup.
	BackupTaken EventKind = "backupTaken"
	// Mark is a note a person or the runner put on the timeline.
	Mark EventKind = "mark"
	// ObservationEnded is when the runner stopped observing: at least one
	// stability window after the last failure and after the fault was
	// over, or at the recover timeout (Detail says which).
	ObservationEnded EventKind = "observationEnded"
	// Aborted is when a signal, an abort condition or a phase timeout
	// stopped the scenario; Detail says which.
	Aborted EventKind = "aborted"
	// RolledBack is when the runner undid what it had applied (a fault, a
	// mover's Secret) outside the normal recovery; Detail says what.
	RolledBack EventKind = "rolledBack"
)

// Reports render every EventKind, these and any other, the same generic way:
// a kind is a name, not a closed set.

// Event is one thing that happened, at an offset from the timeline's start.
type Event struct {
	At     time.Duration
	Kind   EventKind
	Detail string // for BackupTaken, the backup's id
	// Cut is, for BackupTaken only, the instant the backup's consistent
	// cut happened: writes acknowledged before it must be in the backup.
	// It is earlier than At, which is when the backup finished. It is
	// meaningless when CutUnknown is set.
	Cut time.Duration
	// CutUnknown is, for BackupTaken only, why the backup has no known cut
	// instant (a crash-consistent volume copy made file by file while the
	// app ran); empty when Cut holds. Without a cut, a restore's lost
	// writes cannot be split into expected loss and bug.
	CutUnknown string
	// Cluster names the cluster the event happened in, for a scenario
	// that acts on two (a DR region); empty when the run has one.
	Cluster string
}

// ProbeSample is one availability probe: a read and a write issued at Start
// that finished (or timed out) at End. OK means both succeeded in time.
type ProbeSample struct {
	Start, End time.Duration
	OK         bool
}

// RedundancySample is one look at the app's redundancy: Full when desired
// replicas are Ready and the app's own health is at full (etcd: all members
// healthy; Elasticsearch: green). Detail says what was seen, for reports.
type RedundancySample struct {
	At     time.Duration
	Full   bool
	Detail string
}

// OpType is the kind of a write-probe history entry, as in Jepsen.
type OpType string

const (
	OpInvoke OpType = "invoke" // the write was issued
	OpOK     OpType = "ok"     // the app acknowledged it
	OpFail   OpType = "fail"   // the app said it did not happen
	OpInfo   OpType = "info"   // outcome unknown (timeout, lost connection)
)

// WriteEvent is one entry of the write probe's history. Each id is invoked
// once and completed at most once.
type WriteEvent struct {
	ID   string
	Type OpType
	At   time.Duration
}

// Recording is a copy of everything a Timeline holds, for Analyse.
type Recording struct {
	Started    time.Time // wall-clock reading of the start instant, for reports
	Events     []Event   // in the order recorded, which is time order
	Probes     []ProbeSample
	Redundancy []RedundancySample
	Writes     []WriteEvent // in time order
	Read       []string     // ids the final read found
	ReadDone   bool         // whether a final read was recorded at all
}

// Timeline records a run on one monotonic clock. All methods are safe to call
// from many goroutines at once; probes call them while the runner does.
type Timeline struct {
	clock   Clock
	started time.Time
	// host is the start on the host's monotonic clock; zero when the
	// Clock is not a HostClock.
	host clock.Instant

	mu  sync.Mutex
	rec Recording
}

// NewTimeline starts a timeline now; a nil clock means SystemClock.
func NewTimeline(c Clock) *Timeline {
	if c == nil {
		c = SystemClock()
	}
	start := c.Now()
	var host clock.Instant
	if hc, ok := c.(HostClock); ok {
		host = hc.HostNow()
	}
	return &Timeline{
		clock:   c,
		started: start,
		host:    host,
		rec:     Recording{Started: start.Round(0)}, // Round(0) drops the monotonic reading
	}
}

// Offset converts an instant read from this timeline's Clock (in this
// process: time.Now, whose monotonic reading Sub uses) to an offset on the
// timeline. It is the one conversion from an instant to an offset; never
// pass it a wall time parsed from elsewhere.
func (t *Timeline) Offset(at time.Time) time.Duration { return at.Sub(t.started) }

// HostInstant is the instant at offset d on the host's monotonic clock, for
// asking another process about "before T0"; zero when the timeline's clock
// has no host reading.
func (t *Timeline) HostInstant(d time.Duration) clock.Instant {
	if t.host.IsZero() {
		return clock.Instant{}
	}
	return t.host.Add(d)
}

// HostOffset converts an instant of this host's monotonic clock, read by
// any process, to an offset on the timeline. It fails when the instant is of
// another boot or host, or the timeline's clock has no host reading: such an
// instant cannot be placed on this timeline, and guessing from wall clocks
// is what it exists to avoid.
func (t *Timeline) HostOffset(at clock.Instant) (time.Duration, error) {
	if t.host.IsZero() {
		return 0, errors.New("this timeline's clock cannot read the host's monotonic clock")
	}
	return at.Sub(t.host)
}

// Now is the current offset from the timeline's start. Probes take it before
// and after a probe to build a ProbeSample.
func (t *Timeline) Now() time.Duration { return t.clock.Now().Sub(t.started) }

// Record stamps an event now. For BackupTaken it sets Cut to now as well;
// use RecordBackup when the cut happened earlier, as it usually does.
func (t *Timeline) Record(kind EventKind, detail string) Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Stamping under the lock keeps the slice in time order.
	e := Event{At: t.Now(), Kind: kind, Detail: detail}
	if kind == BackupTaken {
		e.Cut = e.At
	}
	t.rec.Events = append(t.rec.Events, e)
	return e
}

// RecordIn stamps an event, now, that happened in the named cluster: for a
// scenario that acts on two clusters (its target's and a DR region).
func (t *Timeline) RecordIn(cluster string, kind EventKind, detail string) Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := Event{At: t.Now(), Kind: kind, Detail: detail, Cluster: cluster}
	if kind == BackupTaken {
		e.Cut = e.At
	}
	t.rec.Events = append(t.rec.Events, e)
	return e
}

// RecordBackup stamps, now, that the backup with this id finished, and that
// its consistent cut happened at cut (an offset on this timeline).
func (t *Timeline) RecordBackup(id string, cut time.Duration) Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := Event{At: t.Now(), Kind: BackupTaken, Detail: id, Cut: cut}
	t.rec.Events = append(t.rec.Events, e)
	return e
}

// RecordBackupUnknownCut stamps, now, that the backup with this id finished
// with no known cut instant, and why (it must not be empty: a report shows it
// in place of the bug check it prevents).
func (t *Timeline) RecordBackupUnknownCut(id, why string) Event {
	if why == "" {
		why = "the backup engine did not say why"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := Event{At: t.Now(), Kind: BackupTaken, Detail: id, CutUnknown: why}
	t.rec.Events = append(t.rec.Events, e)
	return e
}

// RecordProbe adds an availability sample the probe timed with Now.
func (t *Timeline) RecordProbe(s ProbeSample) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.Probes = append(t.rec.Probes, s)
}

// RecordRedundancy stamps a redundancy sample now.
func (t *Timeline) RecordRedundancy(full bool, detail string) RedundancySample {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := RedundancySample{At: t.Now(), Full: full, Detail: detail}
	t.rec.Redundancy = append(t.rec.Redundancy, s)
	return s
}

// RecordWrite stamps a write-probe history entry now: OpInvoke just before
// the write is sent, then one of OpOK, OpFail or OpInfo when it completes.
func (t *Timeline) RecordWrite(id string, typ OpType) WriteEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := WriteEvent{ID: id, Type: typ, At: t.Now()}
	t.rec.Writes = append(t.rec.Writes, w)
	return w
}

// RecordRead adds ids found by the final read. A read done in pages calls it
// once per page; calling it with no ids still records that a read happened and
// found nothing, which is not the same as no read at all.
func (t *Timeline) RecordRead(ids ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.Read = append(t.rec.Read, ids...)
	t.rec.ReadDone = true
}

// Snapshot copies what has been recorded so far; recording may go on.
func (t *Timeline) Snapshot() Recording {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rec
	r.Events = slices.Clone(r.Events)
	r.Probes = slices.Clone(r.Probes)
	r.Redundancy = slices.Clone(r.Redundancy)
	r.Writes = slices.Clone(r.Writes)
	r.Read = slices.Clone(r.Read)
	return r
}
