package backupcmd

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/reboundhq/rebound/backup"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// reporter shows an engine's progress: a bar with bytes and rate on a
// terminal, plain lines (a byte count at most every 2s) otherwise.
type reporter struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	phase string
	start time.Time
	last  time.Time
	every time.Duration
}

func newReporter(w io.Writer) *reporter {
	return &reporter{w: w, tty: isTerminal(w), every: 2 * time.Second}
}

func (r *reporter) report(p backup.Progress) {
	if p.Phase != r.phase {
		r.finishBar()
		r.phase, r.start, r.last = p.Phase, time.Now(), time.Time{}
	}
	if p.Message != "" {
		r.finishBar()
		fmt.Fprintf(r.w, "%s: %s\n", p.Phase, p.Message)
	}
	if p.Bytes > 0 || (p.Total > 0 && !p.Done) {
		if r.tty {
			r.barFor(p).Set64(p.Bytes)
		} else if p.Bytes > 0 && time.Since(r.last) >= r.every && !p.Done {
			r.last = time.Now()
			fmt.Fprintf(r.w, "%s: %s\n", p.Phase, byteLine(p.Bytes, p.Total, time.Since(r.start)))
		}
	}
	if p.Done && p.Bytes > 0 {
		if r.bar != nil {
			r.bar.Set64(p.Bytes)
			r.finishBar()
		} else if !r.tty {
			fmt.Fprintf(r.w, "%s: %s done\n", p.Phase, byteLine(p.Bytes, 0, time.Since(r.start)))
		}
	}
}

func (r *reporter) barFor(p backup.Progress) *progressbar.ProgressBar {
	if r.bar == nil {
		max := p.Total
		if max <= 0 {
			max = -1
		}
		r.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(r.w),
			progressbar.OptionSetDescription(p.Phase),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(r.w) }),
		)
	}
	if p.Total > 0 && r.bar.GetMax64() != p.Total {
		r.bar.ChangeMax64(p.Total)
	}
	return r.bar
}

func (r *reporter) finishBar() {
	if r.bar != nil {
		if !r.bar.IsFinished() {
			_ = r.bar.Finish()
		}
		r.bar = nil
	}
}

// close ends a bar left open.
func (r *reporter) close() { r.finishBar() }

// spinner shows that something without a byte count is running, on a
// terminal only; stop removes it.
func spinner(w io.Writer, what string) (stop func()) {
	if !isTerminal(w) {
		fmt.Fprintf(w, "%s…\n", what)
		return func() {}
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish(), progressbar.OptionSetElapsedTime(true))
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				_ = bar.Finish()
				return
			case <-t.C:
				_ = bar.Add(1)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func byteLine(n, total int64, d time.Duration) string {
	s := humanBytes(n)
	if total > 0 {
		s += fmt.Sprintf(" of %s (%d%%)", humanBytes(total), n*100/total)
	}
	if secs := d.Seconds(); secs > 0.05 {
		s += fmt.Sprintf(", %s/s", humanBytes(int64(float64(n)/secs)))
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
