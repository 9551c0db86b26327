package elasticsearch

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/reboundhq/rebound/apps"
)

// Promise is what the probe index's replication settings promise about
// acknowledged writes, read from the index (or, before Prepare created it,
// from the settings Prepare will give it).
//
// The reasoning follows Elasticsearch's data replication model
// (https://www.elastic.co/docs/deploy-manage/distributed-architecture/reading-and-writing-documents,
// for 8.x https://www.elastic.co/guide/en/elasticsearch/reference/8.17/docs-replication.html,
// "Basic write model"): a write goes to the primary shard, which applies it
// and forwards it to every replica in the in-sync copy set, and the client
// gets its acknowledgement only once all in-sync copies have it. A copy
// leaves the in-sync set only when the master removes it, so a new primary
// is always promoted from copies that hold every acknowledged write.
//   - number_of_replicas 0: the primary is the only copy, so an
//     acknowledged write is lost with its node's data.
//   - number_of_replicas ≥ 1: the write is on every in-sync copy before it
//     is acknowledged, so losing one node loses no acknowledged write. Once
//     a replica has failed and left the in-sync set, the primary alone
//     acknowledges until the replica is back; a second loss in that window
//     can lose writes. index.write.wait_for_active_shards (default 1, the
//     primary) is only checked before a write starts and does not change
//     when it is acknowledged; it is reported, not relied on
//     (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/docs-index_.html#index-wait-for-active-shards).
//   - index.translog.durability async: a write is acknowledged before its
//     translog is fsynced, so a crash of the nodes holding its copies can
//     lose the writes of the last sync_interval
//     (https://www.elastic.co/guide/en/elasticsearch/reference/8.17/index-modules-translog.html).
func (d *Driver) Promise(ctx context.Context) (apps.Promise, error) {
	replicas, waitFor, durability := d.opts.replicas, "1", "request"
	source := fmt.Sprintf("index %s will be created with", d.index)
	var r map[string]struct {
		Settings map[string]any `json:"settings"`
		Defaults map[string]any `json:"defaults"`
	}
	err := into(&r)(d.es.Indices.GetSettings(
		d.es.Indices.GetSettings.WithContext(ctx),
		d.es.Indices.GetSettings.WithIndex(d.index),
		d.es.Indices.GetSettings.WithFlatSettings(true),
		d.es.Indices.GetSettings.WithIncludeDefaults(true),
	))
	switch {
	case isIndexNotFound(err):
	case err != nil:
		return apps.Promise{}, fmt.Errorf("data-safety promise: read the settings of index %q: %w", d.index, err)
	default:
		ix, ok := r[d.index]
		if !ok {
			return apps.Promise{}, fmt.Errorf("data-safety promise: the settings answer has no index %q", d.index)
		}
		setting := func(name string) (string, bool) {
			if v, ok := ix.Settings[name]; ok {
				return fmt.Sprint(v), true
			}
			v, ok := ix.Defaults[name]
			return fmt.Sprint(v), ok
		}
		v, ok := setting("index.number_of_replicas")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return apps.Promise{}, fmt.Errorf("data-safety promise: index %q has no readable index.number_of_replicas (got %q)", d.index, v)
		}
		replicas = n
		if v, ok := setting("index.write.wait_for_active_shards"); ok {
			waitFor = v
		}
		if v, ok := setting("index.translog.durability"); ok {
			durability = v
		}
		source = fmt.Sprintf("index %s has", d.index)
	}

	settings := fmt.Sprintf("%s number_of_replicas %d, write.wait_for_active_shards %s, translog.durability %s", source, replicas, waitFor, durability)
	switch {
	case strings.EqualFold(durability, "async"):
		return apps.Promise{MayLoseAcknowledged: true, Why: settings + ": with an async translog Elasticsearch acknowledges writes before they are fsynced, so a crash of the nodes holding them can lose them"}, nil
	case replicas == 0:
		return apps.Promise{MayLoseAcknowledged: true, Why: settings + ": with no replica the primary is the only copy, so an acknowledged write is lost with its node"}, nil
	default:
		return apps.Promise{Why: settings + ": Elasticsearch acknowledges a write once every in-sync copy has it, so losing one node loses no acknowledged write (a second loss while a failed replica is out of the in-sync set can)"}, nil
	}
}
