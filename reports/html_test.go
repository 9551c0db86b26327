package reports_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

var htmlDir = flag.String("html-dir", "", "also write the fixture's, the default game day's and the 50-scenario run's report.html into this folder (for bench/html-report.sh)")

func renderHTML(t testing.TB, run *reports.Run) []byte {
	t.Helper()
	f, err := reports.New("html")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// node is a parsed HTML element, with helpers to find others under it.
type node struct{ *html.Node }

func parseHTML(t testing.TB, r io.Reader) node {
	t.Helper()
	doc, err := html.Parse(r)
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return node{doc}
}

func (n node) attr(key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// all returns every element under n for which match holds, in document
// order.
func (n node) all(match func(node) bool) []node {
	var out []node
	var walk func(*html.Node)
	walk = func(h *html.Node) {
		for c := h.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && match(node{c}) {
				out = append(out, node{c})
			}
			walk(c)
		}
	}
	walk(n.Node)
	return out
}

// has matches elements carrying attribute key (with value val, unless val
// is "").
func has(key, val string) func(node) bool {
	return func(n node) bool {
		v, ok := n.attr(key)
		return ok && (val == "" || v == val)
	}
}

// classed matches elements whose class list holds class.
func classed(class string) func(node) bool {
	return func(n node) bool {
		v, _ := n.attr("class")
		return strings.Contains(" "+v+" ", " "+class+" ")
	}
}

func (n node) text() string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(h *html.Node) {
		if h.Type == html.TextNode {
			b.WriteString(h.Data)
		}
		for c := h.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n.Node)
	return b.String()
}

// checkTimelines checks the structure the browser test checks too: one
// section per scenario, and for each that ran an SVG timeline with every
// lane and the T0 and observation-end markers; it returns the sections by
// scenario name.
func checkTimelines(t *testing.T, doc node, run *reports.Run) map[string]node {
	t.Helper()
	sections := map[string]node{}
	for _, sec := range doc.all(has("data-scenario", "")) {
		name, _ := sec.attr("data-scenario")
		sections[name] = sec
	}
	if len(sections) != len(run.Scenarios) {
		t.Errorf("page has %d scenario sections, want %d", len(sections), len(run.Scenarios))
	}
	for _, sc := range run.Scenarios {
		sec, ok := sections[sc.Name]
		if !ok {
			t.Errorf("no section for scenario %q", sc.Name)
			continue
		}
		if status, _ := sec.attr("data-status"); status != string(sc.Status()) {
			t.Errorf("%s: data-status %q, want %q", sc.Name, status, sc.Status())
		}
		svgs := sec.all(has("data-timeline", ""))
		if sc.Error != "" && len(sc.Events) == 0 && len(sc.Probes) == 0 {
			if len(svgs) != 0 {
				t.Errorf("%s could not run and recorded nothing, yet has a timeline", sc.Name)
			}
			continue
		}
		if len(svgs) != 1 {
			t.Errorf("%s: %d timelines, want 1", sc.Name, len(svgs))
			continue
		}
		svg := svgs[0]
		for _, l := range []string{"probes", "outages", "service", "backup", "writes", "events"} {
			if len(svg.all(has("data-lane", l))) != 1 {
				t.Errorf("%s: timeline has no %q lane", sc.Name, l)
			}
		}
		if len(svg.all(has("data-axis", ""))) != 1 {
			t.Errorf("%s: timeline has no axis", sc.Name)
		}
		for _, m := range []string{"t0", "end"} {
			if len(svg.all(has("data-marker", m))) == 0 {
				t.Errorf("%s: timeline has no %q marker", sc.Name, m)
			}
		}
	}
	return sections
}

// count is how many elements under n carry class.
func count(n node, class string) int { return len(n.all(classed(class))) }

// TestHTMLDrawsTheFixture reads the fixture's page as a browser would parse
// it and checks that each scenario's timeline draws what happened to it.
func TestHTMLDrawsTheFixture(t *testing.T) {
	t.Parallel()
	run := fixtureRun(t)
	doc := parseHTML(t, bytes.NewReader(renderHTML(t, run)))
	sec := checkTimelines(t, doc, run)

	pass := sec["etcd-node-stop"]
	for class, want := range map[string]int{
		"probe-fail": 2, // two outages, each a block of failed probes
		"outage":     2,
		"rto":        1,
		"full-mark":  1,
		"restore":    0,
		"w-lost":     0,
	} {
		if got := count(pass, class); got != want {
			t.Errorf("etcd-node-stop: %d %q elements, want %d", got, class, want)
		}
	}
	for _, m := range []string{"svc", "full", "recovered"} {
		if len(pass.all(has("data-marker", m))) != 1 {
			t.Errorf("etcd-node-stop: no %q marker", m)
		}
	}

	frozen := sec["etcd-zone-freeze"]
	if count(frozen, "open") != 2 { // the open outage and the RTO bar that never ends
		t.Errorf("etcd-zone-freeze: %d open bars, want the outage and the RTO", count(frozen, "open"))
	}
	if len(frozen.all(has("data-marker", "svc"))) != 0 {
		t.Error("etcd-zone-freeze was not restored, yet has a T_svc marker")
	}

	restore := sec["etcd-delete-keys"]
	if count(restore, "restore") != 1 || count(restore, "cut-mark") != 1 || len(restore.all(has("data-marker", "cut"))) != 1 {
		t.Error("etcd-delete-keys: restore window or backup cut missing")
	}
	if count(restore, "w-bug") != 1 {
		t.Errorf("etcd-delete-keys: %d bug marks, want the one write lost before the cut", count(restore, "w-bug"))
	}
	if count(restore, "w-expected") == 0 || count(restore, "w-lost") != 0 {
		t.Errorf("etcd-delete-keys: %d expected-loss marks and %d plain lost marks, want some and none",
			count(restore, "w-expected"), count(restore, "w-lost"))
	}
	// Every lost write is named in the page's text, with its ack time.
	txt := restore.text()
	for _, id := range restoreScenario().Result.Lost[:10] {
		if !strings.Contains(txt, id) {
			t.Errorf("etcd-delete-keys: lost write %s is not named", id)
		}
	}
	if !strings.Contains(txt, "T0−4m10s") {
		t.Error("etcd-delete-keys: the bug write's ack time T0−4m10s is not shown")
	}

	errSec := sec["etcd-disk-fill"]
	if !strings.Contains(errSec.text(), "Chaos Mesh IOChaos CRD not installed") {
		t.Error("etcd-disk-fill: the error is not shown")
	}

	// The ladder: one rail per disruption type, the achieved rung named.
	rails := doc.all(has("data-rail", ""))
	if len(rails) != len(run.Achieved) {
		t.Fatalf("%d ladder rails, want %d", len(rails), len(run.Achieved))
	}
	for i, a := range run.Achieved {
		if v, _ := rails[i].attr("data-rail"); v != string(a.Disruption) {
			t.Errorf("rail %d is %q, want %q", i, v, a.Disruption)
		}
		met := count(rails[i], "met")
		if met != a.Level {
			t.Errorf("rail %s: %d rungs drawn met, want %d", a.Disruption, met, a.Level)
		}
	}
}

// abortedScenario: a node stop aborted by abort.maxLostWrites; the runner
// rolled the fault back. Four writes acked before the fault are gone beyond
// the promise, and the final read found one id never written.
func abortedScenario() reports.Scenario {
	t := measure.Targets{RTO: new(60 * s)}
	lost := []string{"w00010", "w00011", "w00012", "w00013"}
	r := measure.Result{
		ServiceRestored: true, RTO: millis(9 * s), RTOResolution: measure.Millis(100 * ms),
		StabilityWindow: measure.Millis(10 * s), Observed: measure.Millis(20 * s),
		Outages: []measure.Outage{{Start: 1 * s, End: 9 * s}}, TimeToImpact: millis(s), Downtime: measure.Millis(8 * s),
		Probes: 200, FailedProbes: 80, ErrorRate: 0.4,
		RedundancyRestored: true, TimeToFullRedundancy: millis(12 * s),
		DataChecked: true, WritesInvoked: 40, WritesAcked: 30, IDsRead: 27,
		Lost: lost, LostCount: 4, LostWrites: lostWrites(lost, -3*s),
		Unexpected: []string{"w99999"}, UnexpectedCount: 1, Recovered: []string{},
		ExpectedLoss: []string{}, LostBeforeBackup: []string{},
		RPOWrites: new(4), RPO: millis(3 * s), LostWritesAllowed: new(0), PromiseWhy: "synchronous replication",
	}
	r.Verdict = measure.Judge(r, t)
	return reports.Scenario{
		Name: "pg-node-stop <aborted>", Disruption: "node", Fault: "node-stop", Recovery: "self-heal",
		Target: "postgres in demo", StartedAt: runStart, Duration: measure.Millis(40 * s), Targets: t, Result: r,
		Events: []measure.Event{
			{At: 10 * s, Kind: measure.FaultApplied, Detail: "stop node lab-2"},
			{At: 14 * s, Kind: measure.Aborted, Detail: "abort.maxLostWrites: 4 > 3"},
			{At: 15 * s, Kind: measure.RolledBack, Detail: "start node lab-2"},
			{At: 16 * s, Kind: measure.Mark, Detail: "operator looked"},
			{At: 17 * s, Kind: "someFutureKind", Detail: "a kind this version does not know"},
			{At: 30 * s, Kind: measure.ObservationEnded, Detail: "one stability window after the fault was over"},
		},
		Probes: probeTrack(0, 30*s, [2]time.Duration{11 * s, 19 * s}),
	}
}

func TestHTMLDrawsAbortRollbackAndUnexpectedWrites(t *testing.T) {
	t.Parallel()
	run := finalRun(t, abortedScenario())
	run.Aborted, run.AbortReason = true, "abort.maxLostWrites"
	page := renderHTML(t, run)
	doc := parseHTML(t, bytes.NewReader(page))
	sec := checkTimelines(t, doc, run)["pg-node-stop <aborted>"]
	for _, m := range []string{"aborted", "rolledback"} {
		if len(sec.all(has("data-marker", m))) != 1 {
			t.Errorf("no %q marker", m)
		}
	}
	if got := count(sec, "w-lost"); got == 0 {
		t.Error("lost writes counted against the promise are not drawn")
	}
	if got := count(sec, "w-unexpected"); got != 1 {
		t.Errorf("%d unexpected-write marks, want 1", got)
	}
	if got := count(sec, "event"); got != 2 {
		t.Errorf("%d generic event ticks, want 2 (the mark and the unknown kind)", got)
	}
	if len(doc.all(has("data-aborted", ""))) != 1 {
		t.Error("the run's abort is not shown at the top")
	}
	text := sec.text()
	for _, want := range []string{measure.BrokenPromise, "w00010 acked at T0-3s", "w99999", "abort.maxLostWrites: 4 > 3", "someFutureKind"} {
		if !strings.Contains(text, want) {
			t.Errorf("section does not say %q", want)
		}
	}
	// The name is text, never markup.
	if bytes.Contains(page, []byte("<aborted>")) {
		t.Error("a scenario name reached the page unescaped")
	}
}

// TestHTMLIsSelfContained: the page must open offline and from a ticket:
// nothing it needs may come from elsewhere.
func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	page := string(renderHTML(t, fixtureRun(t)))
	for _, re := range []string{`(?i)<link\b`, `(?i)\bsrc\s*=`, `(?i)@import`, `(?i)url\(\s*['"]?(https?:|//)`, `(?i)(href|xlink:href)\s*=\s*['"]?(https?:|//)`, `(?i)\bfetch\(|XMLHttpRequest`} {
		if loc := regexp.MustCompile(re).FindStringIndex(page); loc != nil {
			t.Errorf("page refers outside itself (%s): %q", re, page[max(0, loc[0]-40):min(len(page), loc[1]+40)])
		}
	}
	if !strings.Contains(page, "@media print") {
		t.Error("no print styles")
	}
}

// TestHTMLColourNeverAlone: every verdict badge carries its word and a
// symbol, so the page reads the same without colour.
func TestHTMLColourNeverAlone(t *testing.T) {
	t.Parallel()
	doc := parseHTML(t, bytes.NewReader(renderHTML(t, fixtureRun(t))))
	badges := doc.all(classed("badge"))
	if len(badges) != 8 { // one per row of the table, one per section
		t.Fatalf("%d badges, want 8", len(badges))
	}
	for _, b := range badges {
		txt := b.text()
		ok := false
		for _, w := range []string{"✓ PASS", "✗ BREACH", "‼ BUG", "! ERROR"} {
			ok = ok || txt == w
		}
		if !ok {
			t.Errorf("badge %q is not a symbol and a word", txt)
		}
	}
}

// bigRun is a 50-scenario game day: ten of each of five shapes, among them
// probes flapping every 100 ms for a minute and a restore that loses 500
// writes, each scenario probed every 100 ms for ten minutes.
func bigRun(t testing.TB) *reports.Run {
	t.Helper()
	run := &reports.Run{ID: "50-scenarios", StartedAt: runStart, Cluster: "lab", Ladder: "default"}
	var results []measure.ScenarioResult
	for i := range 50 {
		var sc reports.Scenario
		switch i % 5 {
		case 0:
			sc = passScenario()
		case 1:
			sc = notRestoredScenario()
		case 2:
			sc = restoreScenario()
			lost := ids("w", 500)
			r := &sc.Result
			r.Lost, r.LostCount, r.LostWrites = lost, len(lost), lostWrites(lost, -4*time.Minute-10*s)
			for j := range r.LostWrites {
				r.LostWrites[j].Acked = measure.Millis(-4*time.Minute - 10*s + time.Duration(j)*500*ms)
			}
			r.ExpectedLoss, r.ExpectedLossCount = lost[1:], len(lost)-1
			r.LostBeforeBackup, r.LostBeforeBackupCount = lost[:1], 1
		case 3:
			sc = flappingScenario()
		case 4:
			sc = abortedScenario()
		}
		sc.Name = fmt.Sprintf("%02d-%s", i+1, sc.Name)
		sc.Probes = probeTrack(0, 10*time.Minute, [2]time.Duration{30 * s, 60 * s})
		if i%5 == 3 {
			sc.Probes = flappingScenario().Probes
		}
		results = append(results, measure.ScenarioResult{Name: sc.Name, Disruption: measure.DisruptionType(sc.Disruption), Result: sc.Result})
		run.Scenarios = append(run.Scenarios, sc)
	}
	run.Achieved = measure.AchievedRungs(ladder, results)
	if err := run.Finalize(runEnd); err != nil {
		t.Fatal(err)
	}
	return run
}

// flappingScenario: a zone partition during which probes alternate between
// success and failure every 100 ms for a minute: 600 spans to draw.
func flappingScenario() reports.Scenario {
	sc := passScenario()
	sc.Name, sc.Disruption, sc.Fault = "etcd-zone-partition", "zone", "zone-partition"
	var samples []measure.ProbeSample
	for at := time.Duration(0); at < 10*time.Minute; at += 100 * ms {
		ok := at < 30*s || at >= 90*s || (at/(100*ms))%2 == 0
		samples = append(samples, measure.ProbeSample{Start: at, End: at + 5*ms, OK: ok})
	}
	sc.Probes = reports.ProbeSpans(samples)
	return sc
}

// TestHTMLStaysSmall: a 50-scenario run, flapping probes and hundreds of
// lost writes included, stays under 2 MiB, and the fixture's page is small.
func TestHTMLStaysSmall(t *testing.T) {
	t.Parallel()
	const limit = 2 << 20
	big := bigRun(t)
	page := renderHTML(t, big)
	if len(page) > limit {
		t.Errorf("report.html of a 50-scenario run is %d bytes, want at most %d", len(page), limit)
	}
	// Drawing stays whole while it shrinks: every scenario's timeline.
	checkTimelines(t, parseHTML(t, bytes.NewReader(page)), big)
	fixture := renderHTML(t, fixtureRun(t))
	gd := gamedayRun(t)
	gameday := renderHTML(t, gd)
	checkTimelines(t, parseHTML(t, bytes.NewReader(gameday)), gd)
	if len(gameday) > limit {
		t.Errorf("report.html of the default game day is %d bytes, want at most %d", len(gameday), limit)
	}
	t.Logf("report.html: fixture %d bytes, default game day %d bytes, 50 scenarios %d bytes", len(fixture), len(gameday), len(page))
	if *htmlDir != "" {
		for name, b := range map[string][]byte{"fixture.html": fixture, "gameday.html": gameday, "run50.html": page} {
			if err := os.WriteFile(filepath.Join(*htmlDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// gamedayRun is the report.json of a real default game day on the lab
// (`make gameday`: four scenarios, the etcd demo app), read back.
func gamedayRun(t testing.TB) *reports.Run {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "gameday-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatalf("testdata/gameday-report.json: %v", err)
	}
	return run
}

// BenchmarkHTML is the Go side of report.html: rendering the default game
// day's and a 50-scenario run's page (bytes/page is the file's size).
// bench/html-report.sh runs it beside the time Chromium takes to load them.
func BenchmarkHTML(b *testing.B) {
	for _, bb := range []struct {
		name string
		run  *reports.Run
	}{
		{"gameday", gamedayRun(b)},
		{"50-scenarios", bigRun(b)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			f, _ := reports.New("html")
			var size int
			for b.Loop() {
				var buf bytes.Buffer
				if err := f.Write(&buf, bb.run); err != nil {
					b.Fatal(err)
				}
				size = buf.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}

// A scenario on two clusters (a region loss restored into a DR region)
// draws a lane per cluster with the events of each.
func TestHTMLDrawsALanePerCluster(t *testing.T) {
	t.Parallel()
	sc := abortedScenario()
	sc.Name = "region-loss"
	sc.Events = []measure.Event{
		{At: 10 * s, Kind: measure.FaultApplied, Detail: "stop every node of lab main", Cluster: "lab main"},
		{At: 11 * s, Kind: measure.RecoveryStarted, Detail: "restore b1 into demo of lab dr", Cluster: "lab dr"},
		{At: 16 * s, Kind: measure.RecoveryFinished, Detail: "restore b1 into demo of lab dr", Cluster: "lab dr"},
		{At: 30 * s, Kind: measure.ObservationEnded, Detail: "over"},
		{At: 31 * s, Kind: measure.Mark, Detail: "deleted the DR copy", Cluster: "lab dr"},
	}
	run := finalRun(t, sc)
	doc := parseHTML(t, bytes.NewReader(renderHTML(t, run)))
	sec := checkTimelines(t, doc, run)["region-loss"]
	for cluster, ticks := range map[string]int{"lab main": 1, "lab dr": 3} {
		lane := sec.all(has("data-lane", "cluster:"+cluster))
		if len(lane) != 1 {
			t.Errorf("%d lanes for cluster %q, want 1", len(lane), cluster)
			continue
		}
		if got := count(lane[0], "event"); got != ticks {
			t.Errorf("lane of %q: %d event ticks, want %d", cluster, got, ticks)
		}
	}
	if !strings.Contains(sec.text(), "lab dr: recoveryStarted") {
		t.Errorf("the moments list does not say which cluster the restore ran in")
	}
}
