package repo

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // registers fastcdc-v1.0.0
	"golang.org/x/sync/errgroup"
)

// BackupOptions describe the snapshot being written.
type BackupOptions struct {
	Tags     []string
	Metadata map[string]string
	Time     time.Time // zero: when the backup starts
	// Parent, when set, is an earlier snapshot of the same tree: AddTree
	// does not re-read a file whose size, mtime, mode, inode and ctime are
	// those recorded in the parent and whose chunks are all still stored,
	// and reuses its chunk list. This makes a backup of mostly unchanged
	// data cost a directory walk, not a full read. Leave it zero to read
	// everything.
	Parent ID
	// Progress, when set, is called after every chunk read and every file
	// finished, always from the goroutine calling Backup, AddTree, AddFile,
	// AddObject or Commit. It must return quickly.
	Progress func(Progress)
}

// Progress of a backup; every field only grows.
type Progress struct {
	Files        int64 // files and objects read completely
	BytesRead    int64 // bytes read from the source
	BytesSkipped int64 // bytes of files unchanged since the parent, not read
	BytesNew     int64 // of those, bytes in chunks the repository did not have
	BytesStored  int64 // bytes written to the store (compressed, encrypted)
	Chunks       int64
	ChunksNew    int64
}

// Backup stores the tree at root as a new snapshot and returns it. It is
// NewSnapshot, AddTree(root, "") and Commit; see SnapshotWriter.
func (r *Repository) Backup(ctx context.Context, root string, opts BackupOptions) (*Snapshot, error) {
	w, err := r.NewSnapshot(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer w.Abort()
	if err := w.AddTree(ctx, root, ""); err != nil {
		return nil, err
	}
	return w.Commit(ctx)
}

// SnapshotWriter builds one snapshot: add trees, files and objects, then
// Commit. Until Commit returns, nothing of it is listed; chunks it stored
// are harmless leftovers if it is abandoned. Methods must be called from
// one goroutine; the hashing, compression, encryption and uploads run on
// the repository's workers.
type SnapshotWriter struct {
	r    *Repository
	opts BackupOptions
	lock *lock

	ctx    context.Context // workers' context, cancelled on the first failure
	cancel context.CancelCauseFunc
	jobs   chan chunkJob
	wg     sync.WaitGroup // workers
	inFly  sync.WaitGroup // queued chunks not yet stored

	knownMu sync.Mutex
	known   map[ID]struct{} // in the bucket, or claimed by a worker

	chunker *chunkers.Chunker
	// free holds chunk buffers for reuse. A bounded channel, not a
	// sync.Pool: the pool is emptied at every garbage collection, and each
	// fresh MiB then costs page faults in the kernel.
	free chan *[]byte
	// prefetchBufs are the blocks of prefetchers (prefetch.go).
	prefetchBufs chan []byte

	parent map[string]Node // the parent snapshot's files by path
	small  smallStream

	start    time.Time
	nodes    []pendingNode
	objects  []pendingNode
	paths    map[string]bool
	objNames map[string]bool
	warnings []string
	files    atomic.Int64
	read     atomic.Int64
	chunks   atomic.Int64
	newN     atomic.Int64
	newBytes atomic.Int64
	stored   atomic.Int64
	skipped  atomic.Int64
	finished bool
}

type chunkJob struct {
	data *[]byte
	slot *ID // the worker writes the chunk's id here
}

type pendingNode struct {
	Node
	slots []*ID
	small *smallRef // set for a file packed into the small-file stream
}

// Small files are not chunked one by one: their bytes are appended to one
// stream that is cut by the same content-defined chunker, and each file
// records the chunks its bytes fall in plus its offset in the first. So
// 10,000 files of 8 KiB become ~160 objects of ~0.5 MiB instead of 10,000
// tiny ones (a request each on S3, a file create each on disk), and an
// unchanged run of small files still deduplicates, since the cut points
// depend only on content. With a parent snapshot, unchanged small files
// are not in the stream at all, so a changed one costs about its size.
type smallStream struct {
	buf  []byte // bytes not yet cut; buf[0] is at stream offset base
	base int64
	open []*smallRef // files not yet covered by cut chunks, in order
	cut  []cutChunk  // cut chunks that open files may still need
}

type smallRef struct {
	start, end int64 // in the stream
	slots      []*ID
	offset     int64 // of the file's first byte in its first chunk
}

type cutChunk struct {
	start, end int64
	slot       *ID
}

// NewSnapshot starts a snapshot. It takes a shared lock (Prune waits for
// it) and lists the chunks already stored, so the backup uploads only new
// ones. ctx bounds the whole writer: cancelling it abandons the snapshot.
func (r *Repository) NewSnapshot(ctx context.Context, opts BackupOptions) (*SnapshotWriter, error) {
	if err := r.checkConfig(ctx); err != nil {
		return nil, err
	}
	l, err := r.acquireLock(ctx, false, "backup")
	if err != nil {
		return nil, err
	}
	w := &SnapshotWriter{
		r:            r,
		opts:         opts,
		lock:         l,
		jobs:         make(chan chunkJob, r.workers),
		free:         make(chan *[]byte, 2*r.workers+1),
		prefetchBufs: make(chan []byte, 3),
		known:        make(map[ID]struct{}),
		paths:        make(map[string]bool),
		objNames:     make(map[string]bool),
		start:        r.now(),
	}
	// Listing the stored chunks and reading the parent's tree are both
	// waits on the store; they overlap.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return r.chunkIDs(gctx, func(id ID) { w.known[id] = struct{}{} })
	})
	if !opts.Parent.IsZero() {
		g.Go(func() error { return w.loadParent(gctx, opts.Parent) })
	}
	if err := g.Wait(); err != nil {
		l.release()
		return nil, err
	}
	p := r.cfg.body.Chunker
	// Sized once: cutSmall runs when Max+Avg bytes are buffered and a
	// small file adds less than Min, so this never grows.
	w.small.buf = make([]byte, 0, p.Max+p.Avg+p.Min)
	w.chunker, err = chunkers.NewChunkerBuffer(p.Algorithm, nil, &chunkers.ChunkerOpts{
		MinSize: p.Min, NormalSize: p.Avg, MaxSize: p.Max, Key: r.cfg.keys.chunker,
	}, make([]byte, chunkerBufferSize(p.Max)))
	if err != nil {
		l.release()
		return nil, fmt.Errorf("chunker: %w", err)
	}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	for range r.workers {
		w.wg.Add(1)
		go w.worker()
	}
	return w, nil
}

