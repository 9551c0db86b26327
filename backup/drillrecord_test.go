package backup

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/apps/etcd"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/clock"

	"github.com/reboundhq/rebound/internal/etcdtest"
)

// A backup of an app whose driver is an apps.Verifier records the
// driver's sum of the data at the cut's revision, and the write-probe ids
// its caller says were acknowledged before the cut: what a drill checks.
func TestBackupRecordsChecksumAndProbeIDsForDrills(t *testing.T) {
	ctx := context.Background()
	ep := etcdtest.Start(t, "a", nil)
	d, err := etcd.New(ctx, apps.Config{Endpoints: apps.Endpoints{URLs: []string{ep}}, Prefix: "/drill"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for i := range 20 {
		if err := d.Write(ctx, fmt.Sprintf("id-%02d", 19-i)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := NewEngine(ctx, filepath.Join(t.TempDir(), "repo"), repo.GenerateKey(), newHarness(t, shopObjects("shop")...).kube, WithInit())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var askedAt clock.Instant
	res, err := e.Backup(ctx, Request{Namespace: "shop", Selector: shopSelector, DriverName: "etcd", Driver: d, Data: DataNative,
		Probes: func(cut clock.Instant) *ProbeRecord {
			askedAt = cut
			return &ProbeRecord{Driver: "etcd", Prefix: "/drill", Acked: []string{"id-02", "id-01"}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if askedAt != m.CutAt || askedAt.IsZero() {
		t.Errorf("probe ids asked at %v, want the cut %v", askedAt, m.CutAt)
	}
	if m.Probes == nil || !slices.Equal(m.Probes.Acked, []string{"id-01", "id-02"}) || m.Probes.Prefix != "/drill" {
		t.Errorf("manifest probes %+v, want the two ids sorted under /drill", m.Probes)
	}
	sum := m.Data[0].Checksum
	if sum == nil {
		t.Fatalf("no checksum recorded; warnings %v", m.Warnings)
	}
	if sum.Records != 20 || sum.Prefix != "" || sum.At != m.Data[0].Position || sum.At == "" {
		t.Errorf("checksum %+v: want 20 keys of the whole keyspace at the cut's revision %s", sum, m.Data[0].Position)
	}
	// The recorded sum is the data at the cut, whatever is written after.
	if err := d.Write(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	again, err := d.(apps.Verifier).Checksum(ctx, "", sum.At)
	if err != nil || !again.Equal(*sum) {
		t.Errorf("sum at the cut's revision after another write: %+v, %v; want %+v", again, err, *sum)
	}
	// The manifest carries both through the repository.
	_, stored, err := e.Describe(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Probes == nil || len(stored.Probes.Acked) != 2 || stored.Data[0].Checksum == nil || !stored.Data[0].Checksum.Equal(*sum) {
		t.Errorf("stored manifest: probes %+v, checksum %+v", stored.Probes, stored.Data[0].Checksum)
	}
}
