package repo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
)

// KeySize is the size of a repository key: AES-256.
const KeySize = 32

// Object envelope, the same for every object but the config:
//
//	magic "RBD" | format 1 | kind | flags | nonce (12) | AES-256-GCM(payload) | tag (16)
//
// The first 6 bytes and the object's key in the bucket are the associated
// data, so a blob copied under another name, or relabelled as another kind
// or as uncompressed, fails authentication.
const (
	envMagic   = "RBD\x01"
	headerSize = 6
	nonceSize  = 12
	tagSize    = 16
	overhead   = headerSize + nonceSize + tagSize

	flagZstd byte = 1
)

// Object kinds, stored in the envelope.
const (
	kindChunk    byte = 'd'
	kindSnapshot byte = 's'
	kindLock     byte = 'l'
	kindConfig   byte = 'c'
)

func kindName(k byte) string {
	switch k {
	case kindChunk:
		return "chunk"
	case kindSnapshot:
		return "snapshot"
	case kindLock:
		return "lock"
	case kindConfig:
		return "config"
	}
	return fmt.Sprintf("kind %q", k)
}

// keys are the subkeys derived from the repository key. HKDF with the
// repository id as salt: one master key can serve several repositories
// without their ids or ciphertexts being related.
type keys struct {
	enc     []byte // AES-256-GCM
	id      []byte // keyed object-id hash
	chunker []byte // keyed FastCDC gear table: chunk sizes leak nothing
	check   []byte // key check value in the config
}

func deriveKeys(master []byte, repoID []byte) (keys, error) {
	if len(master) != KeySize {
		return keys{}, fmt.Errorf("repository key must be %d bytes, got %d", KeySize, len(master))
	}
	derive := func(info string) ([]byte, error) {
		return hkdf.Key(sha256.New, master, repoID, "rebound/repo/v1/"+info, 32)
	}
	var k keys
	var err error
	for _, p := range []struct {
		dst  *[]byte
		info string
	}{{&k.enc, "enc"}, {&k.id, "id"}, {&k.chunker, "chunker"}, {&k.check, "check"}} {
		if *p.dst, err = derive(p.info); err != nil {
			return keys{}, err
		}
	}
	return k, nil
}

func keyCheck(k keys) []byte {
	m := hmac.New(sha256.New, k.check)
	m.Write([]byte("rebound repository key check"))
	return m.Sum(nil)
}

// codec compresses, seals, opens and hashes objects. Safe for concurrent
// use; the zstd encoder and decoder are shared because they are expensive
// to build (EncodeAll/DecodeAll may run concurrently on one instance).
type codec struct {
	aead cipher.AEAD
	enc  *zstd.Encoder
	dec  *zstd.Decoder
	macs sync.Pool // hash.Hash, the config's id hash keyed with keys.id
}

// Object-id hashes, recorded in the config: a keyed hash of the
// plaintext, so an id tells nothing about the content without the key.
const (
	idHashHMACSHA256 = "hmac-sha256" // repositories made before BLAKE3 (the config names none)
	// BLAKE3 in keyed mode: twice the speed of SHA-256 even with the
	// CPU's SHA instructions (3.6 against 1.7 GB/s here, BenchmarkIDHash),
	// and every chunk is hashed, new or not, so it bounds how fast a
	// changed file is re-read.
	idHashBLAKE3 = "blake3-keyed"
)

func newIDHash(algorithm string, key []byte) (func() hash.Hash, error) {
	switch algorithm {
	case idHashHMACSHA256, "":
		return func() hash.Hash { return hmac.New(sha256.New, key) }, nil
	case idHashBLAKE3:
		if _, err := blake3.NewKeyed(key); err != nil {
			return nil, err
		}
		return func() hash.Hash {
			h, _ := blake3.NewKeyed(key) // the key's size was checked above
			return h
		}, nil
	}
	return nil, fmt.Errorf("unsupported object id hash %q (this build knows %q and %q)", algorithm, idHashBLAKE3, idHashHMACSHA256)
}

func newCodec(k keys, idHash string, level zstd.EncoderLevel, concurrency int) (*codec, error) {
	newHash, err := newIDHash(idHash, k.id)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k.enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// No zstd checksum: GCM and the id check already cover the payload.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false),
		zstd.WithEncoderConcurrency(concurrency), zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(concurrency),
		zstd.WithDecoderMaxMemory(maxPlaintext))
	if err != nil {
		return nil, err
	}
	c := &codec{aead: aead, enc: enc, dec: dec}
	c.macs.New = func() any { return newHash() }
	return c, nil
}

func (c *codec) close() {
	c.enc.Close()
	c.dec.Close()
}

// maxPlaintext bounds a decompressed object; chunks are at most 8 MiB (2
// MiB in new repositories) and trees are chunked, so only a forged or
// broken object comes near it.
const maxPlaintext = 64 << 20

func (c *codec) hash(p []byte) ID {
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(p)
	var id ID
	m.Sum(id[:0])
	c.macs.Put(m)
	return id
}

// seal compresses (when it pays) and encrypts plain for key into dst[:0].
// scratch is reused for the compressed form. Both may be nil.
func (c *codec) seal(dst, scratch []byte, kind byte, key string, plain []byte) (out, scratchOut []byte) {
	payload, flags := plain, byte(0)
	if len(plain) > 0 {
		scratch = c.enc.EncodeAll(plain, scratch[:0])
		// Incompressible data is stored as is: decoding it would only cost time.
		if len(scratch) < len(plain)-len(plain)/64 {
			payload, flags = scratch, flagZstd
		}
	}
	need := overhead + len(payload)
	if cap(dst) < need {
		dst = make([]byte, 0, need)
	}
	dst = append(dst[:0], envMagic...)
	dst = append(dst, kind, flags)
	nonce := dst[headerSize : headerSize+nonceSize]
	rand.Read(nonce) // never fails (crypto/rand, Go 1.24+)
	dst = dst[:headerSize+nonceSize]
	dst = c.aead.Seal(dst, nonce, payload, additional(dst[:headerSize], key))
	return dst, scratch
}

var errAuth = errors.New("authentication failed: the object was damaged or tampered with")

// open authenticates and decodes an object read from key. dst is reused
// for the decompressed plaintext when it is large enough.
func (c *codec) open(dst []byte, kind byte, key string, obj []byte) ([]byte, error) {
	if len(obj) < overhead {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte envelope", ErrCorrupt, len(obj), overhead)
	}
	if string(obj[:4]) != envMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, obj[:4])
	}
	if obj[4] != kind {
		return nil, fmt.Errorf("%w: object is a %s, want a %s", ErrCorrupt, kindName(obj[4]), kindName(kind))
	}
	flags := obj[5]
	if flags&^flagZstd != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	nonce := obj[headerSize : headerSize+nonceSize]
	// Open in place: obj is a private buffer.
	pt, err := c.aead.Open(obj[headerSize+nonceSize:headerSize+nonceSize], nonce, obj[headerSize+nonceSize:], additional(obj[:headerSize], key))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, errAuth)
	}
	if flags&flagZstd == 0 {
		return pt, nil
	}
	out, err := c.dec.DecodeAll(pt, dst[:0])
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %w", ErrCorrupt, err)
	}
	return out, nil
}

func additional(header []byte, key string) []byte {
	ad := make([]byte, 0, len(header)+len(key))
	return append(append(ad, header...), key...)
}
