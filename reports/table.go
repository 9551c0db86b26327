package reports

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"golang.org/x/term"

	"github.com/reboundhq/rebound/measure"
)

// TableOptions choose how WriteTable draws. The zero value is the plain-text
// fallback: ASCII borders and no colour, right for files, pipes and CI logs.
type TableOptions struct {
	// Unicode draws borders with box-drawing characters.
	Unicode bool
	// Color marks verdicts with ANSI colours; only for a terminal.
	Color bool
}

// TableOptionsFor picks options for w: Unicode and colour on a terminal,
// the plain fallback on anything else (a file, a pipe, a buffer) or when
// TERM is "dumb". NO_COLOR (https://no-color.org) turns colour off. A nil
// lookupEnv means os.LookupEnv; the CLI passes its own so tests control it.
func TableOptionsFor(w io.Writer, lookupEnv func(string) (string, bool)) TableOptions {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return TableOptions{}
	}
	if t, _ := lookupEnv("TERM"); t == "dumb" {
		return TableOptions{}
	}
	noColor, _ := lookupEnv("NO_COLOR")
	return TableOptions{Unicode: true, Color: noColor == ""}
}

// tableFormat is summary.txt: WriteTable's plain fallback.
type tableFormat struct{}

func (tableFormat) Name() string     { return "table" }
func (tableFormat) FileName() string { return "summary.txt" }

func (tableFormat) Write(w io.Writer, run *Run) error {
	return WriteTable(w, run, TableOptions{})
}

// Column widths past which a cell wraps, so a long reason does not push the
// table off a terminal.
const (
	verdictWidth = 44
	blockedWidth = 64
)

// WriteTable writes the human summary of a run: a heading, one row per
// scenario (SCENARIO, FAULT, RECOVERY, RTO, FULL REDUNDANCY, LOST WRITES,
// RPO, TARGET, VERDICT), the achieved rung per disruption type, and the
// details a row has no room for (full breach reasons, expected loss, notes,
// errors, abort and cleanup state).
func WriteTable(w io.Writer, run *Run, opts TableOptions) error {
	p := &printer{w: w}
	p.heading(run)

	if len(run.Scenarios) > 0 {
		t := newTable(w, opts, map[int]int{8: verdictWidth})
		t.Header("SCENARIO", "FAULT", "RECOVERY", "RTO", "FULL REDUNDANCY", "LOST WRITES", "RPO", "TARGET", "VERDICT")
		for i := range run.Scenarios {
			if err := t.Append(scenarioRow(&run.Scenarios[i], opts)); err != nil {
				return fmt.Errorf("table row %q: %w", run.Scenarios[i].Name, err)
			}
		}
		p.err = t.Render()
		p.line("")
	} else {
		p.line("No scenario ran.")
		p.line("")
	}

	if len(run.Achieved) > 0 {
		p.line("Ladder %q: achieved rung per disruption type", run.Ladder)
		t := newTable(w, opts, map[int]int{3: blockedWidth})
		t.Header("DISRUPTION", "ACHIEVED RUNG", "SCENARIOS", "NEXT RUNG BLOCKED BY")
		for _, a := range run.Achieved {
			blocked := strings.Join(a.Blocked, "\n")
			if blocked == "" {
				blocked = notRun
			}
			if err := t.Append([]string{string(a.Disruption), rungText(a), fmt.Sprint(a.Scenarios), blocked}); err != nil {
				return fmt.Errorf("table row %q: %w", a.Disruption, err)
			}
		}
		if p.err == nil {
			p.err = t.Render()
		}
		p.line("")
	} else if run.Ladder == "" {
		p.line("No ladder: no rung judged.")
		p.line("")
	}

	p.details(run)
	return p.err
}

