package reports_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reboundhq/rebound/measure"
	"github.com/reboundhq/rebound/reports"
)

func TestProbeSpans(t *testing.T) {
	t.Parallel()
	p := func(start, end int, ok bool) measure.ProbeSample {
		return measure.ProbeSample{Start: time.Duration(start) * ms, End: time.Duration(end) * ms, OK: ok}
	}
	span := func(start, end int, ok bool, n int) reports.ProbeSpan {
		return reports.ProbeSpan{Start: measure.Millis(time.Duration(start) * ms), End: measure.Millis(time.Duration(end) * ms), OK: ok, Count: n}
	}
	tests := []struct {
		name    string
		samples []measure.ProbeSample
		want    []reports.ProbeSpan
	}{
		{"no probe is an empty list, not null", nil, []reports.ProbeSpan{}},
		{"one probe", []measure.ProbeSample{p(0, 5, true)}, []reports.ProbeSpan{span(0, 5, true, 1)}},
		{"same outcomes merge, a change starts a span", []measure.ProbeSample{
			p(0, 5, true), p(100, 105, true), p(200, 300, false), p(300, 400, false), p(400, 405, true),
		}, []reports.ProbeSpan{span(0, 105, true, 2), span(200, 400, false, 2), span(400, 405, true, 1)}},
		{"merged in start order, whatever order they were recorded in", []measure.ProbeSample{
			p(200, 205, false), p(0, 5, true), p(100, 105, true),
		}, []reports.ProbeSpan{span(0, 105, true, 2), span(200, 205, false, 1)}},
		// A probe that hung completes after the next ones: the span ends at
		// its completion, not at the last probe's.
		{"a hung probe's late completion ends the span", []measure.ProbeSample{
			p(0, 900, false), p(100, 200, false), p(1000, 1005, true),
		}, []reports.ProbeSpan{span(0, 900, false, 2), span(1000, 1005, true, 1)}},
		{"alternating outcomes stay apart", []measure.ProbeSample{
			p(0, 5, true), p(100, 105, false), p(200, 205, true),
		}, []reports.ProbeSpan{span(0, 5, true, 1), span(100, 105, false, 1), span(200, 205, true, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := slices.Clone(tt.samples)
			got := reports.ProbeSpans(tt.samples)
			if got == nil {
				t.Fatal("ProbeSpans returned nil; report.json would say null")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ProbeSpans (-want +got):\n%s", diff)
			}
			if !slices.Equal(before, tt.samples) {
				t.Errorf("ProbeSpans reordered its input: %v, was %v", tt.samples, before)
			}
		})
	}
}

// TestProbeSpansCountEveryProbe: however the outcomes fall, the spans hold
// every probe and never two neighbours with the same outcome.
func TestProbeSpansCountEveryProbe(t *testing.T) {
	t.Parallel()
	var samples []measure.ProbeSample
	for i := range 1000 {
		samples = append(samples, measure.ProbeSample{Start: time.Duration(i*100) * ms, End: time.Duration(i*100+5) * ms, OK: i%7 != 0 && i%11 != 0})
	}
	spans := reports.ProbeSpans(samples)
	total := 0
	for i, sp := range spans {
		total += sp.Count
		if i > 0 && spans[i-1].OK == sp.OK {
			t.Errorf("spans %d and %d both have ok=%v: they should be one", i-1, i, sp.OK)
		}
	}
	if total != len(samples) {
		t.Errorf("spans hold %d probes, want %d", total, len(samples))
	}
}
