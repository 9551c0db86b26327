package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Repository types RegisterRepository accepts.
const (
	RepositoryFS    = "fs"
	RepositoryS3    = "s3"
	RepositoryAzure = "azure"
)

// RepositoryTypes lists them, for callers that check a type up front.
var RepositoryTypes = []string{RepositoryFS, RepositoryS3, RepositoryAzure}

// Snapshot states as Elasticsearch reports them.
const (
	SnapshotSuccess    = "SUCCESS"
	SnapshotPartial    = "PARTIAL"
	SnapshotFailed     = "FAILED"
	SnapshotInProgress = "IN_PROGRESS"
)

// cleanupTimeout bounds the fresh context cleanup runs on.
const cleanupTimeout = 30 * time.Second

// ShardCounts are the shard totals of a snapshot or a restore.
type ShardCounts struct {
	Total, Successful, Failed int
}

// SnapshotInfo describes one snapshot.
type SnapshotInfo struct {
	Name       string
	UUID       string
	Repository string
	Version    string // Elasticsearch version that took it
	Indices    []string
	State      string // SnapshotSuccess, SnapshotPartial, SnapshotFailed, …
	Reason     string // why it failed, when it did
	Start, End time.Time
	Shards     ShardCounts
	Failures   []string // one line per failed shard
}

// RestoreInfo describes a finished restore.
type RestoreInfo struct {
	Snapshot string
	Indices  []string // as restored, after renaming
	Shards   ShardCounts
}

// ReplaceMode says what RestoreSnapshot does with existing indices of the
// names it restores to.
type ReplaceMode string

const (
	// ReplaceNone leaves them alone: restoring over an open index fails.
	ReplaceNone ReplaceMode = ""
	// ReplaceClose closes them, and the restore overwrites the closed
	// indices. If the restore fails they stay closed with their data.
	ReplaceClose ReplaceMode = "close"
	// ReplaceDelete deletes them first. Writers that auto-create indices
	// can recreate one between the delete and the restore, which then
	// fails; prefer ReplaceClose while probes write.
	ReplaceDelete ReplaceMode = "delete"
)

// RestoreOptions select and rename what RestoreSnapshot restores.
type RestoreOptions struct {
	// Indices of the snapshot to restore, as names or * patterns; empty
	// restores all of them.
	Indices []string
	// RenamePattern and RenameReplacement rename restored indices, as
	// Elasticsearch's rename_pattern (a regular expression) and
	// rename_replacement ($1 for the first group). Both or neither. Renamed
	// indices are restored without their aliases.
	RenamePattern, RenameReplacement string
	Replace                          ReplaceMode
}

// RegisterRepository registers (or updates) the snapshot repository name of
// type fs, s3 or azure, then verifies that every master and data node can
// use it. A repository that fails verification stays registered; its error
// says why it failed.
func (d *Driver) RegisterRepository(ctx context.Context, name, typ string, settings map[string]any) error {
	if err := checkName("repository", name); err != nil {
		return err
	}
	if !slices.Contains(RepositoryTypes, typ) {
		return fmt.Errorf("snapshot repository %q: unsupported type %q (want fs, s3 or azure)", name, typ)
	}
	if settings == nil {
		settings = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"type": typ, "settings": settings})
	if err != nil {
		return fmt.Errorf("snapshot repository %q: settings: %w", name, err)
	}
	// Registration does not verify, so that a verification failure is
	// reported apart from a refused registration.
	err = into(nil)(d.es.Snapshot.CreateRepository(name, bytes.NewReader(body),
		d.es.Snapshot.CreateRepository.WithContext(ctx),
		d.es.Snapshot.CreateRepository.WithVerify(false),
	))
	if err != nil {
		return fmt.Errorf("register snapshot repository %q (%s): %w", name, typ, err)
	}
	if err := d.VerifyRepository(ctx, name); err != nil {
		return fmt.Errorf("%w (type %s)", err, typ)
	}
	return nil
}

