package backup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/reboundhq/rebound/runner"
)

// ForRunner adapts the engine to the runner's BackupEngine: a scenario's
// backup before its fault, and its restore, whose duration the runner
// counts into RTO.
func (e *Engine) ForRunner() runner.BackupEngine { return runnerEngine{e} }

type runnerEngine struct{ e *Engine }

var _ runner.BackupEngine = runnerEngine{}

// Backup takes a backup of the target app, app-native where its driver
// has a way, tagged "runner", and returns its id and consistent cut.
func (r runnerEngine) Backup(ctx context.Context, t *runner.Target) (string, time.Time, error) {
	res, err := r.e.Backup(ctx, Request{
		Name: "before-fault", Namespace: t.Namespace, Selector: t.Selector,
		DriverName: t.DriverName, Driver: t.Driver, Tags: []string{"runner"},
		ESRepository: t.Backup.ESRepository, ESRepositoryType: t.Backup.ESRepositoryType,
		ESRepositorySettings: t.Backup.ESRepositorySettings, ESIndices: esIndices(t),
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return res.ID, res.Manifest.Cut, nil
}

// Restore rolls the target app back to backup id in its own namespace and
// returns once it is Ready and its driver reports full health (the
// runner keeps the driver pointed at the new pods meanwhile).
func (r runnerEngine) Restore(ctx context.Context, t *runner.Target, id string) error {
	timeout := 10 * time.Minute
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	_, err := r.e.Restore(ctx, RestoreRequest{Backup: id, Namespace: t.Namespace, Driver: t.Driver, Timeout: timeout})
	return err
}

// Latest finds the newest backup of the target's namespace tagged tag
// whose consistent cut came before the given instant.
func (r runnerEngine) Latest(ctx context.Context, t *runner.Target, tag string, before time.Time) (string, time.Time, error) {
	infos, err := r.e.List(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	var best *Info
	for i, in := range infos {
		if in.Namespace != t.Namespace || !in.Cut.Before(before) || !slices.Contains(in.Tags, tag) {
			continue
		}
		if best == nil || in.Cut.After(best.Cut) {
			best = &infos[i]
		}
	}
	if best == nil {
		return "", time.Time{}, fmt.Errorf("%w: no backup tagged %q of namespace %s taken before %s", ErrNotFound, tag, t.Namespace, before.Format(time.RFC3339))
	}
	return best.ID, best.Cut, nil
}

// esIndices is what an Elasticsearch scenario's backup holds: the probe's
// own index, so its writes are measured across the restore, and the
// indices the scenario names.
func esIndices(t *runner.Target) []string {
	if len(t.Backup.ESIndices) == 0 {
		return nil // the engine's default: the probe index
	}
	probe := t.Prefix
	if d, ok := t.Driver.(interface{ Index() string }); ok {
		probe = d.Index() // the name the driver really uses
	}
	out := []string{probe}
	for _, ix := range t.Backup.ESIndices {
		if ix != probe {
			out = append(out, ix)
		}
	}
	return out
}
