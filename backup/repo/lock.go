package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
)

// Locks keep Prune from deleting chunks a running backup is about to
// reference. A backup holds a shared lock, Prune an exclusive one. Each
// side writes its lock first and then looks for the other, so of two that
// start together at least one sees the other and backs off.
//
// A lock is stale when it has not been refreshed for lockTTL, or when it
// was taken on this host by a process that no longer runs (kill -9).
type lockInfo struct {
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	PID       int       `json:"pid"`
	Time      time.Time `json:"time"`
	Purpose   string    `json:"purpose"`
}

type lock struct {
	r    *Repository
	key  string
	info lockInfo
	stop chan struct{}
	wg   sync.WaitGroup
}

func (r *Repository) acquireLock(ctx context.Context, exclusive bool, purpose string) (*lock, error) {
	host, _ := os.Hostname()
	rnd := make([]byte, 16)
	rand.Read(rnd)
	l := &lock{
		r:    r,
		key:  "locks/" + hex.EncodeToString(rnd),
		info: lockInfo{Exclusive: exclusive, Hostname: host, PID: os.Getpid(), Time: r.now().UTC(), Purpose: purpose},
		stop: make(chan struct{}),
	}
	if err := l.write(ctx); err != nil {
		return nil, err
	}
	holders, err := r.liveLocks(ctx, l.key)
	if err == nil {
		var conflict []string
		for _, h := range holders {
			if exclusive || h.Exclusive {
				conflict = append(conflict, fmt.Sprintf("%s by %s pid %d since %s", h.Purpose, h.Hostname, h.PID, h.Time.Format(time.RFC3339)))
			}
		}
		if len(conflict) > 0 {
			err = fmt.Errorf("%s: %w: %s", purpose, ErrLocked, strings.Join(conflict, "; "))
		}
	}
	if err != nil {
		l.release()
		return nil, err
	}
	l.wg.Add(1)
	go l.refresh()
	return l, nil
}

func (l *lock) write(ctx context.Context) error {
	plain, _ := json.Marshal(l.info)
	var b buffers
	if _, err := l.r.put(ctx, kindLock, l.key, plain, &b); err != nil {
		return fmt.Errorf("take lock: %w", err)
	}
	return nil
}

// refresh rewrites the lock so its modification time stays recent.
func (l *lock) refresh() {
	defer l.wg.Done()
	t := time.NewTicker(l.r.lockIntv)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			l.info.Time = l.r.now().UTC()
			_ = l.write(ctx) // a missed refresh only makes the lock look older
			cancel()
		}
	}
}

// release removes the lock on a fresh context, so it runs after the
// caller's context was cancelled.
func (l *lock) release() {
	select {
	case <-l.stop:
		return
	default:
		close(l.stop)
	}
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = l.r.bucket.Delete(ctx, l.key)
}

// liveLocks returns the locks other than own that are not stale.
func (r *Repository) liveLocks(ctx context.Context, own string) ([]lockInfo, error) {
	var live []lockInfo
	err := r.eachLock(ctx, func(key string, mod time.Time, info *lockInfo) error {
		if key == own || r.lockStale(mod, info) {
			return nil
		}
		if info == nil {
			info = &lockInfo{Purpose: "unreadable lock " + key, Time: mod}
		}
		live = append(live, *info)
		return nil
	})
	return live, err
}

func (r *Repository) eachLock(ctx context.Context, fn func(key string, mod time.Time, info *lockInfo) error) error {
	return r.list(ctx, "locks/", func(obj *blob.ListObject) error {
		var info *lockInfo
		if plain, err := r.get(ctx, kindLock, ID{}, obj.Key, nil); err == nil {
			info = new(lockInfo)
			if json.Unmarshal(plain, info) != nil {
				info = nil
			}
		} else if !errors.Is(err, ErrCorrupt) {
			return err
		}
		return fn(obj.Key, obj.ModTime, info)
	})
}

func (r *Repository) lockStale(mod time.Time, info *lockInfo) bool {
	if r.now().Sub(mod) > r.lockTTL {
		return true
	}
	if info == nil {
		return false
	}
	host, _ := os.Hostname()
	return info.Hostname == host && info.PID != os.Getpid() && !processAlive(info.PID)
}

// Unlock removes stale locks, or every lock with all set (for a backup
// killed on another host that should not wait out the staleness timeout).
// It returns how many it removed.
func (r *Repository) Unlock(ctx context.Context, all bool) (int, error) {
	var keys []string
	err := r.eachLock(ctx, func(key string, mod time.Time, info *lockInfo) error {
		if all || r.lockStale(mod, info) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i, k := range keys {
		if err := r.bucket.Delete(ctx, k); err != nil {
			return i, fmt.Errorf("unlock: delete %s: %w", k, err)
		}
	}
	return len(keys), nil
}
