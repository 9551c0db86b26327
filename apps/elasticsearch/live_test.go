package elasticsearch_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/elasticsearch"
)

// TestLiveCluster runs the driver against a real Elasticsearch 8 cluster,
// only when REBOUND_ES_URL names one. It creates and deletes its own index
// and touches nothing else.
func TestLiveCluster(t *testing.T) {
	t.Parallel()
	urls := os.Getenv("REBOUND_ES_URL")
	if urls == "" {
		t.Skip("set REBOUND_ES_URL to run against a real Elasticsearch 8 cluster " +
			"(comma-separated URLs; optional REBOUND_ES_USERNAME, REBOUND_ES_PASSWORD, REBOUND_ES_CACERT=path to a PEM file)")
	}
	cfg := apps.Config{
		Endpoints: apps.Endpoints{URLs: strings.Split(urls, ",")},
		Prefix:    fmt.Sprintf("rebound-test-%d", time.Now().UnixNano()),
		Username:  os.Getenv("REBOUND_ES_USERNAME"),
		Password:  os.Getenv("REBOUND_ES_PASSWORD"),
	}
	if path := os.Getenv("REBOUND_ES_CACERT"); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("REBOUND_ES_CACERT: %v", err)
		}
		cfg.CACert = pem
	}
	// No replica, so a single-node cluster can be green too.
	d, err := elasticsearch.New(cfg, elasticsearch.WithReplicas(0))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		// Also when the test failed half way; deleting twice is harmless.
		if _, err := d.DeleteData(context.Background(), d.Index()); err != nil {
			t.Errorf("cleanup: delete index %q: %v", d.Index(), err)
		}
		_ = d.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if err := d.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if p, err := d.Promise(ctx); err != nil || !p.MayLoseAcknowledged {
		t.Errorf("Promise = %+v, %v; want one that may lose writes: the index has no replica", p, err)
	}

	written := ids("live-", 100)
	for _, id := range written[:50] {
		if err := d.Write(ctx, id); err != nil {
			t.Fatalf("Write(%q): %v", id, err)
		}
	}
	for id, err := range d.WriteBatch(ctx, written[50:]) {
		if err != nil {
			t.Fatalf("WriteBatch item %q: %v", id, err)
		}
	}
	if err := d.Read(ctx); err != nil {
		t.Errorf("Read: %v", err)
	}

	got, err := d.ReadAll(ctx)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, written) {
		t.Errorf("ReadAll returned %d ids, want exactly the %d written", len(got), len(written))
	}

	h, err := d.Health(ctx)
	if err != nil {
		t.Errorf("Health: %v", err)
	} else if !h.Serving || h.Members < 1 || h.Healthy < 1 || h.Detail == "" {
		t.Errorf("Health = %+v, want serving with at least one node", h)
	}
	t.Logf("health: %s", h.Detail)
	if leader, err := d.Leader(ctx); err != nil || leader == "" {
		t.Errorf("Leader = %q, %v", leader, err)
	}

	n, err := d.DeleteData(ctx, d.Index())
	if err != nil || n != len(written) {
		t.Fatalf("DeleteData = %d, %v; want %d", n, err, len(written))
	}
	if got, err := d.ReadAll(ctx); err != nil || len(got) != 0 {
		t.Errorf("ReadAll after DeleteData = %d ids, %v; want none", len(got), err)
	}
	if err := d.Write(ctx, "after-delete"); err == nil || outcome(err) != "fail" {
		t.Errorf("Write after DeleteData = %v, want a certain failure: a write must not re-create the index", err)
	}
	if got, err := d.ReadAll(ctx); err != nil || len(got) != 0 {
		t.Errorf("ReadAll after a write into the deleted index = %d ids, %v; want none", len(got), err)
	}
}
