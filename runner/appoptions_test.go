package runner

import (
	"slices"
	"testing"

	"github.com/reboundhq/rebound/apps/elasticsearch"
	"github.com/reboundhq/rebound/scenarios"
)

func TestBackupOptionsHoldTheProbeIndexAndTheScenarios(t *testing.T) {
	t.Parallel()
	if got := backupOptions(scenarios.Backup{Before: true}, "/rebound/r1/s", nil); got != nil {
		t.Errorf("a scenario without app backup settings: %#v, want nil", got)
	}
	b := scenarios.Backup{ESRepository: "backups"}
	o, ok := backupOptions(b, "rebound-r1-del", nil).(elasticsearch.BackupOptions)
	if !ok || o.Repository != "backups" || o.Indices != nil {
		t.Errorf("no indices named: %#v, want the repository and the driver's default (the probe index)", o)
	}
	b.ESIndices = []string{"products", "rebound-r1-del"}
	o = backupOptions(b, "rebound-r1-del", nil).(elasticsearch.BackupOptions)
	if !slices.Equal(o.Indices, []string{"rebound-r1-del", "products"}) {
		t.Errorf("indices %v, want the probe index once, then products", o.Indices)
	}
}
