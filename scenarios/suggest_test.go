package scenarios

import "testing"

func TestSuggest(t *testing.T) {
	t.Parallel()
	fields := []string{"kind", "via", "node", "nodeSelector", "duration", "labelSelector", "disruption"}
	tests := []struct {
		in, want string
	}{
		{"kindd", "kind"},
		{"Kind", "kind"},
		{"labelselector", "labelSelector"},
		{"dissruption", "disruption"},
		{"nodeselector", "nodeSelector"},
		{"durration", "duration"},
		{"colour", ""},
		{"x", ""},
		{"kind", ""}, // the exact name is not a typo of itself
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := suggest(tt.in, fields); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLineOfMissingField(t *testing.T) {
	t.Parallel()
	idx := lineIndex{doc: 1, lines: map[string]int{
		"":                                      1,
		"spec":                                  5,
		"spec.fault":                            9,
		"spec.target.labelSelector.matchLabels": 12,
		"spec.target.labelSelector.matchLabels[app.kubernetes.io/name]": 13,
		"spec.rungs[2]": 20,
	}}
	tests := []struct {
		path string
		want int
	}{
		{"spec.fault.duration", 9}, // missing: where it belongs
		{"spec.fault", 9},          // present
		{"spec.backup", 5},         // missing section: under spec
		{"spec.target.labelSelector.matchLabels[app.kubernetes.io/name]", 13},
		{"spec.target.labelSelector.matchLabels[a.b/c]", 12},
		{"spec.rungs[2].targets[0].rto", 20},
		{"metadata.name", 1},
		{"", 1},
	}
	for _, tt := range tests {
		if got := idx.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}
