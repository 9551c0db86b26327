package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// htmlFormat is report.html: one self-contained page (inline CSS and SVG,
// no fetch of anything) with the ladder on top and, per scenario, a
// timeline of what happened and the verdict against its targets.
type htmlFormat struct{}

func (htmlFormat) Name() string     { return "html" }
func (htmlFormat) FileName() string { return "report.html" }

//go:embed html.tmpl
var htmlSource string

var htmlPage = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"lower": func(s Status) string { return strings.ToLower(string(s)) },
}).Parse(htmlSource))

func (htmlFormat) Write(w io.Writer, run *Run) error {
	// Render to memory: a template error must not leave half a page in w.
	var b bytes.Buffer
	if err := htmlPage.Execute(&b, newHTMLView(run)); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// statusSymbol goes with every status word, so a verdict never rests on
// colour alone.
var statusSymbol = map[Status]string{
	StatusPass:   "✓",
	StatusBreach: "✗",
	StatusBug:    "‼",
	StatusError:  "!",
}

type htmlView struct {
	Title, Heading, Summary string
	Aborted                 string
	Cleanup                 []string
	Rows                    []htmlRow
	Ladder                  string // the ladder's name; "" without one
	Rails                   []htmlRail
	Scenarios               []htmlScenario
}

type htmlRow struct {
	Anchor, Name, Fault, Recovery, RTO, Full, Lost, RPO, Target string
	Status                                                      Status
	Symbol, Reasons                                             string
}

type htmlRail struct {
	Disruption, Rung, Scenarios string
	Covered                     bool
	Steps                       []htmlStep // top rung first
	Blocked                     []string
}

type htmlStep struct {
	Class, Label string
}

type htmlScenario struct {
	Anchor, Name, Meta string
	Status             Status
	Symbol             string
	Error              string
	Timeline           template.HTML // the SVG; "" when there is nothing to draw
	TimelineDesc       string
	T0                 string // what T0 is, for the caption
	Moments            []htmlMoment
	Targets            []htmlTarget
	Breaches           []string
	Details            []string
}

type htmlMoment struct{ At, What string }

type htmlTarget struct {
	Goal, Measured, Reason string
	Met                    bool
}

func newHTMLView(run *Run) htmlView {
	v := htmlView{Title: "rebound report " + run.ID, Ladder: run.Ladder}
	var head bytes.Buffer
	p := &printer{w: &head}
	p.heading(run)
	lines := strings.Split(strings.TrimSpace(head.String()), "\n")
	v.Heading = lines[0]
	if len(lines) > 1 {
		v.Summary = lines[1]
	}
	if run.Aborted {
		v.Aborted = run.AbortReason
	}
	v.Cleanup = run.CleanupIncomplete
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		anchor := fmt.Sprintf("scenario-%d", i+1)
		cells := scenarioRow(s, TableOptions{})
		st := s.Status()
		reasons := ""
		if st != StatusPass {
			reasons = strings.Join(shortReasons(s), "; ")
		}
		v.Rows = append(v.Rows, htmlRow{
			Anchor: anchor, Name: s.Name, Fault: s.Fault, Recovery: s.Recovery,
			RTO: cells[3], Full: cells[4], Lost: cells[5], RPO: cells[6], Target: cells[7],
			Status: st, Symbol: statusSymbol[st], Reasons: reasons,
		})
		v.Scenarios = append(v.Scenarios, newHTMLScenario(anchor, s))
	}
	v.Rails = ladderRails(run.Achieved)
	return v
}

// ladderRails draws the achieved rung per disruption type. The run holds no
// list of the ladder's rungs, only what each type achieved; the rungs shown
// are those: up to the highest level achieved, and one more wherever a next
// rung blocked a type.
func ladderRails(achieved []measure.Achievement) []htmlRail {
	names := map[int]string{}
	top := 0
	for _, a := range achieved {
		if a.Level > 0 {
			names[a.Level] = a.Rung
		}
		next := a.Level
		if len(a.Blocked) > 0 {
			next++
		}
		top = max(top, next)
	}
	rails := make([]htmlRail, 0, len(achieved))
	for _, a := range achieved {
		r := htmlRail{Disruption: string(a.Disruption), Rung: rungText(a), Covered: a.Covered, Blocked: a.Blocked,
			Scenarios: fmt.Sprintf("%d %s", a.Scenarios, plural(a.Scenarios, "scenario", "scenarios"))}
		for level := top; level >= 1; level-- {
			name := names[level]
			if name == "" {
				name = fmt.Sprintf("level %d", level)
			}
			step := htmlStep{Class: "above", Label: name}
			switch {
			case !a.Covered:
				step.Class = "uncovered"
			case level <= a.Level:
				step = htmlStep{Class: "met", Label: "✓ " + name}
			case level == a.Level+1 && len(a.Blocked) > 0:
				step = htmlStep{Class: "blocked", Label: "✗ " + name + " blocked"}
			}
			r.Steps = append(r.Steps, step)
		}
		rails = append(rails, r)
	}
	return rails
}

