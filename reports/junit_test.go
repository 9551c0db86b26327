package reports_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/reports"
)

// The JUnit shape CI parsers read, decoded independently of the writer's
// own types.
type xmlOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type xmlCase struct {
	Classname string      `xml:"classname,attr"`
	Name      string      `xml:"name,attr"`
	Time      float64     `xml:"time,attr"`
	Failure   *xmlOutcome `xml:"failure"`
	Error     *xmlOutcome `xml:"error"`
	Skipped   *xmlOutcome `xml:"skipped"`
}

type xmlCounts struct {
	Tests    int     `xml:"tests,attr"`
	Failures int     `xml:"failures,attr"`
	Errors   int     `xml:"errors,attr"`
	Skipped  int     `xml:"skipped,attr"`
	Time     float64 `xml:"time,attr"`
}

type xmlSuite struct {
	xmlCounts
	Name      string    `xml:"name,attr"`
	Timestamp string    `xml:"timestamp,attr"`
	Cases     []xmlCase `xml:"testcase"`
}

type xmlSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	xmlCounts
	Suites []xmlSuite `xml:"testsuite"`
}

func parseJUnit(t *testing.T, run *reports.Run) xmlSuites {
	t.Helper()
	f, err := reports.New("junit")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	var doc xmlSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, b.String())
	}
	return doc
}

// countsOf counts outcomes from the testcases themselves, so the attributes
// are checked against what is really there.
func countsOf(cases []xmlCase) xmlCounts {
	var c xmlCounts
	for _, tc := range cases {
		c.Tests++
		switch {
		case tc.Failure != nil:
			c.Failures++
		case tc.Error != nil:
			c.Errors++
		case tc.Skipped != nil:
			c.Skipped++
		}
	}
	return c
}

func findCase(t *testing.T, s xmlSuite, classname, name string) xmlCase {
	t.Helper()
	for _, c := range s.Cases {
		if c.Classname == classname && c.Name == name {
			return c
		}
	}
	t.Fatalf("no testcase %s / %q", classname, name)
	return xmlCase{}
}

func TestJUnitCounts(t *testing.T) {
	t.Parallel()
	aborted := fixtureRun(t)
	aborted.Aborted, aborted.AbortReason = true, "SIGINT"
	aborted.CleanupIncomplete = []string{"node-stop lab-1a-1"}

	tests := []struct {
		name string
		run  *reports.Run
		want xmlCounts // Time is not compared here
	}{
		// pass: 5 tests, 1 skipped; not restored: 3, 2 failures, 1
		// skipped; restore with a bug: 5, 1 failure, 1 skipped; error: 4,
		// 1 error, 3 skipped.
		{"fixture", fixtureRun(t), xmlCounts{Tests: 17, Failures: 3, Errors: 1, Skipped: 6}},
		{"aborted, cleanup incomplete", aborted, xmlCounts{Tests: 19, Failures: 3, Errors: 3, Skipped: 6}},
		{"no scenario", &reports.Run{ID: "empty", StartedAt: runStart, FinishedAt: runEnd}, xmlCounts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := parseJUnit(t, tt.run)
			if len(doc.Suites) != 1 {
				t.Fatalf("%d testsuites, want one per run", len(doc.Suites))
			}
			s := doc.Suites[0]
			got := s.xmlCounts
			got.Time = 0
			if got != tt.want {
				t.Errorf("testsuite counts %+v, want %+v", got, tt.want)
			}
			if c := countsOf(s.Cases); c != tt.want {
				t.Errorf("testcases hold %+v, want %+v", c, tt.want)
			}
			root := doc.xmlCounts
			root.Time = 0
			if root != tt.want {
				t.Errorf("testsuites counts %+v, want %+v", root, tt.want)
			}
			if want := tt.run.FinishedAt.Sub(tt.run.StartedAt).Seconds(); s.Time != want {
				t.Errorf("suite time %v s, want the run's %v s", s.Time, want)
			}
		})
	}
}

