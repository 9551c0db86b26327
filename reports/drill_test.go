package reports_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

// drillScenario is a restore drill whose checksum check failed: the copy
// serves, but its data differs from what the backup recorded.
func drillScenario() reports.Scenario {
	checks := []reports.DrillCheck{
		{Name: "integrity", Status: reports.DrillVerified, Detail: "every object of backup 1a2b3c4d read"},
		{Name: "restore", Status: reports.DrillVerified, Detail: "restored into rebound-drill-0a1b2c"},
		{Name: "health", Status: reports.DrillVerified, Detail: "3/3 members healthy"},
		{Name: "probe-ids", Status: reports.DrillNotMade, Detail: "no probe ids recorded in this backup: id check not made"},
		{Name: "checksum", Status: reports.DrillFailed, Detail: "the copy's data differs from the backup's: every key, recorded 120 records"},
	}
	res := measure.Result{
		ServiceRestored: true, RedundancyRestored: true, TimeToFullRedundancy: millis(19 * s), Observed: measure.Millis(21 * s),
		RestoredBackup: "1a2b3c4d", BugCheck: "not made: no probe ids recorded in this backup: id check not made",
		Verdict: measure.Verdict{Bug: true, Breaches: []string{"drill checksum check failed: " + checks[4].Detail}},
	}
	return reports.Scenario{
		Name: "drill-1a2b3c4d", Disruption: "restore-drill", Fault: "none", Recovery: "restore",
		Target: "rebound-demo/app=etcd (etcd) → rebound-drill-0a1b2c", StartedAt: runStart, Duration: measure.Millis(40 * s),
		Notes:  []string{"checksum FAILED: the copy's data differs"},
		Result: res,
		Events: []measure.Event{
			{At: 2 * s, Kind: measure.RecoveryStarted, Detail: "drill: verify and restore backup 1a2b3c4d"},
			{At: 19 * s, Kind: measure.RecoveryFinished, Detail: "restore finished"},
			{At: 21 * s, Kind: measure.Mark, Detail: "checksum failed"},
		},
		Drill: &reports.Drill{
			Backup: "1a2b3c4d" + strings.Repeat("0", 56), Cut: runStart.Add(-time30m), SourceNamespace: "rebound-demo",
			Namespace: "rebound-drill-0a1b2c", Cluster: "lab", Restore: measure.Millis(17 * s), Checks: checks, Created: true, Deleted: true,
		},
	}
}

const time30m = 30 * 60 * s

func TestDrillReport(t *testing.T) {
	t.Parallel()
	run := finalRun(t, drillScenario())
	if got := run.Scenarios[0].Status(); got != reports.StatusBug {
		t.Errorf("status %s, want BUG for a checksum mismatch", got)
	}

	doc := reportJSON(t, run)
	if err := validate(t, compileSchema(t), doc); err != nil {
		t.Errorf("a drill's report does not validate: %v\n%s", err, doc)
	}
	bad := bytes.Replace(doc, []byte(`"status": "not-made"`), []byte(`"status": "maybe"`), 1)
	if bytes.Equal(bad, doc) {
		t.Fatal("the report JSON has no not-made check to spoil")
	}
	if err := validate(t, compileSchema(t), bad); err == nil {
		t.Error("the schema accepted a drill check with status maybe")
	}
	back, err := reports.ReadJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	d := back.Scenarios[0].Drill
	if d == nil || len(d.Checks) != 5 || d.Checks[4].Status != reports.DrillFailed || d.TimeToVerified != nil || !d.Deleted {
		t.Errorf("drill after a JSON round trip: %+v", d)
	}
	if fault := reportJSON(t, finalRun(t, passScenario())); bytes.Contains(fault, []byte(`"drill"`)) {
		t.Error("a fault scenario's JSON has a drill key")
	}

	render := func(format string) string {
		f, err := reports.New(format)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := f.Write(&b, run); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.String()
	}
	junit := render("junit")
	for _, want := range []string{`name="drill: checksum"`, `type="drillFailed"`, `name="drill: probe-ids"`, "not checked: no probe ids recorded", `name="drill: health"`} {
		if !strings.Contains(junit, want) {
			t.Errorf("JUnit lacks %q:\n%s", want, junit)
		}
	}
	html := render("html")
	if !strings.Contains(html, "T0 restore started") || !strings.Contains(html, "T0, the start of the drill&#39;s restore") || strings.Contains(html, "T0 fault applied") {
		t.Error("HTML: a drill's T0 is the restore's start, not a fault")
	}
	for _, format := range []string{"table", "html"} {
		out := render(format)
		if !strings.Contains(out, "drill: backup 1a2b3c4d (from the repository") || !strings.Contains(out, "restored into rebound-drill-0a1b2c on lab") ||
			!strings.Contains(out, "scratch namespace deleted") || strings.Contains(out, "outages: none") {
			t.Errorf("%s: a drill's details are its restore and checks, not a fault's outages and writes:\n%s", format, out)
		}
	}
	for _, format := range []string{"markdown", "table"} {
		if out := render(format); !strings.Contains(out, "checksum FAILED") && !strings.Contains(out, "checksum check failed") {
			t.Errorf("%s does not say the checksum check failed:\n%s", format, out)
		}
	}
}

func TestFinalizeRejectsUnknownDrillStatus(t *testing.T) {
	t.Parallel()
	sc := drillScenario()
	sc.Drill.Checks[0].Status = "maybe"
	run := &reports.Run{ID: "r", StartedAt: runStart, Scenarios: []reports.Scenario{sc}}
	if err := run.Finalize(runEnd); !errors.Is(err, reports.ErrInvalidRun) || !strings.Contains(err.Error(), "drill.checks[0].status") {
		t.Errorf("Finalize with an unknown drill status: %v", err)
	}
}