func newHTMLScenario(anchor string, s *Scenario) htmlScenario {
	st := s.Status()
	h := htmlScenario{
		Anchor: anchor, Name: s.Name, Status: st, Symbol: statusSymbol[st], Error: s.Error,
		Meta: fmt.Sprintf("%s disruption · fault %s · recovery %s · %s · started %s · took %s",
			s.Disruption, s.Fault, s.Recovery, s.Target, s.StartedAt.UTC().Format(time.RFC3339), HumanDuration(s.Duration.Duration())),
	}
	tl := newTimeline(s)
	if tl.drawable() {
		h.Timeline = template.HTML(tl.svg())
		h.TimelineDesc = tl.desc()
		h.T0 = "the instant the fault was confirmed"
		if s.Drill != nil {
			h.T0 = "the start of the drill's restore"
		}
	}
	h.Moments = tl.moments()
	if s.Error != "" {
		h.Details = s.Notes
		return h
	}
	r := &s.Result
	for _, tr := range r.Verdict.Targets {
		t := htmlTarget{Met: tr.Met, Reason: tr.Reason}
		t.Goal, _ = targetText(s.Targets, tr.Metric)
		if t.Goal == "" {
			t.Goal = metricLabel(tr.Metric)
		}
		t.Measured = measuredText(r, tr.Metric)
		h.Targets = append(h.Targets, t)
	}
	h.Breaches = r.Verdict.Breaches
	h.Details = scenarioDetails(s)
	return h
}

// scenarioDetails are the numbers the timeline and the targets leave out,
// in words.
func scenarioDetails(s *Scenario) []string {
	r := &s.Result
	if s.Drill != nil {
		return append([]string{drillText(s.Drill)}, s.Notes...)
	}
	out := []string{availabilityText(r)}
	if r.TimeToFullRedundancy == nil && r.RedundancyDegraded != "" {
		out = append(out, "redundancy not restored: last seen "+r.RedundancyDegraded)
	}
	if r.DataChecked {
		out = append(out, fmt.Sprintf("writes: %d invoked, %d acked, %d failed, %d indeterminate; %d read; %d lost, %d unexpected, %d recovered",
			r.WritesInvoked, r.WritesAcked, r.WritesFailed, r.WritesIndeterminate, r.IDsRead, r.LostCount, r.UnexpectedCount, r.RecoveredCount))
	} else {
		out = append(out, "writes: not checked (no final read)")
	}
	switch {
	case r.RestoredBackup != "" && bugCheckNotMade(r):
		out = append(out, fmt.Sprintf("restored backup %s, cut unknown: bug check %s", r.RestoredBackup, r.BugCheck))
	case r.RestoredBackup != "":
		age := "unknown"
		if r.BackupAge != nil {
			age = HumanDuration(r.BackupAge.Duration())
		}
		out = append(out, fmt.Sprintf("restored backup %s, cut %s before the fault: %d lost %s acked after the cut (expected loss), %d acked before it (a bug)",
			r.RestoredBackup, age, r.ExpectedLossCount, plural(r.ExpectedLossCount, "write", "writes"), r.LostBeforeBackupCount))
	}
	if r.LostWritesAllowed != nil {
		promise := fmt.Sprintf("data-safety promise: at most %s lost", writes(*r.LostWritesAllowed))
		if r.PromiseWhy != "" {
			promise += " (" + r.PromiseWhy + ")"
		}
		if r.DataChecked {
			promise += fmt.Sprintf("; %d counted against it", promiseCounted(r))
		} else {
			promise += "; not checked"
		}
		out = append(out, promise)
	}
	return append(out, s.Notes...)
}
