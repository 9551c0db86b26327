// Package repo is the storage layer of rebound's backup engine: a
// content-addressed, deduplicating, compressed, encrypted and verified
// repository of snapshots, kept in any gocloud.dev/blob bucket (a local
// directory, S3, Azure Blob Storage, Google Cloud Storage).
//
// A snapshot is a named tree of files (mode, size, mtime, ordered chunk ids)
// plus named extra objects, free-form metadata, tags and a time. File
// contents are cut into chunks by content-defined chunking (FastCDC), so
// unchanged data is stored once across snapshots. Every object is addressed
// by a keyed hash of its plaintext (BLAKE3 in keyed mode; HMAC-SHA256 in
// repositories made before, as their config says), compressed with zstd,
// sealed with AES-256-GCM under a random nonce with its store key as
// associated data, and checked on every read: damage produces an error that
// names the object, never wrong data.
//
// Layout in the bucket:
//
//	config                 repository id, format version, chunker parameters, id hash, key check
//	data/<2 hex>/<id>      one chunk per object (file contents, snapshot trees)
//	snapshots/<id>         a snapshot: time, tags, metadata, the chunks of its tree (gob)
//	locks/<random>         held while a backup or prune runs
//
// Chunks are not packed into larger pack files; instead, files smaller
// than the minimum chunk size are concatenated into one stream that the
// same chunker cuts, each file recording its chunks and its offset in the
// first. That keeps chunk-sized objects for trees of small files (one
// object, one request, per half MiB rather than per file) without an index to
// keep consistent: a chunk id is still its key in the bucket.
//
// A snapshot object is written last, after every chunk it names, so a crash
// leaves at worst unreferenced chunks, which [Repository.Prune] removes.
// Blob writers publish an object only when it is complete (fileblob: temp
// file and rename; S3, Azure and GCS commit uploads at the end). fileblob
// does not fsync: the repository survives a killed process, but on a local
// disk a power cut may lose the last objects written, as for any file.
//
// The package stores bytes. It must know nothing of Kubernetes apps, drivers
// or scenarios: what to capture and how to restore an app is the engine's
// job (package backup). The one Kubernetes touch point is reading the key
// from a Secret ([KeyFromSecret]).
package repo
