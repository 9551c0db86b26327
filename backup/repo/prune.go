package repo

import (
	"context"
	"fmt"
	"path"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// PruneReport says what Prune found and removed.
type PruneReport struct {
	Snapshots    int   // snapshots whose chunks were kept
	Kept         int   // chunks referenced by them
	Removed      int   // unreferenced chunks deleted
	RemovedBytes int64 // their stored size
	TempFiles    int   // leftovers of interrupted writes deleted
	StaleLocks   int   // stale locks deleted
}

// Prune deletes the chunks no snapshot references: those of deleted or
// forgotten snapshots and those a crashed backup left behind. It takes an
// exclusive lock, so it fails with ErrLocked while a backup runs. It
// refuses to delete anything if a snapshot or tree cannot be read, since
// it could not know which chunks that snapshot needs: the error names the
// snapshot; Delete it (or repair the repository) first.
func (r *Repository) Prune(ctx context.Context) (*PruneReport, error) {
	rep := new(PruneReport)
	// Stale locks first, so a backup killed earlier does not block us.
	n, err := r.Unlock(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	rep.StaleLocks = n
	l, err := r.acquireLock(ctx, true, "prune")
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer l.release()

	snaps, err := r.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: refusing to delete anything: %w", err)
	}
	keep := make(map[ID]struct{})
	for _, s := range snaps {
		tree, err := r.LoadTree(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("prune: refusing to delete anything: %w", err)
		}
		for _, id := range s.Tree {
			keep[id] = struct{}{}
		}
		for _, ns := range [][]Node{tree.Nodes, tree.Objects} {
			for _, n := range ns {
				for _, id := range n.Chunks {
					keep[id] = struct{}{}
				}
			}
		}
	}
	rep.Snapshots, rep.Kept = len(snaps), len(keep)

	var drop []*blob.ListObject
	if err := r.list(ctx, "data/", func(obj *blob.ListObject) error {
		id, err := ParseID(path.Base(obj.Key))
		switch {
		case err == nil && obj.Key == chunkKey(id):
			if _, ok := keep[id]; !ok {
				drop = append(drop, obj)
			}
		case strings.HasSuffix(obj.Key, ".tmp"):
			// fileblob's temporary file of a write cut short by a crash;
			// with the exclusive lock held, no write is in progress.
			drop = append(drop, obj)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	for _, obj := range drop {
		if err := r.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return rep, fmt.Errorf("prune: delete %s: %w", obj.Key, err)
		}
		if strings.HasSuffix(obj.Key, ".tmp") {
			rep.TempFiles++
		} else {
			rep.Removed++
			rep.RemovedBytes += obj.Size
		}
	}
	return rep, nil
}
