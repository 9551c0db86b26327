package apps

import "context"

// Promise is what an app promises about acknowledged writes when members
// fail, as its driver declares it (DESIGN.md "Data-safety promise"). A lost
// write beyond it is a breach whatever a rung's targets say.
type Promise struct {
	// MayLoseAcknowledged is true when the app may lose writes it
	// acknowledged (asynchronous replication, a replica count of zero);
	// false when an acknowledged write is never lost (etcd's consensus,
	// synchronous replication).
	MayLoseAcknowledged bool
	// Why says, for reports, what the promise rests on ("raft consensus:
	// a write is acknowledged once a majority has it").
	Why string
}

// Promiser is a driver that declares its app's data-safety promise. A
// driver that does not is held to the strict promise: no acknowledged write
// is ever lost.
type Promiser interface {
	Promise(ctx context.Context) (Promise, error)
}

// PromiseOf returns d's declared promise, or the strict one when d declares
// none.
func PromiseOf(ctx context.Context, d Driver) (Promise, error) {
	if p, ok := d.(Promiser); ok {
		return p.Promise(ctx)
	}
	return Promise{Why: "the driver declares no promise, so none may be lost"}, nil
}
