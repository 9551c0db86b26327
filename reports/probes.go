package reports

import (
	"cmp"
	"slices"

	"github.com/reboundhq/rebound/measure"
)

// ProbeSpan is a run of consecutive availability probes with the same
// outcome, on the scenario's timeline (offsets from Scenario.StartedAt, like
// Events; not from T0). It lets a report draw every probe without storing
// each one: thousands of probes of a healthy app are one span.
type ProbeSpan struct {
	// Start is when the span's first probe started.
	Start measure.Millis `json:"startMillis"`
	// End is the latest completion among the span's probes: a probe that
	// hung can complete after later ones started.
	End measure.Millis `json:"endMillis"`
	// OK is the outcome every probe of the span had.
	OK bool `json:"ok"`
	// Count is how many probes the span holds; at least 1.
	Count int `json:"count"`
}

// ProbeSpans run-length encodes samples: in start order, consecutive samples
// with the same outcome become one span. It does not change samples. It
// returns an empty, non-nil list for no samples, so report.json never says
// null for it. The runner calls it with the recording's probes.
func ProbeSpans(samples []measure.ProbeSample) []ProbeSpan {
	sorted := slices.Clone(samples)
	// Stable: two probes started at the same instant keep their order.
	slices.SortStableFunc(sorted, func(a, b measure.ProbeSample) int { return cmp.Compare(a.Start, b.Start) })
	spans := []ProbeSpan{}
	for _, p := range sorted {
		end := max(p.End, p.Start) // a sample is never drawn ending before it began
		if n := len(spans); n > 0 && spans[n-1].OK == p.OK {
			last := &spans[n-1]
			last.Count++
			last.End = max(last.End, measure.Millis(end))
			continue
		}
		spans = append(spans, ProbeSpan{Start: measure.Millis(p.Start), End: measure.Millis(end), OK: p.OK, Count: 1})
	}
	return spans
}
