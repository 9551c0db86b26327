package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/reboundhq/rebound/backup/repo"
)

// Policy is a backup schedule with its retention.
type Policy struct {
	// Schedule is an interval ("15m", "@every 15m"), a descriptor
	// ("@hourly", "@daily") or a five-field cron expression
	// ("*/5 * * * *"), in the local time zone unless it starts with
	// CRON_TZ=.
	Schedule string
	// Retention applies, after each backup, to the backups carrying Tag.
	Retention Retention
	// Tag marks the policy's backups; retention never touches others.
	Tag string
	// Immediate takes the first backup at once instead of at the first tick.
	Immediate bool
	// Max stops the schedule after this many backups (0: until ctx ends).
	Max int
	// Prune frees the chunks of the backups retention removed (skipped,
	// with a note, while another backup holds the repository).
	Prune bool
}

// Retention says which backups to keep: the newest KeepLast, and every
// one younger than MaxAge. A backup either rule keeps stays.
type Retention struct {
	KeepLast int
	MaxAge   time.Duration
}

// IsZero reports whether the retention keeps everything.
func (r Retention) IsZero() bool { return r.KeepLast <= 0 && r.MaxAge <= 0 }

// ParseSchedule parses a Policy.Schedule.
func ParseSchedule(s string) (cron.Schedule, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < time.Second {
			return nil, fmt.Errorf("schedule %q: an interval must be at least 1s", s)
		}
		return cron.Every(d), nil
	}
	sch, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: want an interval (15m), @every 15m, @hourly or a cron expression (*/5 * * * *): %w", s, err)
	}
	return sch, nil
}

// ScheduleEvent is one tick of a schedule: the backup it took (or why
// not) and what retention removed.
type ScheduleEvent struct {
	Time    time.Time
	Result  *Result
	Err     error
	Removed []Info
	Pruned  *repo.PruneReport
	Note    string
	Next    time.Time
}

// RunSchedule takes a backup of req at every tick of p until ctx ends (or
// p.Max backups), applying the retention after each. A failed backup is
// reported in its event and the schedule goes on; it returns ctx's end,
// or nil after p.Max backups.
func (e *Engine) RunSchedule(ctx context.Context, req Request, p Policy, events func(ScheduleEvent)) error {
	sch, err := ParseSchedule(p.Schedule)
	if err != nil {
		return err
	}
	if p.Tag == "" {
		return errors.New("schedule: a policy needs a tag, so its retention touches its own backups only")
	}
	if events == nil {
		events = func(ScheduleEvent) {}
	}
	req.Tags = append(append([]string(nil), req.Tags...), p.Tag)
	next := sch.Next(e.now())
	if p.Immediate {
		next = e.now()
	}
	for n := 0; p.Max <= 0 || n < p.Max; n++ {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		ev := ScheduleEvent{Time: e.now()}
		ev.Result, ev.Err = e.Backup(ctx, req)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ev.Err == nil && !p.Retention.IsZero() {
			ev.Removed, ev.Err = e.ApplyRetention(ctx, p.Tag, p.Retention)
			if ev.Err == nil && p.Prune && len(ev.Removed) > 0 {
				rep, _, err := e.Prune(ctx)
				switch {
				case errors.Is(err, repo.ErrLocked):
					ev.Note = "prune skipped: another backup holds the repository"
				case err != nil:
					ev.Err = err
				default:
					ev.Pruned = rep
				}
			}
		}
		next = sch.Next(e.now())
		ev.Next = next
		events(ev)
	}
	return nil
}

// ApplyRetention deletes the backups carrying tag that r does not keep and
// returns them, oldest first. Their chunks stay until Prune.
func (e *Engine) ApplyRetention(ctx context.Context, tag string, r Retention) ([]Info, error) {
	if r.IsZero() {
		return nil, nil
	}
	if tag == "" {
		return nil, errors.New("retention: no tag: retention applies to one policy's backups")
	}
	drop, err := e.repo.Forget(ctx, repo.ForgetPolicy{KeepLast: r.KeepLast, MaxAge: r.MaxAge, Tag: tag, DryRun: true})
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	var out []Info
	for _, s := range drop {
		if !s.HasTag(TagBackup) {
			continue
		}
		if _, err := e.Delete(ctx, s.ID.String()); err != nil {
			return out, fmt.Errorf("retention: delete backup %s: %w", s.ID.Short(), err)
		}
		out = append(out, infoOf(s))
	}
	return out, nil
}