// VerifyRepository checks that every master and data node can use the
// snapshot repository name (POST _snapshot/<name>/_verify).
func (d *Driver) VerifyRepository(ctx context.Context, name string) error {
	var v struct {
		Nodes map[string]struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	err := into(&v)(d.es.Snapshot.VerifyRepository(name, d.es.Snapshot.VerifyRepository.WithContext(ctx)))
	if err != nil {
		return fmt.Errorf("snapshot repository %q failed verification; every master and data node must be able to read and write it: %w", name, err)
	}
	if len(v.Nodes) == 0 {
		return fmt.Errorf("snapshot repository %q failed verification: no node verified it", name)
	}
	return nil
}

// RepositoryInfo is how a snapshot repository is registered: enough to
// register the same storage in another cluster.
type RepositoryInfo struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings,omitempty"`
}

// Repository returns the registration of the snapshot repository name
// (GET _snapshot/<name>); ok is false when the cluster has none by it.
func (d *Driver) Repository(ctx context.Context, name string) (info RepositoryInfo, ok bool, err error) {
	if err := checkName("repository", name); err != nil {
		return RepositoryInfo{}, false, err
	}
	var v map[string]RepositoryInfo
	err = into(&v)(d.es.Snapshot.GetRepository(d.es.Snapshot.GetRepository.WithContext(ctx), d.es.Snapshot.GetRepository.WithRepository(name)))
	var ae *APIError
	if errors.As(err, &ae) && ae.Type == "repository_missing_exception" {
		return RepositoryInfo{}, false, nil
	}
	if err != nil {
		return RepositoryInfo{}, false, fmt.Errorf("get snapshot repository %q: %w", name, err)
	}
	info, ok = v[name]
	return info, ok, nil
}

// PrepareRepository makes the snapshot repository name ready for a
// snapshot or a restore and returns its registration. With want, it is
// registered (or updated) as want says; without, it must be registered
// already. Either way every node must verify it.
func (d *Driver) PrepareRepository(ctx context.Context, name string, want *RepositoryInfo) (RepositoryInfo, error) {
	if want != nil {
		if err := d.RegisterRepository(ctx, name, want.Type, want.Settings); err != nil {
			return RepositoryInfo{}, err
		}
	}
	info, ok, err := d.Repository(ctx, name)
	if err != nil {
		return RepositoryInfo{}, err
	}
	if !ok {
		return RepositoryInfo{}, fmt.Errorf("snapshot repository %q is not registered in the cluster: register it, or give its type (fs, s3 or azure) and settings and rebound registers it", name)
	}
	if want == nil {
		if err := d.VerifyRepository(ctx, name); err != nil {
			return RepositoryInfo{}, err
		}
	}
	return info, nil
}

// BlockWrites adds a write block to the indices (PUT /<indices>/_block/write)
// and waits until every shard has applied it, so no write is in flight
// once it returns.
func (d *Driver) BlockWrites(ctx context.Context, indices ...string) error {
	if len(indices) == 0 {
		return errors.New("block writes: no indices")
	}
	var r struct {
		Acknowledged       bool `json:"acknowledged"`
		ShardsAcknowledged bool `json:"shards_acknowledged"`
		Indices            []struct {
			Name    string `json:"name"`
			Blocked bool   `json:"blocked"`
		} `json:"indices"`
	}
	if err := into(&r)(d.es.Indices.AddBlock(indices, "write", d.es.Indices.AddBlock.WithContext(ctx))); err != nil {
		return fmt.Errorf("block writes on %v: %w", indices, err)
	}
	if !r.Acknowledged || !r.ShardsAcknowledged {
		return fmt.Errorf("block writes on %v: not acknowledged by every shard", indices)
	}
	for _, ix := range r.Indices {
		if !ix.Blocked {
			return fmt.Errorf("block writes on %v: index %q was not blocked", indices, ix.Name)
		}
	}
	return nil
}

