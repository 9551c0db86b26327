package repo

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"gocloud.dev/blob"
)

// VerifyReport is the result of Verify: what was read and every problem
// found, each naming the object and what it affects.
type VerifyReport struct {
	Snapshots    int   // snapshot objects read
	Chunks       int   // chunk objects read
	Bytes        int64 // bytes read from the store
	Unreferenced int   // intact chunks no snapshot uses (Prune removes them)
	Problems     []Problem
}

// Problem is one damaged or missing object.
type Problem struct {
	Kind     string // "config", "snapshot" or "chunk"
	ID       ID     // zero for the config
	Key      string // key in the bucket
	Location string
	Missing  bool // referenced but absent
	Err      error
	// Affected lists what the problem breaks; empty for the config (it
	// breaks everything) and for an unreferenced chunk.
	Affected []Affected
}

// Affected is one thing a damaged object breaks.
type Affected struct {
	Snapshot ID
	// Path of the file or object, or "" when the object breaks the whole
	// snapshot (its own object, or a chunk of its tree).
	Path   string
	Object bool // Path names an object, not a file
}

func (p Problem) String() string {
	var b strings.Builder
	what := "damaged"
	if p.Missing {
		what = "missing"
	}
	if p.ID.IsZero() {
		fmt.Fprintf(&b, "%s %s %q (%s): %v", what, p.Kind, p.Key, p.Location, p.Err)
	} else {
		fmt.Fprintf(&b, "%s %s %s at %q (%s): %v", what, p.Kind, p.ID, p.Key, p.Location, p.Err)
	}
	for _, a := range p.Affected {
		switch {
		case a.Path == "":
			fmt.Fprintf(&b, "\n  breaks snapshot %s", a.Snapshot)
		case a.Object:
			fmt.Fprintf(&b, "\n  breaks object %q of snapshot %s", a.Path, a.Snapshot)
		default:
			fmt.Fprintf(&b, "\n  breaks file %q of snapshot %s", a.Path, a.Snapshot)
		}
	}
	return b.String()
}

// OK reports whether no problem was found.
func (v *VerifyReport) OK() bool { return len(v.Problems) == 0 }

// Err is nil when the repository verified, or an error wrapping
// ErrCorrupt that lists every problem.
func (v *VerifyReport) Err() error {
	if v.OK() {
		return nil
	}
	lines := make([]string, len(v.Problems))
	for i, p := range v.Problems {
		lines[i] = p.String()
	}
	return fmt.Errorf("%w: %d problem(s):\n%s", ErrCorrupt, len(v.Problems), strings.Join(lines, "\n"))
}

// Verify reads every object of the repository — the config, every
// snapshot, every chunk, referenced or not — authenticates it and checks
// it against its id. It returns the report and, when something is
// damaged or missing, the report's Err (wrapping ErrCorrupt). Other
// errors (listing failed, ctx cancelled) are returned as is.
func (r *Repository) Verify(ctx context.Context) (*VerifyReport, error) {
	rep := new(VerifyReport)
	if _, err := r.readConfig(ctx); err != nil {
		var oe *ObjectError
		if !errors.As(err, &oe) {
			return nil, err
		}
		rep.Problems = append(rep.Problems, problem(oe))
	}

	// Every chunk, on the workers.
	var objs []*blob.ListObject
	if err := r.list(ctx, "data/", func(obj *blob.ListObject) error {
		if id, err := ParseID(path.Base(obj.Key)); err == nil && obj.Key == chunkKey(id) {
			objs = append(objs, obj)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	bad := make(map[ID]*Problem)
	present := make(map[ID]bool, len(objs))
	var mu sync.Mutex
	var firstErr error
	work := make(chan *blob.ListObject)
	var wg sync.WaitGroup
	for range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for obj := range work {
				id, _ := ParseID(path.Base(obj.Key))
				data, err := r.get(ctx, kindChunk, id, obj.Key, buf)
				mu.Lock()
				var oe *ObjectError
				switch {
				case err == nil:
					buf = data
					present[id] = true
				case errors.As(err, &oe):
					p := problem(oe)
					bad[id] = &p
					present[id] = true
				case firstErr == nil:
					firstErr = err
				}
				rep.Chunks++
				rep.Bytes += obj.Size
				mu.Unlock()
			}
		}()
	}
	for _, obj := range objs {
		if ctx.Err() != nil {
			break
		}
		work <- obj
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Every snapshot, and what in it the bad chunks break.
	snapIDs, err := r.snapshotIDs(ctx)
	if err != nil {
		return nil, err
	}
	missing := make(map[ID]*Problem)
	used := make(map[ID]bool)
	affect := func(id ID, a Affected) {
		used[id] = true
		p := bad[id]
		if p == nil && !present[id] {
			if p = missing[id]; p == nil {
				key := chunkKey(id)
				p = &Problem{Kind: "chunk", ID: id, Key: key, Location: r.location(key), Missing: true,
					Err: fmt.Errorf("%w: %w", ErrCorrupt, errMissing)}
				missing[id] = p
			}
		}
		if p != nil && !containsAffected(p.Affected, a) {
			p.Affected = append(p.Affected, a)
		}
	}
	for _, sid := range snapIDs {
		rep.Snapshots++
		s, err := r.Get(ctx, sid)
		var oe *ObjectError
		if errors.As(err, &oe) {
			rep.Problems = append(rep.Problems, problem(oe))
			continue
		}
		if err != nil {
			return nil, err
		}
		treeOK := true
		for _, id := range s.Tree {
			affect(id, Affected{Snapshot: sid})
			if bad[id] != nil || !present[id] {
				treeOK = false
			}
		}
		if !treeOK {
			continue
		}
		tree, err := r.LoadTree(ctx, s)
		if err != nil {
			return nil, err
		}
		for _, n := range tree.Nodes {
			for _, id := range n.Chunks {
				affect(id, Affected{Snapshot: sid, Path: n.Path})
			}
		}
		for _, n := range tree.Objects {
			for _, id := range n.Chunks {
				affect(id, Affected{Snapshot: sid, Path: n.Path, Object: true})
			}
		}
	}
	for id := range present {
		if !used[id] && bad[id] == nil {
			rep.Unreferenced++
		}
	}
	var chunkProblems []*Problem
	for _, p := range bad {
		chunkProblems = append(chunkProblems, p)
	}
	for _, p := range missing {
		chunkProblems = append(chunkProblems, p)
	}
	sort.Slice(chunkProblems, func(i, j int) bool { return chunkProblems[i].Key < chunkProblems[j].Key })
	for _, p := range chunkProblems {
		rep.Problems = append(rep.Problems, *p)
	}
	return rep, rep.Err()
}

func problem(oe *ObjectError) Problem {
	return Problem{Kind: oe.Kind, ID: oe.ID, Key: oe.Key, Location: oe.Location, Missing: errors.Is(oe.Err, errMissing), Err: oe.Err}
}

func containsAffected(as []Affected, a Affected) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}
