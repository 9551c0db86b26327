// Package elasticsearch is rebound's app driver for Elasticsearch 8,
// registered as "elasticsearch". The write probe's records are documents
// whose _id is the record id, in one index per run (apps.Config.Prefix);
// every write is classified as acknowledged, certainly failed or of unknown
// outcome from the _bulk item statuses and the transport error, because the
// lost-write count and the RPO are only as true as that classification. It
// also reads all records back through a point in time, reports the health
// of the indices a scenario targets (the probe index and those given to
// SetTargetIndices, not the whole cluster) and the elected master, declares
// the data-safety promise of the probe index's replication settings,
// deletes an index for human-error faults, and offers the backup engine a
// snapshot API: register and verify a repository, freeze an index (write
// block and flush) with an unfreeze that always runs, create, list, restore
// and delete snapshots.
//
// Prepare creates the probe index with a write alias at steady state;
// writes go through the alias with require_alias, so a write after the
// index was deleted fails instead of silently re-creating it.
//
// It only talks to Elasticsearch's REST API at the endpoints it is given. It
// never changes Kubernetes objects and never injects faults. Its
// destructive calls, DeleteData and a restore that replaces indices, refuse
// wildcards, lists and hidden indices, so they only reach the indices they
// name.
package elasticsearch