// chunkerBufferSize sizes the chunker's read buffer. The chunker looks
// up to Max bytes ahead and slides what it has not consumed to the front
// when the buffer's end is reached: with a buffer of exactly Max that
// slide moves nearly Max bytes after every chunk (three bytes per byte
// read with the default sizes), with four times Max at most a third of a
// byte per byte read, for 6 MiB more memory.
func chunkerBufferSize(max int) int { return 4 * max }

func (w *SnapshotWriter) worker() {
	defer w.wg.Done()
	var bufs buffers
	for job := range w.jobs {
		if w.ctx.Err() == nil {
			if err := w.store(job, &bufs); err != nil {
				w.cancel(err)
			}
		}
		// Every buffer is kept, large ones too: at most cap(free) of them
		// (8 MiB each at worst), against a garbage collection every few
		// chunks and the page faults of fresh memory if they were not.
		select {
		case w.free <- job.data:
		default:
		}
		w.inFly.Done()
	}
}

func (w *SnapshotWriter) store(job chunkJob, bufs *buffers) error {
	data := *job.data
	id := w.r.codec.hash(data)
	*job.slot = id
	w.knownMu.Lock()
	_, have := w.known[id]
	w.known[id] = struct{}{}
	w.knownMu.Unlock()
	if have {
		return nil
	}
	n, err := w.r.put(w.ctx, kindChunk, chunkKey(id), data, bufs)
	if err != nil {
		return err
	}
	w.newN.Add(1)
	w.newBytes.Add(int64(len(data)))
	w.stored.Add(int64(n))
	return nil
}

