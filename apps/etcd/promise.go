package etcd

import (
	"context"

	"github.com/reboundhq/rebound/apps"
)

var _ apps.Promiser = (*Driver)(nil)

// Promise is etcd's: raft acknowledges a write only once a majority of
// members has it in its log, and a new leader must hold every committed
// entry, so losing a minority of members never loses an acknowledged write
// (https://etcd.io/docs/v3.5/learning/api_guarantees/, "Durability").
func (d *Driver) Promise(context.Context) (apps.Promise, error) {
	return apps.Promise{
		MayLoseAcknowledged: false,
		Why:                 "raft consensus: etcd acknowledges a write once a majority of members has it, and only a member holding every committed write can become leader",
	}, nil
}
