// Package clock names an instant on this host's monotonic clock
// (CLOCK_MONOTONIC, qualified by the kernel's boot id), so that two rebound
// processes on one machine — a game day and the backup schedule running
// beside it — can place each other's instants on one timeline without
// trusting the wall clock, which NTP or a person may step at any time.
//
// It only reads the clock and the boot id; it never sleeps or converts wall
// times, and an instant from another boot (another host, or this one after a
// reboot) is never comparable: Sub says so instead of guessing.
package clock
