package elasticsearch

import (
	"fmt"

	"github.com/reboundhq/rebound/apps"
)

var _ apps.Failover = (*Driver)(nil)

// FailoverSupport: not supported yet: Elasticsearch's own standby is a
// cross-cluster replication follower index (a licensed feature), which
// this driver does not manage. A region loss is recovered by restore of a
// snapshot into the DR cluster.
func (d *Driver) FailoverSupport() error {
	return fmt.Errorf("%w: this driver does not manage cross-cluster replication followers to promote; recover a region loss with recovery.path restore", apps.ErrNotSupported)
}
