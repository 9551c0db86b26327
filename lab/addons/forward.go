package addons

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/reboundhq/rebound/lab/labnet"
)

// forwardAPIServer accepts connections on l (the API server's advertised
// address inside the lab network namespace) and splices each to the API
// server at target on the host's loopback. TLS passes through untouched:
// clients verify the API server's own certificate, which names the infra
// address and the kubernetes Service's ClusterIP. It returns when ctx ends,
// closing l and every open connection.
func forwardAPIServer(ctx context.Context, l net.Listener, target string, log *slog.Logger) {
	var wg sync.WaitGroup
	conns := map[net.Conn]struct{}{}
	var mu sync.Mutex
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
	}
	go func() {
		<-ctx.Done()
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		in, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				log.Warn("API server forwarder: accept", "err", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			track(in, true)
			defer track(in, false)
			defer in.Close()
			var d net.Dialer
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			out, err := d.DialContext(dctx, "tcp", target)
			cancel()
			if err != nil {
				log.Warn("API server forwarder: dial the API server", "target", target, "err", err)
				return
			}
			track(out, true)
			defer track(out, false)
			defer out.Close()
			labnet.Splice(in, out)
		}()
	}
}
