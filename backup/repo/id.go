package repo

import (
	"encoding/hex"
	"fmt"
)

// ID addresses an object: a keyed hash of its plaintext (BLAKE3, or
// HMAC-SHA256 in earlier repositories) under a key derived from the
// repository key. A keyed hash, not a plain one, so that the
// names in the bucket do not reveal which well-known content (a public
// image layer, a default config file) the repository holds.
type ID [32]byte

// ParseID parses the 64 hex digits of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("parse id %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("parse id %q: %w", s, err)
	}
	return id, nil
}

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first 8 hex digits, for people.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText encodes the ID as hex, so JSON manifests stay readable.
func (id ID) MarshalText() ([]byte, error) {
	b := make([]byte, 2*len(id))
	hex.Encode(b, id[:])
	return b, nil
}

// UnmarshalText decodes the hex form.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
