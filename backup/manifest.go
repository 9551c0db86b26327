package backup

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
)

// ManifestFormat is the version of Manifest this build writes. It reads
// it and format 1, whose data entries held each app's fields
// (legacyDataEntry).
const ManifestFormat = 2

// Object names inside a backup's repository snapshot.
const (
	manifestObject = "manifest.json"
	resourcePrefix = "resources/" // resources/<resource>/<name>.json
	secretPrefix   = "secrets/"   // secrets/<name>.sealed
)

// Tags and metadata keys of repository snapshots.
const (
	// TagBackup marks a backup's own snapshot: list shows only these.
	TagBackup = "rebound-backup"

	metaName      = "rebound.name"
	metaNamespace = "rebound.namespace"
	metaSelector  = "rebound.selector"
	metaDriver    = "rebound.driver"
	metaLevel     = "rebound.level"
	metaCut       = "rebound.cut"
	// The cut and the finish on the host's monotonic clock, "boot@nanos".
	metaCutAt      = "rebound.cut-at"
	metaFinishedAt = "rebound.finished-at"
	metaCutUnknown = "rebound.cut-unknown"
)

// Manifest describes one backup: what it holds and how consistent it is.
// It is stored in the backup as manifest.json; with the repository URL and
// key it is all a restore needs.
type Manifest struct {
	Format    int    `json:"format"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace"`
	Selector  string `json:"selector,omitempty"`
	Driver    string `json:"driver,omitempty"`
	// SecretRef names the Secret of the namespace holding the driver's
	// credentials (username, password, ca.crt), as a scenario's
	// endpoints.secretRef; a restore connects to the restored app with it.
	SecretRef string    `json:"secretRef,omitempty"`
	Tags      []string  `json:"tags,omitempty"`
	Started   time.Time `json:"started"`
	// Cut is the instant of the consistent cut: every write acknowledged
	// before it is in the backup. When CutUnknown is set it is only when
	// the data's copy began.
	Cut time.Time `json:"cut"`
	// CutAt is the cut on the monotonic clock of the host that took it, so
	// that a game day on that host (and boot) places it on its timeline
	// without trusting wall clocks; zero when CutUnknown is set.
	CutAt clock.Instant `json:"cutAt,omitzero"`
	// CutUnknown says why the data is consistent to no known instant (a
	// crash-level copy of volumes made file by file while the app ran).
	CutUnknown string    `json:"cutUnknown,omitempty"`
	Finished   time.Time `json:"finished"`
	// FinishedAt is Finished on the host's monotonic clock: all the data
	// was read before it, cut or not.
	FinishedAt clock.Instant `json:"finishedAt,omitzero"`
	// Level is what the backup as a whole achieved; Layers says per layer.
	Level  Level  `json:"level"`
	Layers Layers `json:"layers"`
	// NamespaceObject is the namespace as captured (labels, annotations),
	// for a restore into an empty cluster.
	NamespaceObject string          `json:"namespaceObject,omitempty"`
	Resources       []ResourceEntry `json:"resources,omitempty"`
	Data            []DataEntry     `json:"data,omitempty"`
	// Probes are the write-probe ids acknowledged before the cut, when the
	// backup was taken while probes wrote (a game day's, a drill's own): a
	// restore of it must hold every one. Nil when none were recorded.
	Probes   *ProbeRecord `json:"probes,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// ProbeRecord is the write-probe ids a backup must hold, and where they
// live in the app.
type ProbeRecord struct {
	// Driver and Prefix say how to read the ids back: the app driver and
	// the prefix its records were written under (apps.Config.Prefix).
	Driver string `json:"driver"`
	Prefix string `json:"prefix"`
	// Acked are the ids acknowledged before the cut, sorted.
	Acked []string `json:"acked"`
}

// Layers is what each layer of the app holds in the backup.
type Layers struct {
	Data     Level `json:"data"`     // the weakest level of the data entries; none without data
	Config   bool  `json:"config"`   // ConfigMaps and Secrets captured
	Metadata bool  `json:"metadata"` // workloads, services, PVCs, PDBs, RBAC captured
}

// ResourceEntry is one Kubernetes object in the backup.
type ResourceEntry struct {
	Resource string `json:"resource"` // group resource, "statefulsets.apps"
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Object   string `json:"object"`           // name of the object in the snapshot
	Sealed   bool   `json:"sealed,omitempty"` // encrypted apart (Secrets)
}

// DataPVCCopy is the kind of a data entry that is the copy of a volume's
// files; the kinds of native data are the drivers' own
// (apps.NativeData.Kind).
const DataPVCCopy = "pvc"

// DataEntry is one piece of application data in the backup: native data a
// driver wrote (apps.NativeData: its kind, objects, size, position and
// what its restore needs), or the copy of a volume.
type DataEntry struct {
	apps.NativeData
	Level Level `json:"level"`
	// pvc: the claim and the repository snapshot of its files.
	PVC      string `json:"pvc,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	// Checksum is the driver's sum of this data as the backup holds it
	// (etcd: every key, at the position of the cut's read), for a drill
	// to compare with the restored copy; nil when the driver has no
	// apps.Verifier or the sum failed (a warning says why).
	Checksum *apps.Checksum `json:"checksum,omitempty"`
}

