// Package reports renders one rebound run many ways: a table for people,
// report.json (versioned: SchemaVersion, with a JSON Schema in schema/) for
// tools and auditors, JUnit XML for CI gates, and Prometheus metrics — a
// text file, a push to a Pushgateway at the end, and a live /metrics
// endpoint while the run goes. Run is the model every format renders.
//
// It only renders. It never computes a measurement or a verdict — RTO, RPO,
// lost writes, verdicts and achieved rungs all come from package measure,
// and a number measure could not make stays unknown here too ("not
// restored", "not checked", null, an absent sample), never 0. It never
// talks to a cluster or an app; it only writes (files, a bucket, a
// Pushgateway).
//
// Formats are constructors in a name → constructor map behind the tiny
// Format interface, as k6's outputs are: Formats lists the names, New picks
// one, and WriteAll writes several into a folder (DefaultDir), each file
// atomically.
//
// # Order
//
// As in k6, a run ends in three steps, in this order:
//
//  1. Finalize: the runner fills the Run from measure (Analyse per scenario,
//     AchievedRungs for the ladder) and calls Run.Finalize, which checks
//     every verdict is in and closes the run; it must not change afterwards.
//  2. Flush: WriteAll (then Upload of its files to object storage), Push
//     and Live.Publish render the finalized run. Each refuses a run that
//     is not finalized (ErrNotFinal), so a report never
//     shows a verdict that was still being decided. They are independent:
//     one failing does not stop the others.
//  3. Stop: cancel the context given to Live.Serve (or MetricsServer.Serve);
//     it returns once scrapes in flight are done. Stopping last lets a
//     Prometheus scrape the final metrics that Publish added.
//
// The Live counters are updated from the start of the run to its end,
// before step 1.
package reports
