package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Overwrite allows restoring into a non-empty directory; files of the
	// snapshot replace files of the same name, other files are left alone.
	Overwrite bool
	// Sync fsyncs each file before its rename and each directory at the
	// end, so the restore survives a power cut, at a cost per file.
	Sync bool
	// Progress, when set, is called after every chunk written and file
	// finished, from the restore's workers, one call at a time.
	Progress func(RestoreProgress)
}

// RestoreProgress of a restore; every field only grows.
type RestoreProgress struct {
	Files        int64
	BytesWritten int64
}

// Restore writes the file tree of snapshot id into dst (created if
// missing; refused if not empty unless Overwrite). Into an empty dst the
// whole tree is written under a hidden staging directory in dst and its
// top-level entries are renamed into place at the end, so dst shows
// nothing until every file is written, and stays empty if writing fails.
// With Overwrite each file is written to a temporary name beside its
// destination and renamed into place once complete, so a reader sees the
// old file or the whole new one. Files get their mode and mtime, and
// directories get theirs last. Every chunk is checked before it is
// written: on damage, Restore stops with an error naming the chunk and
// the file, and removes what it wrote, so no file ever holds wrong data.
// Objects are not restored (see OpenObject). Ownership is not restored.
func (r *Repository) Restore(ctx context.Context, id ID, dst string, opts RestoreOptions) error {
	if err := r.checkConfig(ctx); err != nil {
		return err
	}
	snap, err := r.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tree, err := r.LoadTree(ctx, snap)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, n := range tree.Nodes {
		// The tree is authenticated; this guards against a bug writing
		// outside dst.
		if !filepath.IsLocal(filepath.FromSlash(n.Path)) {
			return fmt.Errorf("restore: snapshot %s: unsafe path %q", id.Short(), n.Path)
		}
	}
	if err := prepareDst(dst, opts.Overwrite); err != nil {
		return err
	}
	rs := &restorer{r: r, dst: dst, root: dst, opts: opts, snap: snap}
	if opts.Overwrite {
		return rs.run(ctx, tree.Nodes)
	}
	rs.root = filepath.Join(dst, stagingPrefix+randomHex())
	if err := os.Mkdir(rs.root, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := rs.run(ctx, tree.Nodes); err != nil {
		os.RemoveAll(rs.root)
		return err
	}
	return rs.publish(tree.Nodes)
}

// stagingPrefix names the directory a restore into an empty directory
// writes under; one left behind by a killed restore makes that directory
// non-empty, and the error says so.
const stagingPrefix = ".rebound-restore-"

// publish moves the staged tree's top-level entries into dst and removes
// the staging directory.
func (rs *restorer) publish(nodes []Node) error {
	entries, err := os.ReadDir(rs.root)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(rs.root, e.Name()), filepath.Join(rs.dst, e.Name())); err != nil {
			return fmt.Errorf("restore: move %s into place: %w", e.Name(), err)
		}
	}
	if err := os.Remove(rs.root); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Moving a directory to another parent rewrites its ".." entry, which
	// may set its mtime: top-level directories get theirs again.
	for i := range nodes {
		if n := &nodes[i]; n.Type == TypeDir && !strings.Contains(n.Path, "/") {
			if err := os.Chtimes(filepath.Join(rs.dst, filepath.FromSlash(n.Path)), n.MTime, n.MTime); err != nil {
				return fmt.Errorf("restore %q: %w", n.Path, err)
			}
		}
	}
	if rs.opts.Sync {
		return syncDir(rs.dst)
	}
	return nil
}

func prepareDst(dst string, overwrite bool) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if overwrite {
		return nil
	}
	d, err := os.Open(dst)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer d.Close()
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		if strings.HasPrefix(names[0], stagingPrefix) {
			return fmt.Errorf("restore: %s holds %s, left by a restore that did not finish: remove it and restore again", dst, names[0])
		}
		return fmt.Errorf("restore: %s is not empty (found %q); restore into an empty directory or set Overwrite", dst, names[0])
	}
	return nil
}

type restorer struct {
	r        *Repository
	dst      string
	root     string // where nodes are written: dst, or a staging directory in it
	opts     RestoreOptions
	snap     *Snapshot
	mu       sync.Mutex // guards progress and serialises Progress calls
	progress RestoreProgress
}