func TestJUnitCases(t *testing.T) {
	t.Parallel()
	s := parseJUnit(t, fixtureRun(t)).Suites[0]

	var sum float64
	for _, c := range s.Cases {
		sum += c.Time
	}
	if want := (3*60 + 12) + (6*60 + 40) + (9*60 + 5) + 12.0; sum != want {
		t.Errorf("testcase times add up to %v s, want the scenarios' %v s", sum, want)
	}

	tests := []struct {
		classname, name string
		outcome         string // "", failure, error or skipped
		contains        string // in the outcome's message or text
	}{
		{"etcd-node-stop", "RTO ≤ 60s", "", ""},
		{"etcd-node-stop", "RPO ≤ 0 writes", "", ""},
		{"etcd-node-stop", "RPO time (no target)", "skipped", "measured 0s"},
		{"etcd-node-stop", "no acknowledged write lost", "", ""},
		{"etcd-node-stop", "no unexpected write", "", ""},
		{"etcd-zone-freeze", "RTO ≤ 2m", "failure", "not restored"},
		{"etcd-zone-freeze", "RPO ≤ 0 writes", "failure", "data not checked"},
		{"etcd-delete-keys", "RTO ≤ 5m", "", ""},
		{"etcd-delete-keys", "RPO ≤ 15m", "", ""},
		{"etcd-delete-keys", "no acknowledged write lost", "failure", "w00100"},
		{"etcd-disk-fill", "scenario ran", "error", "IOChaos CRD not installed"},
		{"etcd-disk-fill", "RTO ≤ 60s", "skipped", "could not run"},
	}
	for _, tt := range tests {
		c := findCase(t, s, tt.classname, tt.name)
		outcomes := map[string]*xmlOutcome{"failure": c.Failure, "error": c.Error, "skipped": c.Skipped}
		for kind, o := range outcomes {
			if (o != nil) != (kind == tt.outcome) {
				t.Errorf("%s / %q: <%s> present = %v, want outcome %q", tt.classname, tt.name, kind, o != nil, tt.outcome)
			}
		}
		if o := outcomes[tt.outcome]; o != nil && !strings.Contains(o.Message+"\n"+o.Text, tt.contains) {
			t.Errorf("%s / %q: <%s> says %q / %q, want it to mention %q", tt.classname, tt.name, tt.outcome, o.Message, o.Text, tt.contains)
		}
	}
}

// TestJUnitDataLoss covers how lost writes map to testcases when the
// targets do or do not speak about them.
func TestJUnitDataLoss(t *testing.T) {
	t.Parallel()
	lossy := func(targets func(*reports.Scenario)) *reports.Run {
		sc := passScenario()
		r := &sc.Result
		r.Lost, r.LostCount, r.DataSafe = []string{"w00007", "w00008"}, 2, false
		r.RPOWrites = new(2)
		targets(&sc)
		r.Verdict = judgeOf(sc)
		run := &reports.Run{ID: "loss", StartedAt: runStart, Scenarios: []reports.Scenario{sc}}
		if err := run.Finalize(runEnd); err != nil {
			t.Fatal(err)
		}
		return run
	}
	tests := []struct {
		name    string
		targets func(*reports.Scenario)
		outcome string
	}{
		{"no RPO target: nobody allowed the loss", func(s *reports.Scenario) { s.Targets.RPOWrites = nil }, "failure"},
		{"an RPO target allows it", func(s *reports.Scenario) { s.Targets.RPOWrites = new(5) }, "skipped"},
		{"an RPO target forbids it: the RPO case fails, this one says why", func(s *reports.Scenario) {}, "skipped"},
		{"the app's promise forbids it, whatever the targets", func(s *reports.Scenario) {
			s.Targets.RPOWrites = new(5)
			s.Result.LostWritesAllowed = new(0)
		}, "failure"},
		{"the app's promise allows it and no target is set", func(s *reports.Scenario) {
			s.Targets.RPOWrites = nil
			s.Result.LostWritesAllowed = new(2)
		}, "skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := findCase(t, parseJUnit(t, lossy(tt.targets)).Suites[0], "etcd-node-stop", "no acknowledged write lost")
			got := ""
			switch {
			case c.Failure != nil:
				got = "failure"
			case c.Error != nil:
				got = "error"
			case c.Skipped != nil:
				got = "skipped"
			}
			if got != tt.outcome {
				t.Errorf("outcome %q, want %q", got, tt.outcome)
			}
		})
	}
}