func newTable(w io.Writer, opts TableOptions, maxWidths map[int]int) *tablewriter.Table {
	style := tw.StyleASCII
	if opts.Unicode {
		style = tw.StyleLight
	}
	cfg := tablewriter.Config{
		Header: tw.CellConfig{
			// Our headers are already what we want; AutoFormat would
			// rewrite them.
			Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
			Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		},
		Row: tw.CellConfig{
			Formatting:   tw.CellFormatting{AutoWrap: tw.WrapNormal},
			Alignment:    tw.CellAlignment{Global: tw.AlignLeft},
			ColMaxWidths: tw.CellWidth{PerColumn: tw.Mapper[int, int](maxWidths)},
		},
		Behavior: tw.Behavior{TrimSpace: tw.On},
	}
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(style)})),
		tablewriter.WithConfig(cfg),
	)
}

func scenarioRow(s *Scenario, opts TableOptions) []string {
	status := s.Status()
	verdict := string(status)
	if opts.Color {
		// Only the word: a wrapped reason would split an escape sequence.
		verdict = statusColor[status] + verdict + "\x1b[0m"
	}
	if reasons := shortReasons(s); status != StatusPass && len(reasons) > 0 {
		verdict += ": " + strings.Join(reasons, "; ")
	}
	row := []string{s.Name, s.Fault, s.Recovery, notRun, notRun, notRun, notRun, targetsText(s.Targets), verdict}
	if s.Error == "" {
		r := &s.Result
		row[3] = measuredText(r, measure.MetricRTO)
		row[4] = redundancyText(r)
		row[5] = lostText(r)
		row[6] = rpoText(r)
	}
	return row
}

var statusColor = map[Status]string{
	StatusPass:   "\x1b[32m",   // green
	StatusBreach: "\x1b[31m",   // red
	StatusBug:    "\x1b[1;35m", // bold magenta: worse than a breach
	StatusError:  "\x1b[33m",   // yellow
}

// printer writes lines and keeps the first error, so the layout code reads
// straight.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) heading(run *Run) {
	where := "run " + run.ID
	if run.Cluster != "" {
		where += " on " + run.Cluster
	}
	if run.Ladder != "" {
		where += fmt.Sprintf(", ladder %q", run.Ladder)
	}
	counts := map[Status]int{}
	for i := range run.Scenarios {
		counts[run.Scenarios[i].Status()]++
	}
	var parts []string
	for _, st := range []Status{StatusPass, StatusBreach, StatusBug, StatusError} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], strings.ToLower(string(st))))
		}
	}
	summary := fmt.Sprintf("%d %s", len(run.Scenarios), plural(len(run.Scenarios), "scenario", "scenarios"))
	if len(parts) > 0 {
		summary += ": " + strings.Join(parts, ", ")
	}
	if !run.StartedAt.IsZero() && !run.FinishedAt.IsZero() {
		summary += "; took " + HumanDuration(run.FinishedAt.Sub(run.StartedAt))
	}
	p.line("rebound %s", where)
	p.line("%s", summary)
	if run.Aborted {
		p.line("ABORTED: %s", run.AbortReason)
	}
	p.line("")
}

