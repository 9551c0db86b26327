package repo

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrWrongKey: the key does not open this repository. Nothing was read
	// beyond the config and nothing was written.
	ErrWrongKey = errors.New("wrong key for this repository")
	// ErrCorrupt: an object is damaged, tampered with or missing. The error
	// chain holds an *ObjectError naming it.
	ErrCorrupt = errors.New("repository damaged")
	// ErrNotRepository: there is no config object at the URL.
	ErrNotRepository = errors.New("no rebound repository here")
	// ErrNotEmpty: Init refuses a bucket (or prefix) that already holds objects.
	ErrNotEmpty = errors.New("location is not empty")
	// ErrSnapshotNotFound: no snapshot with that id (or prefix).
	ErrSnapshotNotFound = errors.New("snapshot not found")
	// ErrLocked: another backup or prune holds a conflicting lock.
	ErrLocked = errors.New("repository is locked")
)

// errMissing: an object that should exist does not.
var errMissing = errors.New("object is missing")

// ObjectError names one object of the repository that could not be read
// or failed its checks. Err wraps ErrCorrupt when the object is damaged or
// missing.
type ObjectError struct {
	Kind     string // "config", "chunk", "snapshot" or "lock"
	ID       ID     // zero for the config
	Key      string // key in the bucket, relative to the repository
	Location string // URL of the object, for a person to find it
	Err      error
}

func (e *ObjectError) Error() string {
	if e.ID.IsZero() {
		return fmt.Sprintf("%s object %q (%s): %v", e.Kind, e.Key, e.Location, e.Err)
	}
	return fmt.Sprintf("%s %s at %q (%s): %v", e.Kind, e.ID, e.Key, e.Location, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }
