package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/reboundhq/rebound/measure"
)

// The timeline's drawing area, in SVG user units. The SVG scales to the
// page's width, so these fix proportions, not pixels.
const (
	svgWidth   = 1000.0
	plotLeft   = 118.0 // lane labels sit left of it
	plotRight  = 988.0
	labelRow   = 13.0 // one row of marker labels
	labelRows  = 4    // marker labels stagger over this many rows
	laneGap    = 4.0
	axisHeight = 22.0
	// bucket is how close (in user units) two marks of one kind may be
	// before they are drawn as one: a 50-scenario run of flapping probes
	// must still fit in a file a ticket system accepts.
	bucket = 1.5
)

// lane is one horizontal band of the timeline.
type lane struct {
	key, label string
	height     float64
	y          float64 // set by layout
}

// marker is a vertical line across every lane at one instant.
type marker struct {
	at           time.Duration // on the scenario's timeline
	class, label string
	title        string
}

// timeline lays out one scenario's SVG. Instants are on the scenario's
// timeline (from Scenario.StartedAt); measure's numbers, which count from
// T0, are moved onto it by adding T0.
type timeline struct {
	s       *Scenario
	t0      time.Duration
	hasT0   bool
	lo, hi  time.Duration
	lanes   []lane
	markers []marker
}

func newTimeline(s *Scenario) *timeline {
	tl := &timeline{s: s}
	for _, e := range s.Events {
		if e.Kind == t0Kind(s) {
			tl.t0, tl.hasT0 = e.At, true
			break
		}
	}
	tl.collectMarkers()
	tl.domain()
	tl.lanes = []lane{
		{key: "probes", label: "probes", height: 26},
		{key: "outages", label: "outages", height: 20},
		{key: "service", label: "RTO · T_full", height: 20},
		{key: "backup", label: "backup · restore", height: 20},
		{key: "writes", label: "lost writes", height: 20},
		{key: "events", label: "other events", height: 16},
	}
	// A scenario on two clusters (a DR region) gets a lane per cluster,
	// ticking what happened in each: the fault in one, the restore in the
	// other.
	for _, c := range eventClusters(s.Events) {
		tl.lanes = append(tl.lanes, lane{key: "cluster:" + c, label: c, height: 16})
	}
	y := labelRow*labelRows + 4
	for i := range tl.lanes {
		tl.lanes[i].y = y
		y += tl.lanes[i].height + laneGap
	}
	return tl
}

// drawable reports whether there is anything to draw: a scenario that
// could not run often has neither events nor probes.
func (tl *timeline) drawable() bool { return len(tl.s.Events) > 0 || len(tl.s.Probes) > 0 }

// measured reports whether the Result's numbers can be placed: they count
// from T0, and a scenario in ERROR has no Result.
func (tl *timeline) measured() bool { return tl.hasT0 && tl.s.Error == "" }

func (tl *timeline) fromT0(d time.Duration) time.Duration { return tl.t0 + d }

// t0Kind is the event whose first instance is T0: the fault applied, or
// for a restore drill, which has no fault, the restore's start.
func t0Kind(s *Scenario) measure.EventKind {
	if s.Drill != nil {
		return measure.RecoveryStarted
	}
	return measure.FaultApplied
}

func (tl *timeline) collectMarkers() {
	s, r := tl.s, &tl.s.Result
	t0Seen, endSeen := false, false
	for _, e := range s.Events {
		m := marker{at: e.At, title: eventTitle(e)}
		if s.Drill != nil && e.Kind == measure.RecoveryStarted && !t0Seen {
			m.class, m.label = "t0", "T0 restore started"
			t0Seen = true
			tl.markers = append(tl.markers, m)
			continue
		}
		switch e.Kind {
		case measure.FaultApplied:
			m.class, m.label = "t0", "fault applied"
			if !t0Seen {
				m.label = "T0 fault applied"
			}
			t0Seen = true
		case measure.FaultRecovered:
			m.class, m.label = "recovered", "fault recovered"
		case measure.ObservationEnded:
			m.class, m.label = "end", "observation end"
			endSeen = true
		case measure.Aborted:
			m.class, m.label = "aborted", "⚠ aborted"
		case measure.RolledBack:
			m.class, m.label = "rolledback", "↶ rolled back"
		case measure.BackupTaken:
			if e.CutUnknown == "" {
				tl.markers = append(tl.markers, marker{at: e.Cut, class: "cut", label: "cut " + e.Detail,
					title: fmt.Sprintf("backup %s: consistent cut; writes acked before it must survive a restore", e.Detail)})
			}
			continue
		default:
			continue
		}
		tl.markers = append(tl.markers, m)
	}
	if !tl.measured() {
		return
	}
	if !endSeen { // the last probe counted says when observation ended
		tl.markers = append(tl.markers, marker{at: tl.fromT0(r.Observed.Duration()), class: "end", label: "observation end",
			title: "observation ended: the last probe counted completed " + HumanDuration(r.Observed.Duration()) + " after T0"})
	}
	if r.RTO != nil {
		tl.markers = append(tl.markers, marker{at: tl.fromT0(r.RTO.Duration()), class: "svc",
			label: "T_svc RTO " + HumanDuration(r.RTO.Duration()),
			title: "T_svc: service back (end of the last outage); RTO " + withResolution(*r.RTO, r.RTOResolution)})
	}
	if r.TimeToFullRedundancy != nil {
		tl.markers = append(tl.markers, marker{at: tl.fromT0(r.TimeToFullRedundancy.Duration()), class: "full",
			label: "T_full " + HumanDuration(r.TimeToFullRedundancy.Duration()),
			title: "T_full: full redundancy back; time to full redundancy " + withResolution(*r.TimeToFullRedundancy, r.FullRedundancyResolution)})
	}
}

// eventTitle is an event in words, for a tooltip and the moments list.
func eventTitle(e measure.Event) string {
	s := string(e.Kind)
	if e.Cluster != "" {
		s = e.Cluster + ": " + s
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Kind == measure.BackupTaken {
		if e.CutUnknown != "" {
			s += " (cut unknown: " + e.CutUnknown + ")"
		} else {
			s += " (finished; cut at " + HumanDuration(e.Cut) + " on the scenario's clock)"
		}
	}
	return s
}

// domain is the span of time the timeline shows: everything that happened,
// from the scenario's start (or earlier, for a cut or an acknowledgement
// before it) to the last thing known.
func (tl *timeline) domain() {
	s, r := tl.s, &tl.s.Result
	lo, hi := time.Duration(0), time.Duration(0)
	see := func(d time.Duration) { lo, hi = min(lo, d), max(hi, d) }
	for _, m := range tl.markers {
		see(m.at)
	}
	for _, e := range s.Events {
		see(e.At)
	}
	for _, p := range s.Probes {
		see(p.Start.Duration())
		see(p.End.Duration())
	}
	if tl.measured() {
		see(tl.fromT0(r.Observed.Duration()))
		for _, w := range r.LostWrites {
			see(tl.fromT0(w.Acked.Duration()))
		}
		for _, o := range r.Outages {
			see(tl.fromT0(o.Start))
			see(tl.fromT0(o.End))
		}
		if t := s.Targets.RTO; t != nil && *t <= 2*max(r.Observed.Duration(), time.Second) {
			see(tl.fromT0(*t)) // a target far past the run would squeeze it flat
		}
	}
	if hi <= lo {
		hi = lo + time.Second
	}
	tl.lo, tl.hi = lo, hi
}

func (tl *timeline) x(d time.Duration) float64 {
	return plotLeft + float64(d-tl.lo)/float64(tl.hi-tl.lo)*(plotRight-plotLeft)
}

func (tl *timeline) height() float64 {
	last := tl.lanes[len(tl.lanes)-1]
	return last.y + last.height + axisHeight
}

func (tl *timeline) lane(key string) lane {
	for _, l := range tl.lanes {
		if l.key == key {
			return l
		}
	}
	panic("no lane " + key)
}

// at is an instant in words, from T0 when there is one: "T0", "T0+4.2s",
// "T0-4m10s"; otherwise from the scenario's start.
func (tl *timeline) at(d time.Duration) string {
	if !tl.hasT0 {
		return "start+" + HumanDuration(d)
	}
	return fromT0Text(d - tl.t0)
}

func fromT0Text(d time.Duration) string {
	switch {
	case d == 0:
		return "T0"
	case d < 0:
		return "T0−" + HumanDuration(-d)
	}
	return "T0+" + HumanDuration(d)
}

// svgBuilder writes SVG elements; every text it is given is escaped.
type svgBuilder struct{ strings.Builder }

func (b *svgBuilder) f(format string, args ...any) { fmt.Fprintf(b, format, args...) }

func num(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func (b *svgBuilder) rect(class string, x1, x2, y, h float64, title string) {
	w := max(x2-x1, 1)
	b.f(`<rect class="%s" x="%s" y="%s" width="%s" height="%s">`, class, num(x1), num(y), num(w), num(h))
	if title != "" {
		b.f(`<title>%s</title>`, esc(title))
	}
	b.WriteString("</rect>")
}

func (tl *timeline) svg() string {
	var b svgBuilder
	h := tl.height()
	b.f(`<svg class="timeline" data-timeline viewBox="0 0 %s %s" role="img" aria-label="%s" preserveAspectRatio="xMinYMin meet">`,
		num(svgWidth), num(h), esc("timeline of "+tl.s.Name+": "+tl.desc()))
	top := tl.lanes[0].y
	bottom := h - axisHeight
	// Lanes and their labels.
	for _, l := range tl.lanes {
		b.f(`<g data-lane="%s"><rect class="lane" x="%s" y="%s" width="%s" height="%s"></rect><text class="lane-label" x="%s" y="%s">%s</text>`,
			l.key, num(plotLeft), num(l.y), num(plotRight-plotLeft), num(l.height), num(plotLeft-6), num(l.y+l.height/2+4), esc(l.label))
		n := b.Len()
		tl.drawLane(&b, l)
		if b.Len() == n {
			b.f(`<text class="none" x="%s" y="%s">none</text>`, num(plotLeft+4), num(l.y+l.height/2+4))
		}
		b.WriteString("</g>")
	}
	tl.drawAxis(&b, bottom)
	tl.drawMarkers(&b, top, bottom)
	b.WriteString("</svg>")
	return b.String()
}

func (tl *timeline) drawLane(b *svgBuilder, l lane) {
	switch l.key {
	case "probes":
		tl.drawProbes(b, l)
	case "outages":
		tl.drawOutages(b, l)
	case "service":
		tl.drawService(b, l)
	case "backup":
		tl.drawBackup(b, l)
	case "writes":
		tl.drawWrites(b, l)
	case "events":
		tl.drawEvents(b, l)
	default:
		if c, ok := strings.CutPrefix(l.key, "cluster:"); ok {
			tl.drawClusterEvents(b, l, c)
		}
	}
}

// eventClusters lists the clusters events name, in the order they first
// appear; none for a run on one cluster.
func eventClusters(events []measure.Event) []string {
	var out []string
	for _, e := range events {
		if e.Cluster != "" && !slices.Contains(out, e.Cluster) {
			out = append(out, e.Cluster)
		}
	}
	return out
}

// drawClusterEvents ticks every event that happened in one cluster.
func (tl *timeline) drawClusterEvents(b *svgBuilder, l lane, cluster string) {
	for _, e := range tl.s.Events {
		if e.Cluster != cluster {
			continue
		}
		x := tl.x(e.At)
		b.f(`<path class="event" d="M%s %sv%s"><title>%s</title></path>`, num(x), num(l.y+2), num(l.height-4), esc(eventTitle(e)+" at "+tl.at(e.At)))
	}
}

// drawProbes draws every probe: successes as a thin bar, failures as a
// full-height hatched block, so the two differ in shape as well as colour.
// Spans closer than a bucket merge; a failure is never merged away.
func (tl *timeline) drawProbes(b *svgBuilder, l lane) {
	type run struct {
		x1, x2   float64
		from, to time.Duration
		count    int
	}
	var runs [2][]run // by outcome: 0 failed, 1 ok
	for _, p := range tl.s.Probes {
		k := btoi(p.OK)
		x1, x2 := tl.x(p.Start.Duration()), tl.x(p.End.Duration())
		if n := len(runs[k]); n > 0 && x1-runs[k][n-1].x2 < bucket {
			c := &runs[k][n-1]
			c.x2, c.to, c.count = max(c.x2, x2), max(c.to, p.End.Duration()), c.count+p.Count
			continue
		}
		runs[k] = append(runs[k], run{x1: x1, x2: x2, from: p.Start.Duration(), to: p.End.Duration(), count: p.Count})
	}
	for _, r := range runs[1] {
		b.rect("probe-ok", r.x1, r.x2, l.y+l.height/2-4, 8,
			fmt.Sprintf("%d %s succeeded, %s to %s", r.count, plural(r.count, "probe", "probes"), tl.at(r.from), tl.at(r.to)))
	}
	for _, r := range runs[0] {
		b.rect("probe-fail", r.x1, r.x2, l.y+1, l.height-2,
			fmt.Sprintf("%d %s failed, %s to %s", r.count, plural(r.count, "probe", "probes"), tl.at(r.from), tl.at(r.to)))
	}
}

func (tl *timeline) drawOutages(b *svgBuilder, l lane) {
	if !tl.measured() {
		return
	}
	r := &tl.s.Result
	for i, o := range r.Outages {
		end := o.End
		title := fmt.Sprintf("outage %d: %s to %s (%s)", i+1, fromT0Text(o.Start), fromT0Text(o.End), HumanDuration(o.End-o.Start))
		class := "outage"
		if o.Open {
			end = r.Observed.Duration()
			title = fmt.Sprintf("outage %d: from %s, still open when observation ended", i+1, fromT0Text(o.Start))
			class = "outage open"
		}
		x1, x2 := tl.x(tl.fromT0(o.Start)), tl.x(tl.fromT0(end))
		b.rect(class, x1, x2, l.y+1, l.height-2, title)
		label := fmt.Sprintf("%d · %s", i+1, HumanDuration(end-o.Start))
		if o.Open {
			label = fmt.Sprintf("%d · open →", i+1)
		}
		if x2-x1 > 6.5*float64(len([]rune(label))) {
			b.f(`<text class="in-bar" x="%s" y="%s">%s</text>`, num(x1+3), num(l.y+l.height/2+4), esc(label))
		}
	}
}

// drawService draws the RTO as a bar from T0 to T_svc (hatched to the end of
// observation when not restored), the RTO target as a tick, and T_full.
func (tl *timeline) drawService(b *svgBuilder, l lane) {
	if !tl.measured() {
		return
	}
	r, s := &tl.s.Result, tl.s
	mid := l.y + l.height/2
	x0 := tl.x(tl.t0)
	if r.RTO != nil {
		x1 := tl.x(tl.fromT0(r.RTO.Duration()))
		b.rect("rto", x0, x1, mid-5, 10, "RTO "+withResolution(*r.RTO, r.RTOResolution)+": T0 to T_svc")
	} else {
		x1 := tl.x(tl.fromT0(r.Observed.Duration()))
		b.rect("rto open", x0, x1, mid-5, 10, "not restored: no outage end within "+HumanDuration(r.Observed.Duration())+" of observation")
	}
	if r.TimeToFullRedundancy != nil {
		x := tl.x(tl.fromT0(r.TimeToFullRedundancy.Duration()))
		b.f(`<path class="full-mark" d="M%s %sl5 5-5 5-5-5z"><title>%s</title></path>`, num(x), num(mid-5),
			esc("T_full: full redundancy at "+fromT0Text(r.TimeToFullRedundancy.Duration())))
	}
	if t := s.Targets.RTO; t != nil && tl.fromT0(*t) <= tl.hi {
		x := tl.x(tl.fromT0(*t))
		b.f(`<path class="target" d="M%s %sv%s"><title>%s</title></path>`, num(x), num(l.y), num(l.height),
			esc("RTO target: "+targetDuration(*t)+" after T0"))
		// Near the right edge the label goes left of its line, inside the plot.
		if x+40 > plotRight {
			b.f(`<text class="target-label" x="%s" y="%s" text-anchor="end">≤%s</text>`, num(x-3), num(l.y+9), esc(targetDuration(*t)))
		} else {
			b.f(`<text class="target-label" x="%s" y="%s">≤%s</text>`, num(x+3), num(l.y+9), esc(targetDuration(*t)))
		}
	}
}

// drawBackup draws each backup's cut (a diamond) joined to when it
// finished, and each recovery window (recoveryStarted → recoveryFinished).
func (tl *timeline) drawBackup(b *svgBuilder, l lane) {
	mid := l.y + l.height/2
	var started *measure.Event
	for i, e := range tl.s.Events {
		switch e.Kind {
		case measure.BackupTaken:
			xe := tl.x(e.At)
			if e.CutUnknown == "" {
				xc := tl.x(e.Cut)
				b.f(`<path class="backup-span" d="M%s %sH%s"></path>`, num(xc), num(mid), num(xe))
				b.f(`<path class="cut-mark" d="M%s %sl5 6-5 6-5-6z"><title>%s</title></path>`, num(xc), num(mid-6),
					esc("backup "+e.Detail+" cut at "+tl.at(e.Cut)))
			}
			b.f(`<rect class="backup-done" x="%s" y="%s" width="6" height="10"><title>%s</title></rect>`, num(xe-3), num(mid-5),
				esc(eventTitle(e)+" at "+tl.at(e.At)))
		case measure.RecoveryStarted:
			started = &tl.s.Events[i]
		case measure.RecoveryFinished:
			from := e.At
			title := "recovery: " + e.Detail
			if started != nil {
				from = started.At
				title = "recovery: " + started.Detail
			}
			x1, x2 := tl.x(from), tl.x(e.At)
			b.rect("restore", x1, x2, l.y+2, l.height-4, fmt.Sprintf("%s, %s to %s (%s)", title, tl.at(from), tl.at(e.At), HumanDuration(e.At-from)))
			label := "restore " + HumanDuration(e.At-from)
			if x2-x1 > 6.5*float64(len(label)) {
				b.f(`<text class="in-bar" x="%s" y="%s">%s</text>`, num(x1+3), num(mid+4), esc(label))
			}
			started = nil
		}
	}
	if started != nil { // started, never finished
		x1, x2 := tl.x(started.At), tl.x(tl.hi)
		b.rect("restore open", x1, x2, l.y+2, l.height-4, "recovery started, never finished: "+started.Detail)
	}
}

// writeKind is how a lost write is drawn, by what it means.
type writeKind struct {
	class, shape, what string
}

var (
	expectedKind   = writeKind{"w-expected", "M-4 0a4 4 0 1 0 8 0a4 4 0 1 0-8 0", "expected loss (acked after the backup's cut)"}
	bugKind        = writeKind{"w-bug", "M0-5l5 9h-10z", "BUG: acked before the backup's cut, missing after the restore"}
	lostKind       = writeKind{"w-lost", "M-4-4l8 8m0-8l-8 8", "lost (acked, then gone)"}
	unexpectedKind = writeKind{"w-unexpected", "M0-5l5 5-5 5-5-5z", "BUG: read, never written"}
)

// drawWrites marks each lost write at its acknowledgement time, by kind,
// and unexpected writes (never acknowledged, so without an instant) at the
// end of observation, when the final read found them.
func (tl *timeline) drawWrites(b *svgBuilder, l lane) {
	if !tl.measured() {
		return
	}
	r := &tl.s.Result
	expected := setOf(r.ExpectedLoss)
	bug := setOf(r.LostBeforeBackup)
	type group struct {
		kind     writeKind
		x        float64
		ids      []string
		from, to time.Duration
	}
	var groups []group
	index := map[[2]any]int{}
	add := func(k writeKind, at time.Duration, id string) {
		x := tl.x(at)
		key := [2]any{k.class, math.Round(x / bucket)}
		if i, ok := index[key]; ok {
			g := &groups[i]
			g.ids = append(g.ids, id)
			g.from, g.to = min(g.from, at), max(g.to, at)
			return
		}
		index[key] = len(groups)
		groups = append(groups, group{kind: k, x: x, ids: []string{id}, from: at, to: at})
	}
	for _, w := range r.LostWrites {
		k := lostKind
		switch {
		case bug[w.ID]:
			k = bugKind
		case expected[w.ID]:
			k = expectedKind
		}
		add(k, tl.fromT0(w.Acked.Duration()), w.ID)
	}
	for _, id := range r.Unexpected {
		add(unexpectedKind, tl.fromT0(r.Observed.Duration()), id)
	}
	// Bugs last, so they are drawn on top.
	slices.SortStableFunc(groups, func(a, b group) int {
		return btoi(a.kind == bugKind || a.kind == unexpectedKind) - btoi(b.kind == bugKind || b.kind == unexpectedKind)
	})
	for _, g := range groups {
		var title string
		if len(g.ids) == 1 {
			title = fmt.Sprintf("%s %s, acked at %s", g.ids[0], g.kind.what, tl.at(g.from))
			if g.kind == unexpectedKind {
				title = fmt.Sprintf("%s %s (found by the final read)", g.ids[0], g.kind.what)
			}
		} else {
			title = fmt.Sprintf("%d writes %s, %s to %s: %s", len(g.ids), g.kind.what, tl.at(g.from), tl.at(g.to), idList(g.ids, 5))
		}
		b.f(`<path class="%s" transform="translate(%s %s)" d="%s"><title>%s</title></path>`,
			g.kind.class, num(g.x), num(l.y+l.height/2), g.kind.shape, esc(title))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// idList names at most n ids, then "and N more".
func idList(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}

// drawEvents ticks every event that has no line or band of its own: the
// first failure, a person's marks, and kinds a later version adds.
func (tl *timeline) drawEvents(b *svgBuilder, l lane) {
	for _, e := range tl.s.Events {
		if ownDrawing(e.Kind) {
			continue
		}
		x := tl.x(e.At)
		b.f(`<path class="event" d="M%s %sv%s"><title>%s</title></path>`, num(x), num(l.y+2), num(l.height-4), esc(eventTitle(e)+" at "+tl.at(e.At)))
	}
}

func ownDrawing(k measure.EventKind) bool {
	switch k {
	case measure.FaultApplied, measure.FaultRecovered, measure.ObservationEnded, measure.Aborted, measure.RolledBack,
		measure.BackupTaken, measure.RecoveryStarted, measure.RecoveryFinished:
		return true
	}
	return false
}

var tickSteps = []time.Duration{
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// drawAxis ticks the timeline at round offsets from T0 (or from the start).
func (tl *timeline) drawAxis(b *svgBuilder, y float64) {
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if (tl.hi-tl.lo)/s <= 8 {
			step = s
			break
		}
	}
	origin := tl.t0 // 0 without a T0: the scenario's start
	first := origin - (origin-tl.lo)/step*step
	b.f(`<g class="axis" data-axis><path d="M%s %sH%s"></path>`, num(plotLeft), num(y), num(plotRight))
	for at := first; at <= tl.hi; at += step {
		x := tl.x(at)
		b.f(`<path class="grid" d="M%s %sV%s"></path>`, num(x), num(tl.lanes[0].y), num(y+4))
		b.f(`<text x="%s" y="%s">%s</text>`, num(x), num(y+16), esc(tickLabel(at-origin, tl.hasT0)))
	}
	b.WriteString("</g>")
}

func tickLabel(d time.Duration, fromT0 bool) string {
	if d == 0 {
		if fromT0 {
			return "T0"
		}
		return "0"
	}
	sign := "+"
	if d < 0 {
		sign, d = "−", -d
	}
	var s string
	switch {
	case d < time.Second:
		s = fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		s = fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour && d%time.Minute == 0:
		s = fmt.Sprintf("%dm", d/time.Minute)
	case d < time.Hour:
		s = fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	default:
		s = fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return sign + s
}

// drawMarkers draws the vertical lines and their labels, staggered over
// labelRows rows so that neighbours do not overprint.
func (tl *timeline) drawMarkers(b *svgBuilder, top, bottom float64) {
	ms := slices.Clone(tl.markers)
	slices.SortStableFunc(ms, func(a, b marker) int { return cmp.Compare(a.at, b.at) })
	rowEnd := make([]float64, labelRows)
	for i := range rowEnd {
		rowEnd[i] = math.Inf(-1)
	}
	for _, m := range ms {
		x := tl.x(m.at)
		width := 6.2 * float64(len([]rune(m.label)))
		start, anchor := x+3, "start"
		if start+width > svgWidth-2 {
			start, anchor = x-3-width, "end"
		}
		row := 0
		for i, end := range rowEnd {
			if start > end+4 {
				row = i
				break
			}
			if end < rowEnd[row] {
				row = i // nothing free: overprint the row that ends first
			}
		}
		rowEnd[row] = start + width
		ly := labelRow * float64(row+1)
		tx := x + 3
		if anchor == "end" {
			tx = x - 3
		}
		b.f(`<g class="marker %s" data-marker="%s"><path d="M%s %sV%s"></path><path class="leader" d="M%s %sV%s"></path><text x="%s" y="%s" text-anchor="%s">%s</text><title>%s</title></g>`,
			m.class, m.class, num(x), num(top), num(bottom), num(x), num(ly-9), num(top), num(tx), num(ly), anchor, esc(m.label), esc(m.title+" at "+tl.at(m.at)))
	}
}

// desc says in one sentence what the timeline shows, for screen readers.
func (tl *timeline) desc() string {
	var parts []string
	ok, failed := 0, 0
	for _, p := range tl.s.Probes {
		if p.OK {
			ok += p.Count
		} else {
			failed += p.Count
		}
	}
	parts = append(parts, fmt.Sprintf("%d probes (%d failed)", ok+failed, failed))
	if tl.measured() {
		r := &tl.s.Result
		parts = append(parts, fmt.Sprintf("%d %s", len(r.Outages), plural(len(r.Outages), "outage", "outages")))
		if r.RTO != nil {
			parts = append(parts, "RTO "+HumanDuration(r.RTO.Duration()))
		} else {
			parts = append(parts, notRestored)
		}
		parts = append(parts, fmt.Sprintf("%d lost, %d unexpected %s", r.LostCount, r.UnexpectedCount, plural(r.UnexpectedCount, "write", "writes")))
	}
	return strings.Join(parts, "; ")
}

// moments lists what the timeline draws, in time order, as text: for print,
// for screen readers, and for anyone who wants the numbers.
func (tl *timeline) moments() []htmlMoment {
	type moment struct {
		at   time.Duration
		what string
	}
	var ms []moment
	for _, e := range tl.s.Events {
		if e.Kind == measure.BackupTaken && e.CutUnknown == "" {
			ms = append(ms, moment{e.Cut, fmt.Sprintf("backup %s: consistent cut", e.Detail)})
		}
		ms = append(ms, moment{e.At, eventTitle(e)})
	}
	if tl.measured() {
		r := &tl.s.Result
		for i, o := range r.Outages {
			if o.Open {
				ms = append(ms, moment{tl.fromT0(o.Start), fmt.Sprintf("outage %d begins; still open when observation ended", i+1)})
				continue
			}
			ms = append(ms, moment{tl.fromT0(o.Start), fmt.Sprintf("outage %d: %s, until %s", i+1, HumanDuration(o.End-o.Start), fromT0Text(o.End))})
		}
		if r.RTO != nil {
			ms = append(ms, moment{tl.fromT0(r.RTO.Duration()), "T_svc · service back: RTO " + withResolution(*r.RTO, r.RTOResolution)})
		}
		if r.TimeToFullRedundancy != nil {
			ms = append(ms, moment{tl.fromT0(r.TimeToFullRedundancy.Duration()), "T_full · full redundancy: " + withResolution(*r.TimeToFullRedundancy, r.FullRedundancyResolution)})
		}
		expected, bug := setOf(r.ExpectedLoss), setOf(r.LostBeforeBackup)
		for _, k := range []writeKind{bugKind, lostKind, expectedKind} {
			var ids []string
			var from, to time.Duration
			for _, w := range r.LostWrites {
				is := lostKind
				if bug[w.ID] {
					is = bugKind
				} else if expected[w.ID] {
					is = expectedKind
				}
				if is != k {
					continue
				}
				at := tl.fromT0(w.Acked.Duration())
				if len(ids) == 0 {
					from, to = at, at
				}
				from, to = min(from, at), max(to, at)
				ids = append(ids, w.ID)
			}
			switch len(ids) {
			case 0:
			case 1:
				ms = append(ms, moment{from, fmt.Sprintf("write %s acked: %s", ids[0], k.what)})
			default:
				ms = append(ms, moment{from, fmt.Sprintf("%d writes acked until %s: %s: %s", len(ids), tl.at(to), k.what, idList(ids, 10))})
			}
		}
		if len(r.Unexpected) > 0 {
			ms = append(ms, moment{tl.fromT0(r.Observed.Duration()), fmt.Sprintf("final read: %d %s %s: %s",
				len(r.Unexpected), plural(len(r.Unexpected), "write", "writes"), unexpectedKind.what, idList(r.Unexpected, 10))})
		}
	}
	slices.SortStableFunc(ms, func(a, b moment) int { return cmp.Compare(a.at, b.at) })
	out := make([]htmlMoment, len(ms))
	for i, m := range ms {
		out[i] = htmlMoment{At: tl.at(m.at), What: m.what}
	}
	return out
}
