// Package drill runs restore drills: it takes a backup of an app (writing
// a known set of write-probe ids into it first) or picks one from the
// repository, restores it into a new scratch namespace (on the same or
// another cluster), verifies the copy — the backup's every object intact,
// the restore Ready and healthy, the app's own health at full, every
// write-probe id the backup recorded as acknowledged before its cut
// present, and the driver's checksum of the data equal to the one recorded
// at backup time — measures the time from the restore's start to a
// verified, serving copy, and deletes the scratch namespace (journaled
// before it is created, so `rebound cleanup` deletes it after a crash).
//
// The outcome is a reports.Scenario like any game day's, with a Drill part
// that lists every check as verified, failed or not made, and why. Drill
// computes the verdict; reports only render it.
//
// It must not restore into a namespace that exists (it would delete what
// it did not create), act outside the allowlist, or change the source app
// beyond the probe ids it writes and deletes again. It never injects
// faults.
package drill