// failure is the first error of a worker, or the context's.
func (w *SnapshotWriter) failure() error {
	if err := context.Cause(w.ctx); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

func (w *SnapshotWriter) report() {
	if w.opts.Progress == nil {
		return
	}
	w.opts.Progress(Progress{
		Files: w.files.Load(), BytesRead: w.read.Load(), BytesSkipped: w.skipped.Load(), BytesNew: w.newBytes.Load(),
		BytesStored: w.stored.Load(), Chunks: w.chunks.Load(), ChunksNew: w.newN.Load(),
	})
}

// errSource marks an error of the source (read, open); it does not
// spoil the writer, unlike a failed upload.
type errSource struct{ err error }

func (e errSource) Error() string { return e.err.Error() }
func (e errSource) Unwrap() error { return e.err }

// addStream chunks rd and queues the chunks. The returned slots hold the
// chunk ids once the workers are done (after inFly.Wait).
func (w *SnapshotWriter) addStream(ctx context.Context, rd io.Reader) ([]*ID, int64, error) {
	if w.finished {
		return nil, 0, errors.New("snapshot writer already committed or aborted")
	}
	if err := w.failure(); err != nil {
		return nil, 0, err
	}
	w.chunker.Reset(rd)
	var slots []*ID
	var size int64
	for {
		chunk, rerr := w.chunker.Next()
		if rerr != nil && rerr != io.EOF {
			return nil, size, errSource{rerr}
		}
		if len(chunk) > 0 {
			slot, err := w.queue(ctx, chunk)
			if err != nil {
				return nil, size, err
			}
			slots = append(slots, slot)
			size += int64(len(chunk))
			w.read.Add(int64(len(chunk)))
			w.report()
		}
		if rerr == io.EOF {
			return slots, size, nil
		}
	}
}

// queue copies chunk and hands it to the workers; the returned slot holds
// its id once they are done.
func (w *SnapshotWriter) queue(ctx context.Context, chunk []byte) (*ID, error) {
	var bp *[]byte
	select {
	case bp = <-w.free:
	default:
	}
	if bp == nil || cap(*bp) < len(chunk) {
		// Room for twice the average, so a reused buffer nearly always
		// fits the next chunk.
		b := make([]byte, len(chunk), max(len(chunk), 2*w.r.cfg.body.Chunker.Avg))
		bp = &b
	}
	*bp = append((*bp)[:0], chunk...)
	slot := new(ID)
	w.inFly.Add(1)
	select {
	case w.jobs <- chunkJob{data: bp, slot: slot}:
	case <-w.ctx.Done():
		w.inFly.Done()
		return nil, w.failure()
	case <-ctx.Done():
		w.inFly.Done()
		w.cancel(ctx.Err())
		return nil, w.failure()
	}
	w.chunks.Add(1)
	return slot, nil
}

// addSmall appends a small file's bytes to the small-file stream.
// The file's n bytes are already at the end of the buffer.
func (w *SnapshotWriter) addSmall(ctx context.Context, n int) (*smallRef, error) {
	s := &w.small
	end := s.base + int64(len(s.buf))
	ref := &smallRef{start: end - int64(n), end: end}
	s.open = append(s.open, ref)
	// Cut once a full chunk and a bit are buffered: the kept tail is at
	// most one chunk, so the buffer stays under about 2×Max.
	if len(s.buf) >= w.r.cfg.body.Chunker.Max+w.r.cfg.body.Chunker.Avg {
		return ref, w.cutSmall(ctx, false)
	}
	return ref, nil
}

// cutSmall cuts the buffered stream into chunks and queues them. Unless
// final, the last piece is kept: it ends where the buffer ends, not where
// the content says, and more bytes will follow it.
func (w *SnapshotWriter) cutSmall(ctx context.Context, final bool) error {
	s := &w.small
	if len(s.buf) == 0 {
		return nil
	}
	w.chunker.Reset(&byteReader{b: s.buf})
	var lens []int
	for {
		chunk, err := w.chunker.Next()
		if err != nil && err != io.EOF {
			return err
		}
		if len(chunk) > 0 {
			lens = append(lens, len(chunk))
		}
		if err == io.EOF {
			break
		}
	}
	if !final {
		lens = lens[:len(lens)-1]
	}
	off := 0
	for _, n := range lens {
		slot, err := w.queue(ctx, s.buf[off:off+n])
		if err != nil {
			return err
		}
		start := s.base + int64(off)
		s.cut = append(s.cut, cutChunk{start: start, end: start + int64(n), slot: slot})
		off += n
	}
	s.base += int64(off)
	s.buf = append(s.buf[:0], s.buf[off:]...)
	// Hand every file now fully covered its chunks.
	for len(s.open) > 0 && s.open[0].end <= s.base {
		ref := s.open[0]
		s.open = s.open[1:]
		for _, c := range s.cut {
			if c.end > ref.start && c.start < ref.end {
				if ref.slots == nil {
					ref.offset = ref.start - c.start
				}
				ref.slots = append(ref.slots, c.slot)
			}
		}
	}
	keep := s.base
	if len(s.open) > 0 {
		keep = s.open[0].start
	}
	i := 0
	for i < len(s.cut) && s.cut[i].end <= keep {
		i++
	}
	s.cut = s.cut[i:]
	return nil
}

// AddTree adds the directory tree at root under the snapshot path under
// ("" for the snapshot root): regular files, directories and symlinks with
// their mode and mtime. Other file types, and files that cannot be read,
// are skipped with a warning recorded in the snapshot; a root that cannot
// be read is an error.
func (w *SnapshotWriter) AddTree(ctx context.Context, root, under string) error {
	if _, err := os.Stat(root); err != nil {
		return fmt.Errorf("backup %s: %w", root, err)
	}
	under = path.Clean("/" + under)[1:]
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		name := path.Join(under, filepath.ToSlash(rel))
		if err != nil {
			if rel == "." {
				return fmt.Errorf("backup %s: %w", root, err)
			}
			w.warn("skipped %s: %v", name, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if rel == "." && under == "" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			w.warn("skipped %s: %v", name, err)
			return nil
		}
		switch {
		case d.IsDir():
			return w.addNode(Node{Path: name, Type: TypeDir, Mode: info.Mode() &^ fs.ModeType, MTime: info.ModTime()}, nil)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				w.warn("skipped %s: %v", name, err)
				return nil
			}
			return w.addNode(Node{Path: name, Type: TypeSymlink, Mode: info.Mode() &^ fs.ModeType, MTime: info.ModTime(), Target: target}, nil)
		case info.Mode().IsRegular():
			err := w.addFile(ctx, p, name, info)
			var se errSource
			if errors.As(err, &se) {
				w.warn("skipped %s: %v", name, se.err)
				return nil
			}
			return err
		default:
			w.warn("skipped %s: unsupported file type %s", name, info.Mode().Type())
			return nil
		}
	})
}

