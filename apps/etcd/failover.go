package etcd

import (
	"fmt"

	"github.com/reboundhq/rebound/apps"
)

var _ apps.Failover = (*Driver)(nil)

// FailoverSupport: not supported: etcd replicates synchronously through
// raft within one cluster and has no asynchronous standby in another
// cluster to promote (a member in another region is a voting member of the
// same cluster, and takes a quorum with it). A region loss of an etcd app
// is recovered by restore into the DR cluster.
func (d *Driver) FailoverSupport() error {
	return fmt.Errorf("%w: etcd has no standby cluster to promote (raft replicates synchronously within one cluster); recover a region loss with recovery.path restore", apps.ErrNotSupported)
}
