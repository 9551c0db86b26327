package drill

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/reports"
)

// Check names, in the order a drill makes them.
const (
	CheckIntegrity = "integrity" // every object of the backup read, authenticated, checked against its id
	CheckRestore   = "restore"   // the engine's restore: objects, data, workloads Ready, app healthy
	CheckHealth    = "health"    // the driver's own health of the copy: full
	CheckProbeIDs  = "probe-ids" // every write-probe id acknowledged before the cut is present
	CheckChecksum  = "checksum"  // the driver's checksum of the copy equals the recorded one
)

// maxNamed is how many missing ids a failed check names before "and N more".
const maxNamed = 10

func verified(name, format string, a ...any) reports.DrillCheck {
	return reports.DrillCheck{Name: name, Status: reports.DrillVerified, Detail: fmt.Sprintf(format, a...)}
}

func failed(name, format string, a ...any) reports.DrillCheck {
	return reports.DrillCheck{Name: name, Status: reports.DrillFailed, Detail: fmt.Sprintf(format, a...)}
}

func notMade(name, format string, a ...any) reports.DrillCheck {
	return reports.DrillCheck{Name: name, Status: reports.DrillNotMade, Detail: fmt.Sprintf(format, a...)}
}

// checkHealth judges the driver's health of the copy: full is verified.
func checkHealth(h apps.Health, err error) reports.DrillCheck {
	switch {
	case err != nil:
		return failed(CheckHealth, "the app's health could not be read: %v", err)
	case !h.Full:
		return failed(CheckHealth, "the copy is not at full health: %s (serving %t)", h.Detail, h.Serving)
	}
	return verified(CheckHealth, "the copy serves and is at full health: %s", h.Detail)
}

// checkIDs compares the ids a backup recorded as acknowledged before its
// cut with the ids read back from the copy, and returns the missing ones.
// Ids read that the backup did not record are not a defect: writes in
// flight at the cut may or may not be in it, and other writers may share
// the prefix.
func checkIDs(rec *backup.ProbeRecord, read []string, readErr error) (reports.DrillCheck, []string) {
	switch {
	case rec == nil:
		return notMade(CheckProbeIDs, "no probe ids recorded in this backup: id check not made (a backup taken by rebound drill, or by a game day scenario with probes, records them)"), nil
	case readErr != nil:
		return failed(CheckProbeIDs, "the copy's records under %s could not be read back: %v", rec.Prefix, readErr), nil
	}
	present := make(map[string]bool, len(read))
	for _, id := range read {
		present[id] = true
	}
	var missing []string
	for _, id := range rec.Acked {
		if !present[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return failed(CheckProbeIDs, "%d of the %d write-probe ids acknowledged before the cut are missing under %s: %s",
			len(missing), len(rec.Acked), rec.Prefix, nameSome(missing)), missing
	}
	return verified(CheckProbeIDs, "all %d write-probe ids acknowledged before the cut are present under %s", len(rec.Acked), rec.Prefix), nil
}

// checkSums compares the checksum each data entry recorded at backup time
// with the copy's, asked at the same point of the app's history.
func checkSums(ctx context.Context, d apps.Driver, data []backup.DataEntry) reports.DrillCheck {
	var recorded []*apps.Checksum
	for _, e := range data {
		if e.Checksum != nil {
			recorded = append(recorded, e.Checksum)
		}
	}
	if len(recorded) == 0 {
		return notMade(CheckChecksum, "no checksum recorded in this backup: data check not made (its driver has none, or the backup was taken by an older rebound; see its warnings)")
	}
	v, ok := d.(apps.Verifier)
	if !ok {
		return notMade(CheckChecksum, "the app's driver cannot sum the copy's data: data check not made")
	}
	var summed []string
	for _, want := range recorded {
		got, err := v.Checksum(ctx, want.Prefix, want.At)
		switch {
		case errors.Is(err, apps.ErrPointGone):
			return notMade(CheckChecksum, "the copy no longer holds point %s of its history, which the backup summed: %v", want.At, err)
		case err != nil:
			return failed(CheckChecksum, "the copy's data could not be summed: %v", err)
		case !got.Equal(*want):
			return failed(CheckChecksum, "the copy's data differs from the backup's: %s, recorded %d records %s at %s, restored %d records %s",
				scope(want.Prefix), want.Records, want.Hash, want.At, got.Records, got.Hash)
		}
		summed = append(summed, fmt.Sprintf("%s: %d records, %s at %s", scope(want.Prefix), got.Records, got.Hash, got.At))
	}
	return verified(CheckChecksum, "the copy's data equals what the backup recorded (%s)", strings.Join(summed, "; "))
}

func scope(prefix string) string {
	if prefix == "" {
		return "every key"
	}
	return "under " + prefix
}

// nameSome lists ids, the first maxNamed of them.
func nameSome(ids []string) string {
	ids = slices.Clone(ids)
	more := ""
	if len(ids) > maxNamed {
		more = fmt.Sprintf(" and %d more", len(ids)-maxNamed)
		ids = ids[:maxNamed]
	}
	return strings.Join(ids, ", ") + more
}
