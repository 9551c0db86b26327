package runner

import (
	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
	"github.com/reboundhq/rebound/scenarios"
)

// backupOptions turns the scenario's backup settings for its app
// (spec.backup.elasticsearch) into the options of the app's native
// backup (target.Target.BackupOptions); nil when the scenario has none.
// The probe's records go with them, so that its writes are measured
// across a restore.
func backupOptions(b scenarios.Backup, prefix string, d apps.Driver) any {
	if b.ESRepository == "" && b.ESRepositoryType == "" && len(b.ESIndices) == 0 {
		return nil
	}
	return elasticsearch.BackupOptions{
		Repository: b.ESRepository, Type: b.ESRepositoryType, Settings: b.ESRepositorySettings,
		Indices: esIndices(b.ESIndices, prefix, d),
	}
}

// esIndices is what an Elasticsearch scenario's backup holds: the probe's
// own index, so its writes are measured across the restore, and the
// indices the scenario names.
func esIndices(named []string, prefix string, d apps.Driver) []string {
	if len(named) == 0 {
		return nil // the driver's default: the probe index
	}
	probe := prefix
	if ix, ok := d.(interface{ Index() string }); ok {
		probe = ix.Index() // the name the driver really uses
	}
	out := []string{probe}
	for _, ix := range named {
		if ix != probe {
			out = append(out, ix)
		}
	}
	return out
}
