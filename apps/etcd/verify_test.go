package etcd

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/reboundhq/rebound/apps"
)

func TestChecksum(t *testing.T) {
	ctx := context.Background()
	dd, err := New(ctx, apps.Config{Endpoints: apps.Endpoints{URLs: []string{startMember(t)}}, Prefix: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	d := dd.(*Driver)
	defer d.Close()
	put := func(k, v string) {
		t.Helper()
		if _, err := d.cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	// More keys than one page, so paging is exercised.
	for i := range checksumPage + 5 {
		put(fmt.Sprintf("/p/%05d", i), "1")
	}
	put("/other/x", "y")

	before, err := d.Checksum(ctx, "/p/", "")
	if err != nil {
		t.Fatal(err)
	}
	if before.Records != checksumPage+5 || before.At == "" || before.Prefix != "/p/" {
		t.Fatalf("sum of /p/: %+v; want %d records and a revision", before, checksumPage+5)
	}
	all, err := d.Checksum(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if all.Records != before.Records+1 {
		t.Errorf("sum of every key: %d records, want %d (the prefix's and /other/x)", all.Records, before.Records+1)
	}

	// The same value written again changes the revision, not the data.
	put("/p/00003", "1")
	same, err := d.Checksum(ctx, "/p/", "")
	if err != nil {
		t.Fatal(err)
	}
	if !same.Equal(before) || same.At == before.At {
		t.Errorf("after rewriting a value unchanged: %+v, want the sum of %+v at a later revision", same, before)
	}

	// A changed value changes the hash; the old revision still sums as before.
	put("/p/00003", "2")
	changed, err := d.Checksum(ctx, "/p/", "")
	if err != nil {
		t.Fatal(err)
	}
	if changed.Equal(before) || changed.Records != before.Records {
		t.Errorf("after changing a value: %+v, want the same count and another hash than %+v", changed, before)
	}
	again, err := d.Checksum(ctx, "/p/", before.At)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(before) || again.At != before.At {
		t.Errorf("sum at revision %s: %+v, want %+v", before.At, again, before)
	}

	// A deleted key changes the count.
	if _, err := d.cli.Delete(ctx, "/p/00004"); err != nil {
		t.Fatal(err)
	}
	fewer, err := d.Checksum(ctx, "/p/", "")
	if err != nil {
		t.Fatal(err)
	}
	if fewer.Records != before.Records-1 {
		t.Errorf("after a delete: %d records, want %d", fewer.Records, before.Records-1)
	}

	// A compacted revision is gone, and says so.
	if _, err := d.cli.Compact(ctx, mustRev(t, fewer.At)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Checksum(ctx, "/p/", before.At); !errors.Is(err, apps.ErrPointGone) {
		t.Errorf("sum at a compacted revision: %v, want ErrPointGone", err)
	}
	if _, err := d.Checksum(ctx, "/p/", "x"); err == nil {
		t.Error("a point that is no revision was accepted")
	}
}

func mustRev(t *testing.T, s string) int64 {
	t.Helper()
	var r int64
	if _, err := fmt.Sscan(s, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
