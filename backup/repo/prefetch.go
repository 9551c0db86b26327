package repo

import (
	"io"
	"os"
)

// The chunker reads a file on the goroutine that cuts it, so for a large
// file that goroutine spends a third of its time in read(2), copying out of
// the page cache, while it could be finding cut points. When that
// goroutine is what the backup waits for (re-reading a changed file whose
// chunks are mostly stored already), a prefetcher reads the next block on
// a goroutine of its own meanwhile. It adds a copy (a block into the
// chunker's buffer), cheaper than the read(2) it moves away, which also
// copies and pays for the page-cache lookups.

const (
	prefetchBlock = 4 << 20
	prefetchMin   = 4 * prefetchBlock // smaller files are read directly
)

type prefetched struct {
	data []byte // unread part of buf
	buf  []byte
	err  error // after data
}

// prefetcher reads f ahead of its consumer. Close must be called.
type prefetcher struct {
	blocks chan prefetched
	free   chan []byte
	done   chan struct{}
	cur    prefetched
}

// newPrefetcher starts reading f; bufs hands out (and takes back) the
// blocks, kept by the writer from one file to the next.
func newPrefetcher(f *os.File, bufs chan []byte) *prefetcher {
	p := &prefetcher{blocks: make(chan prefetched, 1), free: bufs, done: make(chan struct{})}
	go func() {
		defer close(p.blocks)
		for {
			select {
			case <-p.done:
				return
			default:
			}
			var buf []byte
			select {
			case buf = <-bufs:
			default:
				buf = make([]byte, prefetchBlock)
			}
			n, err := io.ReadFull(f, buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			select {
			case p.blocks <- prefetched{data: buf[:n], buf: buf, err: err}:
			case <-p.done:
				p.give(buf)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *prefetcher) give(buf []byte) {
	select {
	case p.free <- buf:
	default:
	}
}

func (p *prefetcher) Read(b []byte) (int, error) {
	for len(p.cur.data) == 0 {
		if p.cur.err != nil {
			return 0, p.cur.err
		}
		if p.cur.buf != nil {
			p.give(p.cur.buf)
		}
		next, ok := <-p.blocks
		if !ok {
			return 0, io.EOF
		}
		p.cur = next
	}
	n := copy(b, p.cur.data)
	p.cur.data = p.cur.data[n:]
	return n, nil
}

// Close stops the reader and waits for it.
func (p *prefetcher) Close() {
	close(p.done)
	for b := range p.blocks {
		p.give(b.buf)
	}
	if p.cur.buf != nil {
		p.give(p.cur.buf)
		p.cur = prefetched{}
	}
}