// details lists what the rows abbreviate, one block per scenario that has
// something to say.
func (p *printer) details(run *Run) {
	var blocks [][]string
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		var lines []string
		if s.Error != "" {
			lines = append(lines, "could not run: "+s.Error)
		}
		if s.Error == "" {
			r := &s.Result
			for _, b := range r.Verdict.Breaches {
				lines = append(lines, "breach: "+b)
			}
			if s.Drill != nil {
				// A drill has no fault, probes or lost writes: its checks,
				// in the notes, say what was verified.
				lines = append(lines, drillText(s.Drill))
				lines = append(lines, s.Notes...)
				blocks = append(blocks, append([]string{s.Name + ":"}, lines...))
				continue
			}
			lines = append(lines, availabilityText(r))
			if r.TimeToFullRedundancy == nil && r.RedundancyDegraded != "" {
				lines = append(lines, "redundancy not restored: last seen "+r.RedundancyDegraded)
			}
			if r.DataChecked {
				lines = append(lines, fmt.Sprintf("writes: %d acked, %d failed, %d indeterminate; %d lost, %d unexpected, %d recovered",
					r.WritesAcked, r.WritesFailed, r.WritesIndeterminate, r.LostCount, r.UnexpectedCount, r.RecoveredCount))
			}
			switch {
			case r.RestoredBackup != "" && bugCheckNotMade(r):
				lines = append(lines, fmt.Sprintf("restored backup %s, cut unknown: bug check %s", r.RestoredBackup, r.BugCheck))
			case r.RestoredBackup != "":
				age := "unknown"
				if r.BackupAge != nil {
					age = HumanDuration(r.BackupAge.Duration())
				}
				lines = append(lines, fmt.Sprintf("restored backup %s, cut %s before the fault: writes acked after the cut are the expected loss (%d); writes acked before it must survive (%d missing)",
					r.RestoredBackup, age, r.ExpectedLossCount, r.LostBeforeBackupCount))
			}
			if r.LostWritesAllowed != nil && r.DataChecked {
				promise := fmt.Sprintf("data-safety promise: at most %s lost", writes(*r.LostWritesAllowed))
				if r.PromiseWhy != "" {
					promise += " (" + r.PromiseWhy + ")"
				}
				lines = append(lines, fmt.Sprintf("%s; %d counted against it", promise, promiseCounted(r)))
			}
		}
		lines = append(lines, s.Notes...)
		if len(lines) > 0 {
			blocks = append(blocks, append([]string{s.Name + ":"}, lines...))
		}
	}
	for _, b := range blocks {
		p.line("%s", b[0])
		for _, l := range b[1:] {
			p.line("  - %s", l)
		}
	}
	if len(blocks) > 0 {
		p.line("")
	}
	if len(run.CleanupIncomplete) > 0 {
		p.line("CLEANUP INCOMPLETE: these were not rolled back; run `rebound cleanup`:")
		for _, c := range run.CleanupIncomplete {
			p.line("  - %s", c)
		}
		p.line("")
	}
}

// drillText is a restore drill in one line: what was restored where, how
// long it took, and what became of the scratch namespace.
func drillText(d *Drill) string {
	id := d.Backup
	if len(id) > 8 {
		id = id[:8]
	}
	taken := "from the repository"
	if d.Taken {
		taken = "taken by the drill"
	}
	cut := "cut " + d.Cut.UTC().Format(time.RFC3339)
	if d.CutUnknown != "" {
		cut = "cut unknown (" + d.CutUnknown + ")"
	}
	verifiedIn := "not verified"
	if d.TimeToVerified != nil {
		verifiedIn = "a verified, serving copy after " + HumanDuration(d.TimeToVerified.Duration())
	}
	var ns string
	switch {
	case !d.Created:
		ns = "not created"
	case d.Kept:
		ns = "kept for inspection"
	case d.Deleted:
		ns = "deleted"
	default:
		ns = "NOT deleted: " + d.Cleanup
	}
	what := "scratch namespace"
	if d.Reused {
		what = "restored objects (the namespace, made for drills, stays)"
		if !d.Created {
			ns = "not restored"
		}
	}
	return fmt.Sprintf("drill: backup %s (%s, %s) of %s restored into %s on %s: restore %s, %s; %s %s",
		id, taken, cut, orNone(d.SourceNamespace), d.Namespace, orNone(d.Cluster), HumanDuration(d.Restore.Duration()), verifiedIn, what, ns)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// availabilityText is the detail line of the availability probe: every
// outage, time to impact, downtime and failed probes.
func availabilityText(r *measure.Result) string {
	failed := fmt.Sprintf("%d of %d probes failed", r.FailedProbes, r.Probes)
	if r.TimeToImpact == nil {
		return fmt.Sprintf("outages: none in %s observed after the fault; %s", HumanDuration(r.Observed.Duration()), failed)
	}
	return fmt.Sprintf("outages from the fault: %s; time to impact %s, downtime %s; %s",
		outagesText(r), HumanDuration(r.TimeToImpact.Duration()), HumanDuration(r.Downtime.Duration()), failed)
}