// run restores the nodes: directories and symlinks here, files on
// workers. File creation is mostly kernel time (path lookup, inode and
// directory updates), so files are written in parallel, unlike tar -x.
// Consecutive files that share a chunk (small files packed together) go
// to one worker as one job, so each chunk is fetched and checked once.
func (rs *restorer) run(ctx context.Context, nodes []Node) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var dirs []Node
	made := map[string]bool{}
	mkdir := func(p string, mode os.FileMode) error {
		if made[p] {
			return nil
		}
		made[p] = true
		return os.MkdirAll(p, mode)
	}
	for i := range nodes {
		n := &nodes[i]
		var err error
		switch n.Type {
		case TypeDir:
			err = mkdir(rs.path(n), 0o700) // final mode once its files are in
			dirs = append(dirs, *n)
		case TypeSymlink:
			if err = mkdir(filepath.Dir(rs.path(n)), 0o755); err == nil {
				err = rs.symlink(n)
			}
		case TypeFile:
			err = mkdir(filepath.Dir(rs.path(n)), 0o755)
		default:
			err = fmt.Errorf("unknown node type %q", n.Type)
		}
		if err != nil {
			return fmt.Errorf("restore %q: %w", n.Path, err)
		}
	}

	jobs := make(chan []*Node)
	var wg sync.WaitGroup
	for range 2 * rs.r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var curID ID
			var cur, buf []byte
			fetch := func(n *Node, id ID) ([]byte, error) {
				if cur != nil && id == curID {
					return cur, nil
				}
				data, err := rs.r.get(ctx, kindChunk, id, chunkKey(id), buf)
				if err != nil {
					cur = nil
					return nil, fmt.Errorf("restore %q from snapshot %s: %w", n.Path, rs.snap.ID.Short(), err)
				}
				curID, cur, buf = id, data, data
				return data, nil
			}
			for job := range jobs {
				for _, n := range job {
					if ctx.Err() != nil {
						break
					}
					if err := rs.file(n, func(id ID) ([]byte, error) { return fetch(n, id) }); err != nil {
						cancel(err)
					}
				}
			}
		}()
	}
	var job []*Node
	var last ID
	flush := func() bool {
		if len(job) == 0 {
			return true
		}
		select {
		case jobs <- job:
			job = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for i := range nodes {
		n := &nodes[i]
		if n.Type != TypeFile {
			continue
		}
		if len(job) > 0 && (len(n.Chunks) == 0 || n.Chunks[0] != last) {
			if !flush() {
				break
			}
		}
		job = append(job, n)
		if len(n.Chunks) > 0 {
			last = n.Chunks[len(n.Chunks)-1]
		}
	}
	flush()
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}

	// Deepest first, so setting a parent's mtime comes after its children.
	slices.Reverse(dirs)
	for _, d := range dirs {
		p := rs.path(&d)
		if err := os.Chmod(p, d.Mode.Perm()|d.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return fmt.Errorf("restore %q: %w", d.Path, err)
		}
		if err := os.Chtimes(p, d.MTime, d.MTime); err != nil {
			return fmt.Errorf("restore %q: %w", d.Path, err)
		}
		if rs.opts.Sync {
			if err := syncDir(p); err != nil {
				return fmt.Errorf("restore %q: %w", d.Path, err)
			}
		}
	}
	if rs.opts.Sync && !rs.staged() {
		return syncDir(rs.dst)
	}
	return nil
}

func (rs *restorer) path(n *Node) string { return filepath.Join(rs.root, filepath.FromSlash(n.Path)) }

// staged reports whether files are written under a staging directory,
// where nobody looks: then they are written under their own names.
func (rs *restorer) staged() bool { return rs.root != rs.dst }

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tempName(final string) string {
	return filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".rebound-"+randomHex())
}

