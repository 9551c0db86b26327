package clock

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Instant is a reading of CLOCK_MONOTONIC on the boot named by Boot. The
// zero Instant is "unknown".
type Instant struct {
	// Boot is the kernel's boot id (/proc/sys/kernel/random/boot_id): two
	// instants are comparable only when their boots are the same.
	Boot string `json:"boot"`
	// Monotonic is the time since an arbitrary point fixed at boot.
	Monotonic time.Duration `json:"monotonicNanos"`
}

// ErrOtherBoot is returned by Sub for instants of different boots.
var ErrOtherBoot = errors.New("instants from different boots (another host, or a reboot between them) cannot be compared")

// IsZero reports whether i is unknown.
func (i Instant) IsZero() bool { return i.Boot == "" }

// Sub returns i − j, or ErrOtherBoot when they cannot be compared.
func (i Instant) Sub(j Instant) (time.Duration, error) {
	if i.IsZero() || j.IsZero() {
		return 0, errors.New("an instant is unknown")
	}
	if i.Boot != j.Boot {
		return 0, fmt.Errorf("%w: boot %s and boot %s", ErrOtherBoot, short(i.Boot), short(j.Boot))
	}
	return i.Monotonic - j.Monotonic, nil
}

// Add returns i moved by d.
func (i Instant) Add(d time.Duration) Instant {
	return Instant{Boot: i.Boot, Monotonic: i.Monotonic + d}
}

func short(b string) string {
	if len(b) > 8 {
		return b[:8]
	}
	return b
}

var (
	bootOnce sync.Once
	bootID   string
)

// Now reads the host's monotonic clock. Where the boot id cannot be read it
// returns the zero Instant, which nothing will compare.
func Now() Instant {
	// The clock first: reading the boot id the first time takes a file
	// read, which must not delay the instant.
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return Instant{}
	}
	bootOnce.Do(func() {
		b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err == nil {
			bootID = strings.TrimSpace(string(b))
		}
	})
	if bootID == "" {
		return Instant{}
	}
	return Instant{Boot: bootID, Monotonic: time.Duration(ts.Nano())}
}
