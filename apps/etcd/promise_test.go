package etcd

import (
	"context"
	"testing"

	"github.com/reboundhq/rebound/apps"
)

func TestPromiseNeverLosesAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	// Promise reads nothing from the cluster, so a Driver with no client
	// stands in for a connected one.
	var d apps.Driver = &Driver{}
	p, err := apps.PromiseOf(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if p.MayLoseAcknowledged || p.Why == "" || p.Why == "the driver declares no promise, so none may be lost" {
		t.Errorf("etcd promise = %+v, want its own: never loses an acknowledged write, with the reason", p)
	}
}
