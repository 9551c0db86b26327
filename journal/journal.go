package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Undo is one step that puts back what a fault (or any other temporary
// change rebound makes, such as a data mover's key Secret) changed. It is
// plain data, so the journal can hold it and `rebound cleanup` can run it
// after a crash; package faults runs it. Every undo is idempotent: running it
// twice, or after the change ended by itself, is harmless.
type Undo struct {
	Kind string            `json:"kind"`
	Args map[string]string `json:"args"`
	// Describe says what the step does, for dry runs and cleanup output.
	Describe string `json:"describe"`
}

// Journal states of a fault.
const (
	StatePending   = "pending"   // about to act: may or may not have applied
	StateApplied   = "applied"   // the fault is in place
	StateRecovered = "recovered" // every undo step ran
	StateFailed    = "failed"    // an undo step failed; cleanup retries
)

// Cluster says how to reach the cluster a fault was applied to, so cleanup
// can act from nothing but the journal.
type Cluster struct {
	Lab        string `json:"lab,omitempty"` // the lab's name, when the target is the lab
	StateDir   string `json:"stateDir,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	Namespace  string `json:"namespace"`
}

// Entry is one journal line: a fault's undo, written before it acts, and
// each later change of its state.
type Entry struct {
	ID          string    `json:"id"`
	Run         string    `json:"run"`
	Scenario    string    `json:"scenario"`
	Fault       string    `json:"fault"`
	Description string    `json:"description"`
	State       string    `json:"state"`
	Undo        []Undo    `json:"undo,omitempty"`
	Cluster     Cluster   `json:"cluster"`
	Time        time.Time `json:"time"`
	Error       string    `json:"error,omitempty"`
	// Source is the journal file Outstanding read the entry's latest
	// state from; not stored.
	Source string `json:"-"`
}

// Journal is an append-only file of entries, synced after every line, so a
// crash or kill -9 never loses the record of a fault that was applied.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// JournalDir is where journals live under a state folder.
func JournalDir(stateDir string) string { return filepath.Join(stateDir, "journal") }

// ErrInUse is a journal that a live process holds open: the run is still
// going, and its faults are its own to roll back.
var ErrInUse = errors.New("journal is held by a running rebound")

// OpenJournal opens (creating) the journal of a run and holds an exclusive
// lock on it until Close, so that `rebound cleanup` leaves a live run's
// faults alone. The kernel drops the lock when the process dies, kill -9
// included. A journal another process holds fails with ErrInUse.
func OpenJournal(stateDir, run string) (*Journal, error) {
	dir := JournalDir(stateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return OpenPath(filepath.Join(dir, run+".jsonl"))
}

// OpenPath opens (creating) the journal file at path, locked as OpenJournal
// does. Cleanup writes an entry's new state into the file it came from
// (Entry.Source).
func OpenPath(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, path)
		}
		return nil, fmt.Errorf("lock journal %s: %w", path, err)
	}
	return &Journal{path: path, f: f}, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Write appends an entry and syncs it to disk before returning.
func (j *Journal) Write(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Time = time.Now().UTC()
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write journal %s: %w", j.path, err)
	}
	return j.f.Sync()
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// Outstanding reads every journal in the state folder and returns the
// faults whose last state is not recovered, oldest first.
func Outstanding(stateDir string) ([]Entry, error) {
	files, err := filepath.Glob(filepath.Join(JournalDir(stateDir), "*.jsonl"))
	if err != nil {
		return nil, err
	}
	// The latest state of each entry wins across files too: an entry's
	// state may have been written into another run's file.
	latest := map[string]Entry{}
	for _, file := range files {
		last, err := readJournal(file)
		if err != nil {
			return nil, err
		}
		for _, e := range last {
			e.Source = file
			prev, seen := latest[e.ID]
			if seen && e.Time.Before(prev.Time) {
				e, prev = prev, e // keep the newer; it may lack the undo
			}
			if len(e.Undo) == 0 {
				e.Undo = prev.Undo // state lines need not repeat the undo
			}
			latest[e.ID] = e
		}
	}
	var out []Entry
	for _, e := range latest {
		if e.State != StateRecovered {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Time.Before(out[k].Time) })
	return out, nil
}

// readJournal returns the latest entry of each fault in a journal file. A
// torn last line (a crash mid-write) is skipped: the entry before it holds.
func readJournal(file string) ([]Entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	latest := map[string]Entry{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == "" {
			continue
		}
		if _, seen := latest[e.ID]; !seen {
			order = append(order, e.ID)
		}
		if len(e.Undo) == 0 {
			e.Undo = latest[e.ID].Undo // state lines need not repeat the undo
		}
		latest[e.ID] = e
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("read journal %s: %w", file, err)
	}
	out := make([]Entry, 0, len(order))
	for _, id := range order {
		out = append(out, latest[id])
	}
	return out, nil
}