// UnblockWrites lifts the write block of the indices (index.blocks.write
// set to false). It is idempotent.
func (d *Driver) UnblockWrites(ctx context.Context, indices ...string) error {
	if len(indices) == 0 {
		return errors.New("unblock writes: no indices")
	}
	err := into(nil)(d.es.Indices.PutSettings(strings.NewReader(`{"index":{"blocks":{"write":false}}}`),
		d.es.Indices.PutSettings.WithContext(ctx),
		d.es.Indices.PutSettings.WithIndex(indices...),
	))
	if err != nil {
		return fmt.Errorf("unblock writes on %v (to do it by hand: PUT /%s/_settings {\"index.blocks.write\": false}): %w",
			indices, strings.Join(indices, ","), err)
	}
	return nil
}

// Flush commits the indices to disk (POST /<indices>/_flush).
func (d *Driver) Flush(ctx context.Context, indices ...string) error {
	if len(indices) == 0 {
		return errors.New("flush: no indices")
	}
	var r struct {
		Shards shardsHeader `json:"_shards"`
	}
	if err := into(&r)(d.es.Indices.Flush(d.es.Indices.Flush.WithContext(ctx), d.es.Indices.Flush.WithIndex(indices...))); err != nil {
		return fmt.Errorf("flush %v: %w", indices, err)
	}
	return r.Shards.err(fmt.Sprintf("flush %v", indices))
}

// writeBlocked returns, for each index the names resolve to, whether it
// already has a write block.
func (d *Driver) writeBlocked(ctx context.Context, indices []string) (map[string]bool, error) {
	var r map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	err := into(&r)(d.es.Indices.GetSettings(
		d.es.Indices.GetSettings.WithContext(ctx),
		d.es.Indices.GetSettings.WithIndex(indices...),
		d.es.Indices.GetSettings.WithName("index.blocks.write"),
		d.es.Indices.GetSettings.WithFlatSettings(true),
	))
	if err != nil {
		return nil, fmt.Errorf("read write blocks of %v: %w", indices, err)
	}
	out := make(map[string]bool, len(r))
	for name, ix := range r {
		out[name] = fmt.Sprint(ix.Settings["index.blocks.write"]) == "true"
	}
	return out, nil
}

// Freeze blocks writes to the indices and flushes them, so a snapshot taken
// next is one consistent point in time. Call unfreeze to lift the block;
// it is never nil, safe to call more than once, and runs on a fresh context
// (bounded by 30s) so it still lifts the block after ctx expired:
//
//	unfreeze, err := d.Freeze(ctx, indices)
//	defer unfreeze(ctx)
//	if err != nil { … }
//
// No indices means the driver's probe index. Indices that were
// write-blocked before Freeze stay blocked. When Freeze fails it has
// already tried to lift what it blocked; its error says if that failed
// too.
func (d *Driver) Freeze(ctx context.Context, indices []string) (unfreeze func(context.Context) error, err error) {
	unfreeze = func(context.Context) error { return nil }
	if len(indices) == 0 {
		indices = []string{d.index}
	}
	blocked, err := d.writeBlocked(ctx, indices)
	if err != nil {
		return unfreeze, fmt.Errorf("freeze: %w", err)
	}
	var ours []string
	for name, b := range blocked {
		if !b {
			ours = append(ours, name)
		}
	}
	sort.Strings(ours)
	if len(ours) > 0 {
		unfreeze = func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			return d.UnblockWrites(ctx, ours...)
		}
		// Lift on error too: a failed add-block can leave some
		// indices blocked.
		if err := d.BlockWrites(ctx, ours...); err != nil {
			return unfreeze, errors.Join(fmt.Errorf("freeze: %w", err), unfreeze(ctx))
		}
	}
	if err := d.Flush(ctx, indices...); err != nil {
		return unfreeze, errors.Join(fmt.Errorf("freeze: %w", err), unfreeze(ctx))
	}
	return unfreeze, nil
}