// formatInstant writes an instant into snapshot metadata ("" when zero).
func formatInstant(i clock.Instant) string {
	if i.IsZero() {
		return ""
	}
	return i.Boot + "@" + strconv.FormatInt(int64(i.Monotonic), 10)
}

// parseInstant reads formatInstant's form; anything else is the zero
// (unknown) instant.
func parseInstant(s string) clock.Instant {
	boot, n, ok := strings.Cut(s, "@")
	v, err := strconv.ParseInt(n, 10, 64)
	if !ok || boot == "" || err != nil {
		return clock.Instant{}
	}
	return clock.Instant{Boot: boot, Monotonic: time.Duration(v)}
}

func decodeManifest(b []byte) (*Manifest, error) {
	m := new(Manifest)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	switch m.Format {
	case ManifestFormat:
	case 1:
		if err := upgradeFormat1(b, m); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("manifest format %d: this build reads formats 1 to %d; restore it with a newer rebound", m.Format, ManifestFormat)
	}
	return m, nil
}

// legacyDataEntry is what a format 1 data entry holds that DataEntry no
// longer has: the fields of each kind of data side by side. Object and
// Revision were an etcd snapshot's; the others (an Elasticsearch
// snapshot's) go to Params as they were written, where the driver reads
// them under the same names.
type legacyDataEntry struct {
	Object   string `json:"object,omitempty"`
	Revision int64  `json:"revision,omitempty"`
}

// legacyCommon are the format 1 fields that are not the driver's own:
// they stay where DataEntry has them, or map to NativeData's.
var legacyCommon = map[string]bool{
	"kind": true, "level": true, "pvc": true, "snapshot": true, "size": true, "checksum": true,
	"object": true, "revision": true, "endpoint": true,
}

// upgradeFormat1 maps the data entries of a format 1 manifest onto
// NativeData: object → Objects, revision → Position, and the driver's
// other fields into Params, as they were written.
func upgradeFormat1(b []byte, m *Manifest) error {
	var raw struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	if len(raw.Data) != len(m.Data) {
		return fmt.Errorf("decode manifest: %d data entries, read %d", len(raw.Data), len(m.Data))
	}
	for i, fields := range raw.Data {
		var old legacyDataEntry
		fb, _ := json.Marshal(fields)
		if err := json.Unmarshal(fb, &old); err != nil {
			return fmt.Errorf("decode manifest: data[%d]: %w", i, err)
		}
		d := &m.Data[i]
		if d.Kind == DataPVCCopy {
			continue
		}
		if old.Object != "" {
			d.Objects = []string{old.Object}
		}
		if old.Revision != 0 {
			d.Position = strconv.FormatInt(old.Revision, 10)
		}
		params := map[string]json.RawMessage{}
		for k, v := range fields {
			if !legacyCommon[k] {
				params[k] = v
			}
		}
		if len(params) > 0 {
			pb, err := json.Marshal(params)
			if err != nil {
				return err
			}
			d.Params = pb
		}
	}
	m.Format = ManifestFormat
	return nil
}

// overallLevel works out the level a backup achieved from its layers:
// system when data (app or db level), config and metadata are all there;
// else the data's own level.
func overallLevel(l Layers, hasData bool) Level {
	if !hasData {
		return LevelNone
	}
	if l.Config && l.Metadata && l.Data.AtLeast(LevelApp) {
		return LevelSystem
	}
	return l.Data
}

// weakest is the weakest level of the data entries.
func weakest(entries []DataEntry) Level {
	if len(entries) == 0 {
		return LevelNone
	}
	w := LevelSystem
	for _, e := range entries {
		if levelRank[e.Level] < levelRank[w] {
			w = e.Level
		}
	}
	return w
}
