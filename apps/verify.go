package apps

import (
	"context"
	"errors"
)

// Checksum sums up an app's data under a prefix at one point of its
// history: how many records there are and a hash over them (keys and
// values, in key order), so that a restored copy can be compared with what
// a backup recorded without reading either twice.
type Checksum struct {
	// Prefix is the literal prefix summed ("" is every record).
	Prefix string `json:"prefix"`
	// Records is how many records (etcd: keys) lie under Prefix.
	Records int64 `json:"records"`
	// Hash is "<algorithm>:<hex digest>" over the records in key order;
	// two sums are equal only when Records and Hash both are.
	Hash string `json:"hash"`
	// At is the point of the app's history the sum was taken at, in the
	// driver's own terms (etcd: the revision, in decimal). Asking a
	// restored copy at the same point compares like with like even when
	// writes landed after it.
	At string `json:"at,omitempty"`
}

// Equal reports whether two sums describe the same data.
func (c Checksum) Equal(o Checksum) bool {
	return c.Prefix == o.Prefix && c.Records == o.Records && c.Hash == o.Hash
}

// Verifier is a driver that can sum its app's data, for restore drills:
// the backup engine records a sum when it takes a backup, and a drill asks
// the restored copy for the same sum. Optional: a driver without it gets
// no data check, and the drill says so.
type Verifier interface {
	// Checksum sums the records under prefix as they were at point at (the
	// driver's own terms, as in Checksum.At; "" means now). It reads
	// through the app's API only and changes nothing. A point the app no
	// longer holds (etcd: a compacted revision) is an error wrapping
	// ErrPointGone.
	Checksum(ctx context.Context, prefix, at string) (Checksum, error)
}

// ErrPointGone is a Checksum asked at a point of history the app no longer
// keeps (etcd: a revision compacted away).
var ErrPointGone = errors.New("that point of the app's history is no longer kept")