// snapshotJSON is a snapshot as the snapshot APIs return it.
type snapshotJSON struct {
	Snapshot          string   `json:"snapshot"`
	UUID              string   `json:"uuid"`
	Repository        string   `json:"repository"`
	Version           string   `json:"version"`
	Indices           []string `json:"indices"`
	State             string   `json:"state"`
	Reason            string   `json:"reason"`
	StartTimeInMillis int64    `json:"start_time_in_millis"`
	EndTimeInMillis   int64    `json:"end_time_in_millis"`
	Failures          []struct {
		Index   string `json:"index"`
		ShardID int    `json:"shard_id"`
		Reason  string `json:"reason"`
		NodeID  string `json:"node_id"`
		Status  string `json:"status"`
	} `json:"failures"`
	Shards shardsHeader `json:"shards"`
}

func (s snapshotJSON) info(repo string) SnapshotInfo {
	info := SnapshotInfo{
		Name:       s.Snapshot,
		UUID:       s.UUID,
		Repository: s.Repository,
		Version:    s.Version,
		Indices:    s.Indices,
		State:      s.State,
		Reason:     s.Reason,
		Shards:     ShardCounts{Total: s.Shards.Total, Successful: s.Shards.Successful, Failed: s.Shards.Failed},
	}
	if info.Repository == "" {
		info.Repository = repo
	}
	if s.StartTimeInMillis > 0 {
		info.Start = time.UnixMilli(s.StartTimeInMillis).UTC()
	}
	if s.EndTimeInMillis > 0 {
		info.End = time.UnixMilli(s.EndTimeInMillis).UTC()
	}
	for _, f := range s.Failures {
		info.Failures = append(info.Failures, fmt.Sprintf("%s[%d] on node %s: %s", f.Index, f.ShardID, f.NodeID, f.Reason))
	}
	return info
}

// CreateSnapshot snapshots the indices (and no cluster state) into repo and
// waits until it is done. Anything but state SUCCESS with no failed shard is
// an error, returned with the SnapshotInfo Elasticsearch gave so the caller
// can report or delete it.
func (d *Driver) CreateSnapshot(ctx context.Context, repo, snapshot string, indices []string) (SnapshotInfo, error) {
	if err := checkName("repository", repo); err != nil {
		return SnapshotInfo{}, err
	}
	if err := checkName("snapshot", snapshot); err != nil {
		return SnapshotInfo{}, err
	}
	if len(indices) == 0 {
		return SnapshotInfo{}, fmt.Errorf("snapshot %q: no indices; name the indices of the app", snapshot)
	}
	body, err := json.Marshal(map[string]any{
		"indices":              indices,
		"ignore_unavailable":   false,
		"include_global_state": false,
		"partial":              false,
	})
	if err != nil {
		return SnapshotInfo{}, err
	}
	var r struct {
		Snapshot *snapshotJSON `json:"snapshot"`
	}
	err = into(&r)(d.es.Snapshot.Create(repo, snapshot,
		d.es.Snapshot.Create.WithContext(ctx),
		d.es.Snapshot.Create.WithBody(bytes.NewReader(body)),
		d.es.Snapshot.Create.WithWaitForCompletion(true),
	))
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot %s:%s: %w", repo, snapshot, err)
	}
	if r.Snapshot == nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot %s:%s: the answer has no snapshot", repo, snapshot)
	}
	info := r.Snapshot.info(repo)
	if info.State != SnapshotSuccess || info.Shards.Failed > 0 {
		msg := fmt.Sprintf("snapshot %s:%s: state %s, %d of %d shards failed", repo, snapshot, info.State, info.Shards.Failed, info.Shards.Total)
		if info.Reason != "" {
			msg += ": " + info.Reason
		}
		if len(info.Failures) > 0 {
			msg += ": " + strings.Join(info.Failures, "; ")
		}
		return info, errors.New(msg)
	}
	return info, nil
}

// ConsistentSnapshot freezes the indices, snapshots them and lifts the
// block, whatever happened: the block is lifted on a fresh context even when
// the snapshot failed or ctx expired.
func (d *Driver) ConsistentSnapshot(ctx context.Context, repo, snapshot string, indices []string) (info SnapshotInfo, err error) {
	unfreeze, err := d.Freeze(ctx, indices)
	defer func() { err = errors.Join(err, unfreeze(ctx)) }()
	if err != nil {
		return SnapshotInfo{}, err
	}
	return d.CreateSnapshot(ctx, repo, snapshot, indices)
}

