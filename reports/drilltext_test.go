package reports

import (
	"strings"
	"testing"
)

// A drill into a namespace made for drills says what became of the
// restored objects, not that the namespace was deleted.
func TestDrillTextScratchNamespace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Drill
		want string
	}{
		{"a new namespace, deleted", Drill{Created: true, Deleted: true}, "; scratch namespace deleted"},
		{"a new namespace, kept", Drill{Created: true, Kept: true}, "; scratch namespace kept for inspection"},
		{"reused, objects deleted", Drill{Reused: true, Created: true, Deleted: true}, "; restored objects (the namespace, made for drills, stays) deleted"},
		{"reused, objects not deleted", Drill{Reused: true, Created: true, Cleanup: "pvc x stuck"}, "restored objects (the namespace, made for drills, stays) NOT deleted: pvc x stuck"},
		{"reused, nothing restored", Drill{Reused: true}, "restored objects (the namespace, made for drills, stays) not restored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.d.Backup, tt.d.Namespace = "1a2b3c4d5e", "drills"
			if got := drillText(&tt.d); !strings.HasSuffix(got, tt.want) {
				t.Errorf("drillText = %q, want it to end with %q", got, tt.want)
			}
		})
	}
}
