package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/reboundhq/rebound/apps"
)

var _ apps.Verifier = (*Driver)(nil)

// checksumPage is how many keys one range request of Checksum reads.
const checksumPage = 1000

// Checksum counts the keys under prefix ("" is the whole keyspace) at
// revision at ("" is now: the revision of the first read) and hashes them
// with SHA-256, key and value each length-prefixed, in key order. Every
// page is read at that one revision, so the sum is of one consistent state
// whatever is written meanwhile.
func (d *Driver) Checksum(ctx context.Context, prefix, at string) (apps.Checksum, error) {
	var rev int64
	if at != "" {
		r, err := strconv.ParseInt(at, 10, 64)
		if err != nil || r <= 0 {
			return apps.Checksum{}, fmt.Errorf("etcd checksum: point %q: want a revision (a positive integer)", at)
		}
		rev = r
	}
	return checksum(ctx, d.cli.KV, prefix, rev)
}

func checksum(ctx context.Context, kv clientv3.KV, prefix string, rev int64) (apps.Checksum, error) {
	from, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	if prefix == "" {
		from, end = "\x00", "\x00" // every key: from the smallest, to the end of the keyspace
	}
	h := sha256.New()
	var n int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(checksumPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := kv.Get(ctx, from, opts...)
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrCompacted) {
				return apps.Checksum{}, fmt.Errorf("etcd checksum of %q at revision %d: %w (%w)", prefix, rev, apps.ErrPointGone, err)
			}
			if errors.Is(err, rpctypes.ErrFutureRev) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrFutureRev) {
				return apps.Checksum{}, fmt.Errorf("etcd checksum of %q at revision %d: %w: this etcd has not reached that revision", prefix, rev, err)
			}
			return apps.Checksum{}, fmt.Errorf("etcd checksum of %q: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			writeField(h, kv.Key)
			writeField(h, kv.Value)
			n++
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return apps.Checksum{Prefix: prefix, Records: n, Hash: "sha256:" + hex.EncodeToString(h.Sum(nil)), At: strconv.FormatInt(rev, 10)}, nil
}

// writeField writes b length-prefixed, so that no two different lists of
// keys and values hash alike.
func writeField(h hash.Hash, b []byte) {
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(b)))
	h.Write(l[:])
	h.Write(b)
}
