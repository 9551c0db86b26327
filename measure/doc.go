// Package measure turns a recorded timeline into the numbers rebound reports:
// every outage, RTO with its resolution, time to impact, downtime and error
// rate from the availability probe, time to full redundancy, lost,
// unexpected and recovered writes and the RPO from the write probe (Jepsen
// "set" semantics), the data-safety promise, and verdicts against targets
// and a ladder of rungs, exactly as docs/measurement.md defines them. Every instant is an offset on the one monotonic
// clock a Timeline started.
//
// It is pure computation: it never talks to Kubernetes or an app, never reads
// or writes files, never sleeps or starts goroutines, and never guesses a
// number it did not observe — what it could not measure it reports as not
// restored or not checked, never as zero. Probes record; the runner analyses;
// reports render.
package measure
