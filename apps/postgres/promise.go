package postgres

import (
	"context"
	"fmt"

	"github.com/reboundhq/rebound/apps"
)

var _ apps.Promiser = (*Driver)(nil)

// patroniConfig is the part of Patroni's GET /config (the dynamic
// configuration in the DCS) the promise rests on.
type patroniConfig struct {
	SynchronousMode       *bool `json:"synchronous_mode"`
	SynchronousModeStrict bool  `json:"synchronous_mode_strict"`
}

// Promise follows the replication mode. With Patroni's synchronous_mode
// the primary reports a commit only once a synchronous standby has it,
// and Patroni promotes only a synchronous standby, so a failover loses no
// acknowledged commit
// (https://patroni.readthedocs.io/en/latest/replication_modes.html).
// Asynchronous replication (Patroni's default) reports a commit before any
// replica has it, and a failover may promote a replica that lacks the last
// ones. synchronous_commit = local or off waives the wait even in
// synchronous mode. Without Patroni, synchronous_standby_names decides.
func (d *Driver) Promise(ctx context.Context) (apps.Promise, error) {
	members, _, _ := d.snapshot()
	m, err := d.primaryMember(ctx)
	if err != nil {
		return apps.Promise{}, fmt.Errorf("postgres promise: %w", err)
	}
	var commit, standbys string
	if err := m.pool.QueryRow(ctx, "SELECT current_setting('synchronous_commit'), current_setting('synchronous_standby_names')").Scan(&commit, &standbys); err != nil {
		d.forgetOnConnError(m, err)
		return apps.Promise{}, fmt.Errorf("postgres promise: read the replication settings on %s: %w", m.name(), d.explain(err))
	}
	waives := commit == "local" || commit == "off"
	if pc, ok := restFirst(ctx, d, members, "/config", func(*patroniConfig) bool { return true }); ok {
		switch {
		case pc.SynchronousMode == nil || !*pc.SynchronousMode:
			return apps.Promise{MayLoseAcknowledged: true,
				Why: "asynchronous replication (Patroni without synchronous_mode): the primary acknowledges a commit before any replica has it, and a failover may promote a replica that lacks the last commits (up to maximum_lag_on_failover)"}, nil
		case waives:
			return apps.Promise{MayLoseAcknowledged: true,
				Why: fmt.Sprintf("Patroni's synchronous_mode is on, but synchronous_commit = %s: the primary acknowledges a commit without waiting for the synchronous standby", commit)}, nil
		}
		why := "synchronous replication (Patroni's synchronous_mode): the primary acknowledges a commit once a synchronous standby has it, and Patroni promotes only a synchronous standby"
		if !pc.SynchronousModeStrict {
			why += "; with no synchronous standby left the primary goes on alone, and no other member may then be promoted"
		}
		return apps.Promise{MayLoseAcknowledged: false, Why: why}, nil
	}
	if standbys == "" || waives {
		return apps.Promise{MayLoseAcknowledged: true,
			Why: fmt.Sprintf("asynchronous replication (synchronous_standby_names = %q, synchronous_commit = %s; not managed by Patroni): a commit is acknowledged before any replica has it", standbys, commit)}, nil
	}
	return apps.Promise{MayLoseAcknowledged: false,
		Why: fmt.Sprintf("synchronous replication (synchronous_standby_names = %q, synchronous_commit = %s): the primary acknowledges a commit once a synchronous standby has it; not managed by Patroni, so only promoting that standby keeps the promise", standbys, commit)}, nil
}