// getSnapshot reads one snapshot of repo.
func (d *Driver) getSnapshot(ctx context.Context, repo, snapshot string) (SnapshotInfo, error) {
	var r struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	if err := into(&r)(d.es.Snapshot.Get(repo, []string{snapshot}, d.es.Snapshot.Get.WithContext(ctx))); err != nil {
		return SnapshotInfo{}, fmt.Errorf("get snapshot %s:%s: %w", repo, snapshot, err)
	}
	if len(r.Snapshots) != 1 {
		return SnapshotInfo{}, fmt.Errorf("get snapshot %s:%s: %d snapshots in the answer, want 1", repo, snapshot, len(r.Snapshots))
	}
	return r.Snapshots[0].info(repo), nil
}

// ListSnapshots lists the snapshots of repo, oldest first.
func (d *Driver) ListSnapshots(ctx context.Context, repo string) ([]SnapshotInfo, error) {
	if err := checkName("repository", repo); err != nil {
		return nil, err
	}
	var r struct {
		Snapshots []snapshotJSON `json:"snapshots"`
	}
	if err := into(&r)(d.es.Snapshot.Get(repo, []string{"_all"},
		d.es.Snapshot.Get.WithContext(ctx),
		d.es.Snapshot.Get.WithSort("start_time"),
	)); err != nil {
		return nil, fmt.Errorf("list snapshots of %q: %w", repo, err)
	}
	out := make([]SnapshotInfo, 0, len(r.Snapshots))
	for _, s := range r.Snapshots {
		out = append(out, s.info(repo))
	}
	return out, nil
}

// DeleteSnapshot deletes one snapshot of repo; one that does not exist is
// already deleted. Wildcards and lists are refused.
func (d *Driver) DeleteSnapshot(ctx context.Context, repo, snapshot string) error {
	if err := checkName("repository", repo); err != nil {
		return err
	}
	if err := checkName("snapshot", snapshot); err != nil {
		return err
	}
	err := into(nil)(d.es.Snapshot.Delete(repo, []string{snapshot}, d.es.Snapshot.Delete.WithContext(ctx)))
	if err != nil && !isAPIError(err, 404, "snapshot_missing_exception") {
		return fmt.Errorf("delete snapshot %s:%s: %w", repo, snapshot, err)
	}
	return nil
}

