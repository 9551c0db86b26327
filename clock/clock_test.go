package clock

import (
	"errors"
	"testing"
	"time"
)

func TestNowAdvancesAndInstantsOfOtherBootsDoNotCompare(t *testing.T) {
	a := Now()
	if a.IsZero() {
		t.Skip("no boot id on this machine")
	}
	time.Sleep(5 * time.Millisecond)
	b := Now()
	d, err := b.Sub(a)
	if err != nil || d < 5*time.Millisecond {
		t.Fatalf("b − a = %s, %v; want at least the 5ms slept", d, err)
	}
	other := Instant{Boot: "another-boot", Monotonic: a.Monotonic}
	if _, err := other.Sub(a); !errors.Is(err, ErrOtherBoot) {
		t.Errorf("another boot's instant compared: %v", err)
	}
	if _, err := (Instant{}).Sub(a); err == nil {
		t.Error("an unknown instant compared")
	}
}
