package repo

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Chunker parameters of new repositories: FastCDC with a 512 KiB average,
// min 448 KiB and max 2 MiB. A GiB is ~1600 objects (object stores charge
// and wait per request, and every chunk is its own object here); a
// page-sized change to a database file rewrites ~0.5-1 MiB; the 2 MiB cap
// bounds every buffer in flight; and FastCDC does not look at the first
// min bytes of a chunk, so a high min makes finding cut points cheap (2.0
// GB/s here, against 1.9 with min 384 KiB and 1.1 with 256 KiB:
// BenchmarkCutPoints), which is most of the cost of re-reading a changed
// file. Considered and measured
// (BENCHMARKS.md): 1 MiB/8 MiB chunks, no faster for a full backup, a third
// more memory, more new bytes after a small change; and JC, ten times
// faster at finding cut points but dropped: after a 1% overwrite of random
// data it failed to fall back in step in 3 runs of 12 (39-52% of the file
// new, against at most 8% for FastCDC).
const (
	ChunkMin = 448 << 10
	ChunkAvg = 512 << 10
	ChunkMax = 2 << 20
)

// maxChunkMax bounds the max chunk size a repository's config may name:
// repositories made before the sizes above use 1 MiB/8 MiB.
const maxChunkMax = 8 << 20

const (
	formatVersion  = 1
	chunkAlgorithm = "fastcdc-v1.0.0" // go-cdc-chunkers, keyed gear table
)

// The config object is the one object readable before the subkeys are
// known, so it has its own layout:
//
//	"RBDCFG\x00\x01" | repo id (16) | key check (32) | nonce (12) | GCM(JSON body) | tag (16) | SHA-256 of all before (32)
//
// The plain SHA-256 tells damage from a wrong key: a flipped byte fails
// the checksum (ErrCorrupt naming the config); an intact config whose key
// check differs means the key is wrong (ErrWrongKey).
const (
	configMagic   = "RBDCFG\x00\x01"
	configKey     = "config"
	repoIDSize    = 16
	configPrefix  = len(configMagic) + repoIDSize + sha256.Size // magic, id, key check
	configMinSize = configPrefix + nonceSize + tagSize + sha256.Size
)

type configBody struct {
	Version int           `json:"version"`
	Chunker chunkerParams `json:"chunker"`
	IDHash  string        `json:"id_hash,omitempty"` // empty: hmac-sha256
	Created time.Time     `json:"created"`
}

type chunkerParams struct {
	Algorithm string `json:"algorithm"`
	Min       int    `json:"min"`
	Avg       int    `json:"avg"`
	Max       int    `json:"max"`
}

func (p chunkerParams) validate() error {
	if p.Algorithm != chunkAlgorithm {
		return fmt.Errorf("unsupported chunker %q (this build knows %q)", p.Algorithm, chunkAlgorithm)
	}
	if p.Min < 64 || p.Avg <= p.Min || p.Max <= p.Avg || p.Max > maxChunkMax || p.Avg&(p.Avg-1) != 0 {
		return fmt.Errorf("invalid chunker sizes min=%d avg=%d max=%d", p.Min, p.Avg, p.Max)
	}
	return nil
}

// parsedConfig is a config that passed its checksum and key check.
type parsedConfig struct {
	repoID []byte
	keys   keys
	body   configBody
}

// repoFormat is what a config fixes for the repository's life: how data
// is cut and how objects are named.
type repoFormat struct {
	Chunker chunkerParams
	IDHash  string
}

// newFormat is the format of new repositories.
var newFormat = repoFormat{
	Chunker: chunkerParams{Algorithm: chunkAlgorithm, Min: ChunkMin, Avg: ChunkAvg, Max: ChunkMax},
	IDHash:  idHashBLAKE3,
}

// newRepoID returns the random id a new repository's subkeys are derived
// with, so that two repositories under one key share no chunker or id key.
func newRepoID() []byte {
	id := make([]byte, repoIDSize)
	rand.Read(id)
	return id
}

func newConfig(master, repoID []byte, now time.Time, f repoFormat) ([]byte, error) {
	k, err := deriveKeys(master, repoID)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(configBody{
		Version: formatVersion,
		Chunker: f.Chunker,
		IDHash:  f.IDHash,
		Created: now.UTC(),
	})
	if err != nil {
		return nil, err
	}
	aead, err := configAEAD(k)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, configMinSize+len(body))
	b = append(b, configMagic...)
	b = append(b, repoID...)
	b = append(b, keyCheck(k)...)
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	ad := append(bytes.Clone(b), configKey...)
	b = append(b, nonce...)
	b = aead.Seal(b, nonce, body, ad)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

func configAEAD(k keys) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.enc)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// parseConfig checks b in the order that names the right culprit: shape
// and checksum (damage), key check (wrong key), then authentication.
func parseConfig(b []byte, master []byte) (*parsedConfig, error) {
	if len(b) < configMinSize {
		return nil, fmt.Errorf("%w: %d bytes, too short for a config", ErrCorrupt, len(b))
	}
	if string(b[:len(configMagic)]) != configMagic {
		if bytes.HasPrefix(b, []byte("RBDCFG")) {
			return nil, fmt.Errorf("%w: unsupported repository format %x (this build reads format %d)", ErrCorrupt, b[6:8], formatVersion)
		}
		return nil, fmt.Errorf("%w: not a rebound config (bad magic)", ErrCorrupt)
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if want := sha256.Sum256(body); !hmac.Equal(want[:], sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	repoID := b[len(configMagic) : len(configMagic)+repoIDSize]
	k, err := deriveKeys(master, repoID)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(keyCheck(k), b[len(configMagic)+repoIDSize:configPrefix]) {
		return nil, ErrWrongKey
	}
	aead, err := configAEAD(k)
	if err != nil {
		return nil, err
	}
	nonce := body[configPrefix : configPrefix+nonceSize]
	ad := append(bytes.Clone(body[:configPrefix]), configKey...)
	plain, err := aead.Open(nil, nonce, body[configPrefix+nonceSize:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, errAuth)
	}
	var cb configBody
	if err := json.Unmarshal(plain, &cb); err != nil {
		return nil, fmt.Errorf("%w: config body: %w", ErrCorrupt, err)
	}
	if cb.Version != formatVersion {
		return nil, fmt.Errorf("unsupported repository version %d (this build reads %d)", cb.Version, formatVersion)
	}
	if err := cb.Chunker.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if _, err := newIDHash(cb.IDHash, k.id); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &parsedConfig{repoID: bytes.Clone(repoID), keys: k, body: cb}, nil
}

func (c *parsedConfig) idString() string { return hex.EncodeToString(c.repoID) }