// RestoreSnapshot restores indices of a snapshot and waits until it is done.
// With a Replace mode it first closes or deletes the existing indices the
// restore would write to (after renaming). A failed shard is an error.
func (d *Driver) RestoreSnapshot(ctx context.Context, repo, snapshot string, opts RestoreOptions) (RestoreInfo, error) {
	fail := func(err error) (RestoreInfo, error) {
		return RestoreInfo{}, fmt.Errorf("restore snapshot %s:%s: %w", repo, snapshot, err)
	}
	if err := checkName("repository", repo); err != nil {
		return RestoreInfo{}, err
	}
	if err := checkName("snapshot", snapshot); err != nil {
		return RestoreInfo{}, err
	}
	if (opts.RenamePattern == "") != (opts.RenameReplacement == "") {
		return fail(errors.New("give both RenamePattern and RenameReplacement, or neither"))
	}
	switch opts.Replace {
	case ReplaceNone, ReplaceClose, ReplaceDelete:
	default:
		return fail(fmt.Errorf("unknown replace mode %q (want %q, %q or empty)", opts.Replace, ReplaceClose, ReplaceDelete))
	}
	if opts.Replace != ReplaceNone {
		targets, err := d.restoreTargets(ctx, repo, snapshot, opts)
		if err != nil {
			return fail(err)
		}
		for _, t := range targets {
			if err := d.clear(ctx, t, opts.Replace); err != nil {
				return fail(err)
			}
		}
	}

	req := map[string]any{"include_global_state": false}
	if len(opts.Indices) > 0 {
		req["indices"] = opts.Indices
	}
	if opts.RenamePattern != "" {
		req["rename_pattern"] = opts.RenamePattern
		req["rename_replacement"] = opts.RenameReplacement
		// A renamed copy sits beside the live index: it must not join
		// the live index's aliases, the probe's write alias above all,
		// or writes through it would find two indices. Restored in
		// place, the aliases come back with the index.
		req["include_aliases"] = false
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail(err)
	}
	var r struct {
		Snapshot *struct {
			Snapshot string       `json:"snapshot"`
			Indices  []string     `json:"indices"`
			Shards   shardsHeader `json:"shards"`
		} `json:"snapshot"`
	}
	err = into(&r)(d.es.Snapshot.Restore(repo, snapshot,
		d.es.Snapshot.Restore.WithContext(ctx),
		d.es.Snapshot.Restore.WithBody(bytes.NewReader(body)),
		d.es.Snapshot.Restore.WithWaitForCompletion(true),
	))
	if err != nil {
		return fail(err)
	}
	if r.Snapshot == nil {
		return fail(errors.New("the answer has no restore result"))
	}
	info := RestoreInfo{
		Snapshot: r.Snapshot.Snapshot,
		Indices:  r.Snapshot.Indices,
		Shards:   ShardCounts{Total: r.Snapshot.Shards.Total, Successful: r.Snapshot.Shards.Successful, Failed: r.Snapshot.Shards.Failed},
	}
	if info.Shards.Failed > 0 {
		return info, fmt.Errorf("restore snapshot %s:%s: %d of %d shards failed", repo, snapshot, info.Shards.Failed, info.Shards.Total)
	}
	return info, nil
}

// restoreTargets names the indices a restore will write to: the snapshot's
// indices selected by opts.Indices, renamed as Elasticsearch will.
func (d *Driver) restoreTargets(ctx context.Context, repo, snapshot string, opts RestoreOptions) ([]string, error) {
	info, err := d.getSnapshot(ctx, repo, snapshot)
	if err != nil {
		return nil, err
	}
	var rename *regexp.Regexp
	if opts.RenamePattern != "" {
		// Elasticsearch applies Java's replaceAll; Go's regexp agrees
		// for the patterns people use for renaming.
		if rename, err = regexp.Compile(opts.RenamePattern); err != nil {
			return nil, fmt.Errorf("rename pattern: %w", err)
		}
	}
	var out []string
	for _, ix := range info.Indices {
		if !selected(ix, opts.Indices) {
			continue
		}
		if rename != nil {
			ix = rename.ReplaceAllString(ix, javaGroups.ReplaceAllString(opts.RenameReplacement, "$${$1}"))
		}
		out = append(out, ix)
	}
	return out, nil
}

// javaGroups finds Java's $n group references, which Go spells ${n} when
// letters or digits follow.
var javaGroups = regexp.MustCompile(`\$(\d)`)

func selected(index string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, index); ok {
			return true
		}
	}
	return false
}

// clear closes or deletes index before a restore over it; a missing index
// needs neither.
func (d *Driver) clear(ctx context.Context, index string, mode ReplaceMode) error {
	name, err := indexName(index)
	if err != nil || name != index {
		return fmt.Errorf("refusing to replace index %q: not a plain index name", index)
	}
	switch mode {
	case ReplaceClose:
		err = into(nil)(d.es.Indices.Close([]string{index}, d.es.Indices.Close.WithContext(ctx)))
	case ReplaceDelete:
		err = into(nil)(d.es.Indices.Delete([]string{index}, d.es.Indices.Delete.WithContext(ctx)))
	}
	if err != nil && !isIndexNotFound(err) {
		return fmt.Errorf("%s existing index %q: %w", mode, index, err)
	}
	return nil
}

// checkName refuses empty names, wildcards and lists, so a call reaches
// exactly one repository or snapshot.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is empty", what)
	}
	if name == "_all" || strings.ContainsAny(name, "*,/ ") {
		return fmt.Errorf("%s name %q must not be _all or contain *, comma, / or space", what, name)
	}
	return nil
}
