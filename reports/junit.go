package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// junitFormat is junit.xml, for CI systems (Jenkins, GitLab, GitHub
// actions that read JUnit): one <testsuite> per run, and per scenario one
// <testcase> per goal (classname = scenario name, name = "RTO ≤ 60s"), plus
// the data checks when a final read was done.
//
// The mapping, so a CI page says what the verdict says:
//   - a goal that was met passes; one that was missed, or a service that was
//     not restored, is a <failure> carrying the measured value and reason;
//   - a goal the scenario does not set is <skipped>, with what was measured;
//   - a scenario that could not run is one <error> ("scenario ran"), and
//     its goals are skipped as not measured;
//   - "no acknowledged write lost" fails on writes acked before a restored
//     backup's cut (a bug) and on lost writes that no RPO goal was set for;
//     lost writes that a restore must lose, or that an RPO goal judges, are
//     <skipped> with the count, since the RPO testcase already decides them;
//   - "no unexpected write" fails when the final read found ids never
//     written;
//   - an aborted run and an incomplete cleanup are <error>s of classname
//     "rebound".
type junitFormat struct{}

func (junitFormat) Name() string     { return "junit" }
func (junitFormat) FileName() string { return "junit.xml" }

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitOutcome `xml:"failure"`
	Error     *junitOutcome `xml:"error"`
	Skipped   *junitOutcome `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// seconds is a JUnit time: seconds with millisecond precision.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func (junitFormat) Write(w io.Writer, run *Run) error {
	suite := junitSuite{
		Name: "rebound run " + run.ID,
		Properties: []junitProperty{
			{Name: "schema", Value: SchemaVersion},
			{Name: "run", Value: run.ID},
			{Name: "cluster", Value: run.Cluster},
			{Name: "ladder", Value: run.Ladder},
		},
	}
	if !run.StartedAt.IsZero() {
		// JUnit's timestamp is an ISO 8601 date-time without a zone.
		suite.Timestamp = run.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	if !run.FinishedAt.IsZero() {
		suite.Time = seconds(run.FinishedAt.Sub(run.StartedAt))
	} else {
		suite.Time = seconds(0)
	}
	for _, a := range run.Achieved {
		suite.Properties = append(suite.Properties, junitProperty{Name: "achieved." + string(a.Disruption), Value: rungText(a)})
	}
	for i := range run.Scenarios {
		suite.Cases = append(suite.Cases, scenarioCases(&run.Scenarios[i])...)
	}
	if run.Aborted {
		suite.Cases = append(suite.Cases, junitCase{
			Classname: "rebound", Name: "run completed", Time: seconds(0),
			Error: &junitOutcome{Message: "run aborted: " + run.AbortReason, Type: "aborted"},
		})
	}
	if len(run.CleanupIncomplete) > 0 {
		suite.Cases = append(suite.Cases, junitCase{
			Classname: "rebound", Name: "cleanup complete", Time: seconds(0),
			Error: &junitOutcome{
				Message: fmt.Sprintf("%d not rolled back: run `rebound cleanup`", len(run.CleanupIncomplete)),
				Type:    "cleanupIncomplete",
				Text:    strings.Join(run.CleanupIncomplete, "\n"),
			},
		})
	}
	for _, c := range suite.Cases {
		suite.Tests++
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		case c.Skipped != nil:
			suite.Skipped++
		}
	}
	doc := junitSuites{
		Name: "rebound", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// scenarioCases are one scenario's testcases. The scenario's duration goes
// on its first testcase only, so the times CI adds up match the run.
func scenarioCases(s *Scenario) []junitCase {
	var cases []junitCase
	add := func(c junitCase) {
		c.Classname = s.Name
		c.Time = seconds(0)
		if len(cases) == 0 {
			c.Time = seconds(s.Duration.Duration())
		}
		cases = append(cases, c)
	}
	if s.Error != "" {
		add(junitCase{Name: "scenario ran", Error: &junitOutcome{Message: s.Error, Type: "error"}})
		for _, m := range targetMetrics {
			name, ok := targetText(s.Targets, m)
			if !ok {
				name = metricLabel(m) + " (no target)"
			}
			add(junitCase{Name: name, Skipped: &junitOutcome{Message: "not measured: the scenario could not run"}})
		}
		return cases
	}

	r := &s.Result
	results := map[measure.Metric]measure.TargetResult{}
	for _, tr := range r.Verdict.Targets {
		results[tr.Metric] = tr
	}
	for _, m := range targetMetrics {
		measured := measuredText(r, m)
		name, set := targetText(s.Targets, m)
		tr, judged := results[m]
		switch {
		case set && judged && tr.Met:
			add(junitCase{Name: name, SystemOut: "measured: " + measured + "\n" + tr.Reason})
		case set && judged:
			add(junitCase{Name: name, Failure: &junitOutcome{
				Message: tr.Reason, Type: "breach",
				Text: "measured: " + measured + "\ntarget: " + strings.TrimPrefix(name, metricName(m)+" "),
			}})
		case set:
			// A goal the verdict does not list was not judged: say so
			// rather than pass it.
			add(junitCase{Name: name, Error: &junitOutcome{Message: "target not judged: the verdict has no " + string(m) + " result", Type: "error"}})
		case m == measure.MetricRTO && r.RTO == nil:
			// Not restoring is a breach whatever the targets say.
			add(junitCase{Name: metricLabel(m) + " (no target)", Failure: &junitOutcome{
				Message: fmt.Sprintf("%s (observed %s after the fault)", measure.NotRestored, HumanDuration(r.Observed.Duration())),
				Type:    "breach",
				Text:    "measured: " + measured,
			}})
		default:
			add(junitCase{Name: metricLabel(m) + " (no target)", Skipped: &junitOutcome{
				Message: fmt.Sprintf("no %s target set; measured %s", metricLabel(m), measured),
			}})
		}
	}
	if d := s.Drill; d != nil {
		for _, c := range d.Checks {
			jc := junitCase{Name: "drill: " + c.Name}
			switch c.Status {
			case DrillVerified:
				jc.SystemOut = c.Detail
			case DrillFailed:
				jc.Failure = &junitOutcome{Message: c.Detail, Type: "drillFailed"}
			default:
				jc.Skipped = &junitOutcome{Message: "not checked: " + c.Detail}
			}
			add(jc)
		}
	}
	if r.DataChecked {
		add(lostCase(s))
		c := junitCase{Name: "no unexpected write"}
		if r.UnexpectedCount > 0 {
			c.Failure = &junitOutcome{
				Message: fmt.Sprintf("bug: the final read found %d %s that %s never written", r.UnexpectedCount, plural(r.UnexpectedCount, "id", "ids"), plural(r.UnexpectedCount, "was", "were")),
				Type:    "bug",
				Text:    strings.Join(r.Unexpected, "\n"),
			}
		}
		add(c)
	}
	return cases
}

// metricName is the word a goal's name starts with.
func metricName(m measure.Metric) string {
	if m == measure.MetricRTO {
		return "RTO"
	}
	return "RPO"
}

func lostCase(s *Scenario) junitCase {
	r := &s.Result
	c := junitCase{Name: "no acknowledged write lost"}
	counted := r.LostCount - r.LostBeforeBackupCount // what RPO counts
	_, rpoWrites := targetText(s.Targets, measure.MetricRPOWrites)
	_, rpoTime := targetText(s.Targets, measure.MetricRPOTime)
	var promiseBroken string
	for _, b := range r.Verdict.Breaches {
		if measure.IsPromiseBreach(b) {
			promiseBroken = b
		}
	}
	switch {
	case r.LostBeforeBackupCount > 0:
		c.Failure = &junitOutcome{
			Message: fmt.Sprintf("bug: %d %s acknowledged before backup %s's cut %s missing after the restore",
				r.LostBeforeBackupCount, plural(r.LostBeforeBackupCount, "write", "writes"), r.RestoredBackup, plural(r.LostBeforeBackupCount, "is", "are")),
			Type: "bug",
			Text: fmt.Sprintf("missing (acked before the cut):\n%s\nexpected loss (acked after the cut): %d",
				strings.Join(r.LostBeforeBackup, "\n"), r.ExpectedLossCount),
		}
	case promiseBroken != "":
		// After the bug: a bug is worse, and its writes do not count
		// against the promise anyway.
		c.Failure = &junitOutcome{Message: promiseBroken, Type: "breach", Text: strings.Join(r.Lost, "\n")}
	case r.LostWritesAllowed != nil && counted > 0 && r.RestoredBackup == "":
		c.Skipped = &junitOutcome{Message: fmt.Sprintf("%d acknowledged %s lost, within the app's data-safety promise of at most %d", counted, plural(counted, "write", "writes"), *r.LostWritesAllowed)}
	case counted > 0 && r.RestoredBackup == "" && !rpoWrites && !rpoTime:
		c.Failure = &junitOutcome{
			Message: fmt.Sprintf("%d acknowledged %s lost, and no RPO target allows it", counted, plural(counted, "write", "writes")),
			Type:    "dataLoss",
			Text:    strings.Join(r.Lost, "\n"),
		}
	case counted > 0:
		why := "the RPO targets judge them"
		if r.RestoredBackup != "" {
			why = fmt.Sprintf("acked after backup %s's cut: the expected loss of a restore", r.RestoredBackup)
		}
		c.Skipped = &junitOutcome{Message: fmt.Sprintf("%d acknowledged %s lost; %s", counted, plural(counted, "write", "writes"), why)}
	}
	if c.Failure == nil && c.Skipped == nil {
		c.SystemOut = fmt.Sprintf("%d acked, all present in the final read", r.WritesAcked)
	}
	return c
}