func (rs *restorer) symlink(n *Node) error {
	final := rs.path(n)
	if rs.staged() {
		if err := os.Symlink(n.Target, final); err != nil {
			return fmt.Errorf("restore %q: %w", n.Path, err)
		}
		return nil
	}
	tmp := tempName(final)
	if err := os.Symlink(n.Target, tmp); err != nil {
		return fmt.Errorf("restore %q: %w", n.Path, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore %q: %w", n.Path, err)
	}
	return nil
}

// file writes n to a temporary name and renames it into place, so a
// reader (or a crash) sees the old file or the whole new one; under a
// staging directory it writes n under its own name.
func (rs *restorer) file(n *Node, next func(ID) ([]byte, error)) (err error) {
	final := rs.path(n)
	tmp := final
	if !rs.staged() {
		tmp = tempName(final)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %q: %w", n.Path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var written int64
	for i, id := range n.Chunks {
		data, err := next(id)
		if err != nil {
			return err
		}
		data = nodePart(n, i, data, written)
		if _, err := f.Write(data); err != nil {
			return fmt.Errorf("restore %q: %w", n.Path, err)
		}
		written += int64(len(data))
		rs.report(0, int64(len(data)))
	}
	if written != n.Size {
		return fmt.Errorf("restore %q: %w: chunks hold %d bytes, the snapshot records %d", n.Path, ErrCorrupt, written, n.Size)
	}
	if err := f.Chmod(n.Mode.Perm() | n.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("restore %q: %w", n.Path, err)
	}
	if rs.opts.Sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("restore %q: %w", n.Path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restore %q: %w", n.Path, err)
	}
	if err := os.Chtimes(tmp, n.MTime, n.MTime); err != nil {
		return fmt.Errorf("restore %q: %w", n.Path, err)
	}
	if tmp != final {
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("restore %q: %w", n.Path, err)
		}
	}
	rs.report(1, 0)
	return nil
}

// nodePart is the part of chunk i of n that belongs to n, given the bytes
// of n already taken.
func nodePart(n *Node, i int, data []byte, taken int64) []byte {
	if i == 0 {
		if n.Offset > int64(len(data)) {
			return nil // a size check reports it
		}
		data = data[n.Offset:]
	}
	if rest := n.Size - taken; int64(len(data)) > rest {
		data = data[:max(rest, 0)]
	}
	return data
}

func (rs *restorer) report(files, bytes int64) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.progress.Files += files
	rs.progress.BytesWritten += bytes
	if rs.opts.Progress != nil {
		rs.opts.Progress(rs.progress)
	}
}

func syncDir(p string) error {
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// OpenObject returns a reader of the named object of snapshot id. Each
// chunk is checked as it is read; damage surfaces as a Read error naming
// the chunk, never as wrong bytes.
func (r *Repository) OpenObject(ctx context.Context, id ID, name string) (io.ReadCloser, error) {
	return r.openNode(ctx, id, name, true)
}

// OpenFile returns a reader of the regular file at path in snapshot id.
func (r *Repository) OpenFile(ctx context.Context, id ID, path string) (io.ReadCloser, error) {
	return r.openNode(ctx, id, path, false)
}

func (r *Repository) openNode(ctx context.Context, id ID, name string, object bool) (io.ReadCloser, error) {
	snap, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	tree, err := r.LoadTree(ctx, snap)
	if err != nil {
		return nil, err
	}
	nodes, what := tree.Nodes, "file"
	if object {
		nodes, what = tree.Objects, "object"
	}
	for i := range nodes {
		if nodes[i].Path == name && nodes[i].Type == TypeFile {
			return &chunkReader{ctx: ctx, r: r, node: nodes[i], snap: snap.ID}, nil
		}
	}
	return nil, fmt.Errorf("snapshot %s has no %s %q: %w", snap.ID.Short(), what, name, fs.ErrNotExist)
}

type chunkReader struct {
	ctx   context.Context
	r     *Repository
	node  Node
	snap  ID
	next  int
	taken int64
	buf   []byte
	rest  []byte
	err   error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.rest) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.next == len(c.node.Chunks) {
			c.err = io.EOF
			if c.taken != c.node.Size {
				c.err = fmt.Errorf("read %q of snapshot %s: %w: chunks hold %d bytes, the snapshot records %d", c.node.Path, c.snap.Short(), ErrCorrupt, c.taken, c.node.Size)
			}
			return 0, c.err
		}
		id := c.node.Chunks[c.next]
		data, err := c.r.get(c.ctx, kindChunk, id, chunkKey(id), c.buf)
		if err != nil {
			c.err = fmt.Errorf("read %q of snapshot %s: %w", c.node.Path, c.snap.Short(), err)
			return 0, c.err
		}
		c.buf = data
		c.rest = nodePart(&c.node, c.next, data, c.taken)
		c.taken += int64(len(c.rest))
		c.next++
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *chunkReader) Close() error {
	if c.err == nil || errors.Is(c.err, io.EOF) {
		c.err = errors.New("reader closed")
	}
	return nil
}