func (w *SnapshotWriter) loadParent(ctx context.Context, id ID) error {
	s, err := w.r.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("backup: parent: %w", err)
	}
	t, err := w.r.LoadTree(ctx, s)
	if err != nil {
		return fmt.Errorf("backup: parent: %w", err)
	}
	w.parent = make(map[string]Node, len(t.Nodes))
	for _, n := range t.Nodes {
		if n.Type == TypeFile {
			w.parent[n.Path] = n
		}
	}
	return nil
}

// unchanged reports whether the parent's node can stand for the file.
// ctime cannot be set by a user, so a rewrite that restores the mtime is
// still noticed.
func (w *SnapshotWriter) unchanged(name string, info fs.FileInfo, src *SourceStat) (Node, bool) {
	pn, ok := w.parent[name]
	if !ok || src == nil || pn.Source == nil || *pn.Source != *src || pn.Size != info.Size() ||
		!pn.MTime.Equal(info.ModTime()) || pn.Mode != info.Mode()&^fs.ModeType {
		return Node{}, false
	}
	w.knownMu.Lock()
	defer w.knownMu.Unlock()
	for _, id := range pn.Chunks {
		if _, ok := w.known[id]; !ok {
			return Node{}, false
		}
	}
	return pn, true
}

func (w *SnapshotWriter) addFile(ctx context.Context, osPath, name string, info fs.FileInfo) error {
	src := sourceStat(info)
	if pn, ok := w.unchanged(name, info, src); ok {
		slots := make([]*ID, len(pn.Chunks))
		for i := range pn.Chunks {
			slots[i] = &pn.Chunks[i]
		}
		w.skipped.Add(pn.Size)
		w.chunks.Add(int64(len(slots)))
		pn.Chunks = nil
		return w.addNode(pn, slots)
	}
	f, err := os.Open(osPath)
	if err != nil {
		return errSource{err}
	}
	defer f.Close()
	if info.Size() < int64(w.r.cfg.body.Chunker.Min) {
		// Read straight into the stream buffer: no copy, no garbage.
		s := &w.small
		n0 := len(s.buf)
		for {
			s.buf = slices.Grow(s.buf, max(int(info.Size())+1-(len(s.buf)-n0), 512))
			n, err := f.Read(s.buf[len(s.buf):cap(s.buf)])
			s.buf = s.buf[:len(s.buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				s.buf = s.buf[:n0]
				return errSource{err}
			}
		}
		size := len(s.buf) - n0
		node := Node{Path: name, Type: TypeFile, Mode: info.Mode() &^ fs.ModeType, MTime: info.ModTime(), Size: int64(size), Source: src}
		w.read.Add(int64(size))
		if size == 0 {
			return w.addNode(node, nil)
		}
		ref, err := w.addSmall(ctx, size)
		if err != nil {
			return err
		}
		if err := w.addNode(node, nil); err != nil {
			return err
		}
		w.nodes[len(w.nodes)-1].small = ref
		return nil
	}
	var rd io.Reader = f
	// A changed file of the parent is mostly chunks the repository has:
	// only hashed, so cutting it is what the backup waits for. For new
	// data the workers' compression is, and a prefetcher only adds a copy.
	if _, changed := w.parent[name]; changed && info.Size() >= prefetchMin {
		p := newPrefetcher(f, w.prefetchBufs)
		defer p.Close()
		rd = p
	}
	slots, size, err := w.addStream(ctx, rd)
	if err != nil {
		return err
	}
	return w.addNode(Node{Path: name, Type: TypeFile, Mode: info.Mode() &^ fs.ModeType, MTime: info.ModTime(), Size: size, Source: src}, slots)
}

func (w *SnapshotWriter) warn(format string, args ...any) {
	w.warnings = append(w.warnings, fmt.Sprintf(format, args...))
}

func (w *SnapshotWriter) addNode(n Node, slots []*ID) error {
	if err := checkPath(n.Path); err != nil {
		return err
	}
	if w.paths[n.Path] {
		return fmt.Errorf("backup: %q added twice", n.Path)
	}
	w.paths[n.Path] = true
	w.nodes = append(w.nodes, pendingNode{Node: n, slots: slots})
	if n.Type == TypeFile {
		w.files.Add(1)
		w.report()
	}
	return nil
}

func checkPath(p string) error {
	if p == "" || p == "." || !fs.ValidPath(p) {
		return fmt.Errorf("backup: invalid path %q: want a slash-separated relative path without . or .. elements", p)
	}
	return nil
}

// AddFile adds a regular file at the snapshot path name, read from rd.
func (w *SnapshotWriter) AddFile(ctx context.Context, name string, rd io.Reader, mode fs.FileMode, mtime time.Time) error {
	if err := checkPath(name); err != nil {
		return err
	}
	slots, size, err := w.addStream(ctx, rd)
	if err != nil {
		return err
	}
	return w.addNode(Node{Path: name, Type: TypeFile, Mode: mode.Perm(), MTime: mtime, Size: size}, slots)
}

// AddObject adds a named object (a manifest, an etcd snapshot, an
// encrypted Secret) read from rd. Objects live beside the file tree: read
// them back with OpenObject; Restore does not write them.
func (w *SnapshotWriter) AddObject(ctx context.Context, name string, rd io.Reader) error {
	if name == "" {
		return errors.New("backup: object name is empty")
	}
	if w.objNames[name] {
		return fmt.Errorf("backup: object %q added twice", name)
	}
	slots, size, err := w.addStream(ctx, rd)
	if err != nil {
		return err
	}
	w.objNames[name] = true
	w.objects = append(w.objects, pendingNode{Node: Node{Path: name, Type: TypeFile, Mode: 0o600, MTime: w.r.now(), Size: size}, slots: slots})
	w.files.Add(1)
	w.report()
	return nil
}

// Commit waits for every chunk to be stored, stores the tree, and then —
// last — the snapshot object, which makes the snapshot exist.
func (w *SnapshotWriter) Commit(ctx context.Context) (*Snapshot, error) {
	if w.finished {
		return nil, errors.New("snapshot writer already committed or aborted")
	}
	defer w.Abort()
	if err := w.cutSmall(ctx, true); err != nil {
		return nil, err
	}
	w.inFly.Wait()
	if err := w.failure(); err != nil {
		return nil, err
	}
	tree := Tree{Nodes: resolve(w.nodes), Objects: resolve(w.objects)}
	s := &Snapshot{
		Time:     w.opts.Time,
		Tags:     w.opts.Tags,
		Metadata: w.opts.Metadata,
		Warnings: w.warnings,
	}
	if s.Time.IsZero() {
		s.Time = w.start
	}
	s.Time = s.Time.UTC()
	for _, n := range tree.Nodes {
		switch n.Type {
		case TypeFile:
			s.Summary.Files++
			s.Summary.Bytes += n.Size
		case TypeDir:
			s.Summary.Dirs++
		case TypeSymlink:
			s.Summary.Symlinks++
		}
	}
	for _, o := range tree.Objects {
		s.Summary.Objects++
		s.Summary.Bytes += o.Size
	}
	var enc bytes.Buffer
	var err error
	if w.r.jsonTrees {
		err = json.NewEncoder(&enc).Encode(tree)
	} else {
		err, s.TreeEncoding = gob.NewEncoder(&enc).Encode(tree), treeGob
	}
	if err != nil {
		return nil, err
	}
	slots, _, err := w.addStream(ctx, &byteReader{b: enc.Bytes()})
	if err != nil {
		return nil, err
	}
	w.inFly.Wait()
	if err := w.failure(); err != nil {
		return nil, err
	}
	s.Tree = ids(slots)
	s.Summary.Chunks = w.chunks.Load()
	s.Summary.NewChunks = w.newN.Load()
	s.Summary.NewBytes = w.newBytes.Load()
	s.Summary.StoredBytes = w.stored.Load()
	s.Summary.Duration = w.r.now().Sub(w.start)
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	s.ID = w.r.codec.hash(plain)
	var bufs buffers
	if _, err := w.r.put(ctx, kindSnapshot, snapshotKey(s.ID), plain, &bufs); err != nil {
		return nil, fmt.Errorf("commit snapshot: %w", err)
	}
	w.report()
	return s, nil
}

// Abort abandons an uncommitted snapshot (its stored chunks stay until
// Prune) and releases the lock. It is a no-op after Commit or Abort.
func (w *SnapshotWriter) Abort() {
	if w.finished {
		return
	}
	w.finished = true
	w.cancel(errors.New("snapshot writer closed"))
	close(w.jobs)
	w.wg.Wait()
	w.lock.release()
}

func resolve(ps []pendingNode) []Node {
	out := make([]Node, len(ps))
	for i, p := range ps {
		out[i] = p.Node
		out[i].Chunks = ids(p.slots)
		if p.small != nil {
			out[i].Chunks, out[i].Offset = ids(p.small.slots), p.small.offset
		}
	}
	return out
}

func ids(slots []*ID) []ID {
	if len(slots) == 0 {
		return nil
	}
	out := make([]ID, len(slots))
	for i, s := range slots {
		out[i] = *s
	}
	return out
}

// byteReader is bytes.Reader without WriterTo, so the chunker reads it in
// the same strides as a file.
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
