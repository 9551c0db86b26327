package kubeletapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// logOptions are the query parameters of /containerLogs the lab honours.
type logOptions struct {
	follow, previous bool
	tailLines        int64
	tail             bool // tailLines is set
	limitBytes       int64
	limit            bool // limitBytes is set
}

// errNoTimes names what the lab's logs cannot do.
var errNoTimes = errors.New("the lab keeps a container's log as the raw text it wrote, without a time per line: --timestamps, --since and --since-time are not supported; use --tail or --limit-bytes")

func parseLogOptions(r *http.Request) (logOptions, error) {
	var o logOptions
	var err error
	if o.follow, err = queryBool(r, "follow"); err != nil {
		return o, err
	}
	if o.previous, err = queryBool(r, "previous"); err != nil {
		return o, err
	}
	if o.tailLines, o.tail, err = queryInt(r, "tailLines"); err != nil {
		return o, err
	}
	if o.limitBytes, o.limit, err = queryInt(r, "limitBytes"); err != nil {
		return o, err
	}
	if o.limit && o.limitBytes == 0 {
		return o, fmt.Errorf("query parameter limitBytes=0: want 1 or more")
	}
	q := r.URL.Query()
	if ts, _ := queryBool(r, "timestamps"); ts || q.Get("sinceSeconds") != "" || q.Get("sinceTime") != "" {
		return o, errNoTimes
	}
	if s := q.Get("stream"); s != "" && s != "All" {
		return o, fmt.Errorf("stream=%s: the lab keeps stdout and stderr in one log; only stream=All is supported", s)
	}
	return o, nil
}

// logs serves GET /containerLogs/{namespace}/{pod}/{container}.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	ns, pod, name := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r)
	if err != nil {
		fail(w, err)
		return
	}
	c, err := s.Pods.Container(s.Node, ns, pod, name)
	if err != nil {
		fail(w, err)
		return
	}
	path, exited := c.Log, c.Exited
	if opts.previous {
		if c.PreviousLog == "" {
			fail(w, fmt.Errorf("previous terminated container %q in pod %q not found", name, pod))
			return
		}
		path, exited = c.PreviousLog, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		fail(w, fmt.Errorf("container %q in pod %q has not started yet: it has no log", name, pod))
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	var src io.Reader = f
	if opts.tail {
		st, err := f.Stat()
		var off int64
		if err == nil {
			off, err = tailOffset(f, st.Size(), opts.tailLines)
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("read %s: %v", path, err), http.StatusInternalServerError)
			return
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			http.Error(w, fmt.Sprintf("read %s: %v", path, err), http.StatusInternalServerError)
			return
		}
		if !opts.follow {
			// The last n lines as of now: what the container writes
			// meanwhile would make them more than n.
			src = io.LimitReader(f, st.Size()-off)
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	var out io.Writer = flushWriter{w}
	if opts.limit {
		out = &limitWriter{w: out, left: opts.limitBytes}
	}
	if !opts.follow {
		exited = nil
	}
	if err := copyLog(r.Context(), src, out, exited); err != nil && !errors.Is(err, errLimit) {
		s.Log.Debug("log stream ended", "pod", ns+"/"+pod, "container", name, "err", err)
	}
}

// copyLog copies f to out; with a non-nil exited it then follows f, as
// `tail -f` does, until exited is closed (and what was written until then
// is copied) or ctx ends.
func copyLog(ctx context.Context, f io.Reader, out io.Writer, exited <-chan struct{}) error {
	if _, err := io.Copy(out, f); err != nil || exited == nil {
		return err
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
			_, err := io.Copy(out, f)
			return err
		case <-tick.C:
		}
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
	}
}

// tailOffset is where the last n lines of a file of size bytes start; a
// last line without a newline counts as a line, as for tail -n.
func tailOffset(f io.ReaderAt, size, n int64) (int64, error) {
	if n == 0 {
		return size, nil
	}
	buf := make([]byte, 32<<10)
	lines := int64(0)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' || start+int64(i) == size-1 {
				continue // the newline that ends the file starts no line
			}
			if lines++; lines == n {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// flushWriter sends every write to the client at once, so a followed log
// shows lines as they come.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

var errLimit = errors.New("limitBytes reached")

// limitWriter passes on at most left bytes, then fails with errLimit.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimit
	}
	short := int64(len(p)) > l.left
	if short {
		p = p[:l.left]
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	if err == nil && short {
		err = errLimit
	}
	return n, err
}
