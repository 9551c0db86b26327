package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// HeartbeatEvery is how often Heartbeat speaks during a wait, and so the
// longest a wait stays silent.
const HeartbeatEvery = 5 * time.Second

// Heartbeat logs, at info level on ctx's logger, a line every HeartbeatEvery
// while a wait lasts: what it waits for, how long it has waited and its
// timeout (0: none, the wait is bounded otherwise). A wait shorter than
// HeartbeatEvery prints nothing. Call the returned stop when the wait ends;
// it is safe to call more than once, and ctx ending stops it too.
//
//	defer logging.Heartbeat(ctx, "the app to be healthy", timeout)()
func Heartbeat(ctx context.Context, what string, timeout time.Duration) (stop func()) {
	log := FromContext(ctx)
	if !log.Enabled(ctx, slog.LevelInfo) {
		return func() {} // nobody would read it
	}
	start := time.Now()
	if timeout >= time.Second {
		timeout = timeout.Round(time.Second) // a deadline's remainder, as people read it
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(HeartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				args := []any{"for", what, "elapsed", time.Since(start).Round(time.Second).String()}
				if timeout > 0 {
					args = append(args, "timeout", timeout.String())
				}
				log.InfoContext(ctx, "still waiting", args...)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished // no line after stop returns
	}
}
