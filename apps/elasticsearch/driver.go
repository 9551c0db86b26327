package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/reboundhq/rebound/apps"
)

func init() {
	apps.Register(apps.App{
		Name: "elasticsearch", ClientPort: 9200, Scheme: "http",
		// An index name.
		RecordsName: func(runID, scenario string) string { return fmt.Sprintf("rebound-%s-%s", runID, scenario) },
		New:         func(_ context.Context, cfg apps.Config) (apps.Driver, error) { return New(cfg) },
	})
}

// Defaults of the options.
const (
	DefaultReplicas    = 1
	DefaultReadTimeout = 2 * time.Second
	DefaultPageSize    = 5000

	// maxPageSize is Elasticsearch's default index.max_result_window.
	maxPageSize = 10000
	// pitKeepAlive only has to outlive the gap between two pages of ReadAll.
	pitKeepAlive = "1m"
)

type options struct {
	replicas    int
	readTimeout time.Duration
	pageSize    int
	targets     []string
}

// Option changes how a Driver is created.
type Option func(*options) error

// WithReplicas sets number_of_replicas of the index the driver creates on
// first use (default 1). 0 suits a single-node cluster, which can then be
// green.
func WithReplicas(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("replicas must not be negative, got %d", n)
		}
		o.replicas = n
		return nil
	}
}

// WithReadTimeout bounds each Read (default 2s) when the caller's context
// has no earlier deadline.
func WithReadTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("read timeout must be positive, got %s", d)
		}
		o.readTimeout = d
		return nil
	}
}

// WithPageSize sets how many ids each search page of ReadAll returns
// (default 5000, at most 10000).
func WithPageSize(n int) Option {
	return func(o *options) error {
		if n < 1 || n > maxPageSize {
			return fmt.Errorf("page size must be in [1, %d], got %d", maxPageSize, n)
		}
		o.pageSize = n
		return nil
	}
}

// WithTargetIndices is SetTargetIndices at creation.
func WithTargetIndices(indices ...string) Option {
	return func(o *options) error {
		o.targets = append(o.targets, indices...)
		return nil
	}
}

// Driver is an Elasticsearch cluster, connected. It implements apps.Driver:
// each record is a document whose _id is the record id, in one index named
// after Config.Prefix. It also has the snapshot API the backup engine uses
// (see snapshot.go). It is safe for concurrent use.
//
// Writes go through a write alias of the index (Alias) with require_alias,
// never to the index name: Elasticsearch auto-creates a missing index on a
// write to its name, so after a human-error fault deleted the index the
// next write would silently re-create it, empty, and hide the fault. An
// alias goes away with its index, so such a write fails instead.
type Driver struct {
	es    *es.Client
	index string
	alias string
	opts  options

	// createMu serialises index creation; a channel rather than a mutex
	// so that a caller waiting for it still honours its own deadline.
	createMu chan struct{}
	created  bool // guarded by createMu

	mu      sync.Mutex
	targets []string // indices besides the probe index whose health counts; guarded by mu
}

var (
	_ apps.Driver   = (*Driver)(nil)
	_ apps.Promiser = (*Driver)(nil)
)

// aliasSuffix names the write alias of the probe index.
const aliasSuffix = "-writes"

// New creates a driver for the cluster at cfg.Endpoints.URLs, writing to the
// index cfg.Prefix (lower-cased). It does not contact the cluster: call
// Prepare at steady state to create the index; the first Health, Write or
// Read creates it otherwise, and nothing ever re-creates it.
func New(cfg apps.Config, opts ...Option) (*Driver, error) {
	o := options{replicas: DefaultReplicas, readTimeout: DefaultReadTimeout, pageSize: DefaultPageSize}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("elasticsearch driver: %w", err)
		}
	}
	if len(cfg.Endpoints.URLs) == 0 {
		return nil, errors.New("elasticsearch driver: no endpoint URLs; give at least one, e.g. https://quickstart-es-http:9200")
	}
	index, err := indexName(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch driver: prefix: %w", err)
	}
	if len(index)+len(aliasSuffix) > 255 {
		return nil, fmt.Errorf("elasticsearch driver: prefix %q is too long: its write alias %q would pass Elasticsearch's 255 bytes; give a shorter prefix", cfg.Prefix, index+aliasSuffix)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.Dial != nil {
		tr.DialContext, tr.Proxy = cfg.Dial, nil
	}
	if slices.ContainsFunc(cfg.Endpoints.URLs, func(u string) bool { return strings.HasPrefix(u, "https://") }) {
		// Verified for cfg.ServerName whatever address is dialled (a pod
		// IP, a port-forward), or for the URL's host when it is empty.
		tc, err := cfg.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("elasticsearch driver: %w", err)
		}
		tr.TLSClientConfig = tc
	}
	client, err := es.NewClient(es.Config{
		Transport: explainTLS{tr, cfg},
		Addresses: cfg.Endpoints.URLs,
		Username:  cfg.Username,
		Password:  cfg.Password,
		// One probe is one attempt: a retry inside the client would hide
		// an outage from the availability probe and stretch its timing.
		DisableRetry: true,
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch driver: %w", err)
	}
	d := &Driver{es: client, index: index, alias: index + aliasSuffix, opts: o, createMu: make(chan struct{}, 1)}
	if err := d.SetTargetIndices(o.targets); err != nil {
		return nil, fmt.Errorf("elasticsearch driver: %w", err)
	}
	return d, nil
}

// explainTLS says, in the error of a request whose TLS failed, what to
// fix (apps.Config.ExplainTLS).
type explainTLS struct {
	rt  http.RoundTripper
	cfg apps.Config
}

func (e explainTLS) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := e.rt.RoundTrip(r)
	return res, e.cfg.ExplainTLS(err)
}

// Index is the name of the index the driver writes records to.
func (d *Driver) Index() string { return d.index }

// Alias is the name of the write alias of Index that writes go through.
func (d *Driver) Alias() string { return d.alias }

// SetTargetIndices names the indices, besides the probe index, that the
// scenario targets (spec.backup.elasticsearch.indices): Health judges the
// probe index and these, not the whole cluster, so an unrelated yellow
// index does not keep a scenario from full redundancy. Names may be
// patterns (logs-*); none means the probe index alone. It replaces any
// earlier list and is safe to call while probes run.
func (d *Driver) SetTargetIndices(indices []string) error {
	var out []string
	for i, ix := range indices {
		if err := checkTarget(ix); err != nil {
			return fmt.Errorf("target index %d: %w", i, err)
		}
		if ix != d.index && !slices.Contains(out, ix) {
			out = append(out, ix)
		}
	}
	d.mu.Lock()
	d.targets = out
	d.mu.Unlock()
	return nil
}

// TargetIndices are the indices Health judges: the probe index first, then
// those given to SetTargetIndices.
func (d *Driver) TargetIndices() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string{d.index}, d.targets...)
}

// checkTarget accepts an index name or pattern that names indices to
// include: not empty, not a list, not _all, not an exclusion.
func checkTarget(ix string) error {
	switch {
	case ix == "":
		return errors.New("the name is empty; name an index or a pattern such as logs-*")
	case ix == "_all":
		return errors.New(`"_all" is the whole cluster; name the indices the scenario targets`)
	case strings.HasPrefix(ix, "-"):
		return fmt.Errorf("%q is an exclusion; name the indices to include", ix)
	case strings.ContainsAny(ix, `, \/"<>|#:`):
		return fmt.Errorf(`%q must not contain a comma, space or any of \ / " < > | # : ; give one index or pattern per entry`, ix)
	case strings.ToLower(ix) != ix:
		return fmt.Errorf("%q has upper-case letters; Elasticsearch index names are lower-case", ix)
	}
	return nil
}

// indexName lower-cases name and checks it is a name Elasticsearch accepts
// for an index. Wildcards, lists, _all and hidden (.dot) names are refused so
// that a destructive call can only ever reach the one index it names.
func indexName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "":
		return "", errors.New("index name is empty")
	case n == "." || n == ".." || n == "_all":
		return "", fmt.Errorf("%q is not an index name", name)
	case len(n) > 255:
		return "", fmt.Errorf("index name %q is longer than 255 bytes", name)
	case strings.ContainsAny(n[:1], "-_+."):
		return "", fmt.Errorf("index name %q must not start with -, _, + or .", name)
	case strings.ContainsAny(n, `\/*?"<>|, #:`):
		return "", fmt.Errorf(`index name %q must not contain any of \ / * ? " < > | , # : or a space`, name)
	}
	return n, nil
}

// Prepare creates the probe index with the configured replicas and its
// write alias, so a run's index never depends on the cluster's auto-create
// defaults. The runner calls it once at steady state, before it waits for
// the app to be healthy; an index that already exists (a prefix used again) is kept and
// given the alias. Once it succeeded neither it nor a write ever creates
// the index again: re-creating a deleted index would hide a human-error
// fault and race a restore.
func (d *Driver) Prepare(ctx context.Context) error {
	return d.ensureIndex(ctx)
}

// ensureIndex is Prepare, done at most once; the first Health, Write or
// Read calls it when the runner has not.
func (d *Driver) ensureIndex(ctx context.Context) error {
	select {
	case d.createMu <- struct{}{}:
		defer func() { <-d.createMu }()
	case <-ctx.Done():
		return fmt.Errorf("create index %q: %w", d.index, ctx.Err())
	}
	if d.created {
		return nil
	}
	body, err := json.Marshal(map[string]any{
		"settings": map[string]any{
			"index": map[string]any{"number_of_shards": 1, "number_of_replicas": d.opts.replicas},
		},
		"mappings": map[string]any{
			"properties": map[string]any{"id": map[string]any{"type": "keyword"}},
		},
		"aliases": map[string]any{d.alias: map[string]any{"is_write_index": true}},
	})
	if err != nil {
		return err
	}
	err = into(nil)(d.es.Indices.Create(d.index,
		d.es.Indices.Create.WithContext(ctx),
		d.es.Indices.Create.WithBody(bytes.NewReader(body)),
	))
	if isAPIError(err, 400, "resource_already_exists_exception") {
		// Adding an alias the index has already is a no-op.
		err = into(nil)(d.es.Indices.PutAlias([]string{d.index}, d.alias,
			d.es.Indices.PutAlias.WithContext(ctx),
			d.es.Indices.PutAlias.WithBody(strings.NewReader(`{"is_write_index":true}`)),
		))
		if err != nil {
			return fmt.Errorf("create index %q: it exists; add its write alias %q: %w", d.index, d.alias, err)
		}
	} else if err != nil {
		return fmt.Errorf("create index %q: %w", d.index, err)
	}
	d.created = true
	return nil
}

// Write indexes the document id with op_type create. See WriteBatch for how
// the outcome is classified.
func (d *Driver) Write(ctx context.Context, id string) error {
	return d.WriteBatch(ctx, []string{id})[id]
}

// bulkItem is one item of a _bulk response, under its action name.
type bulkItem struct {
	ID     string      `json:"_id"`
	Status int         `json:"status"`
	Error  *errorCause `json:"error"`
}

// WriteBatch indexes one document per id in a single _bulk request and
// returns the outcome of every id: nil when Elasticsearch acknowledged it
// (item status 2xx), an error wrapping apps.ErrIndeterminate when the
// outcome is unknown (the request timed out, the connection was reset, or
// the answer could not be read), and any other error when it was certainly
// not applied (a failed item such as 429 es_rejected_execution_exception,
// 409 version_conflict_engine_exception or 503 unavailable_shards_exception,
// or the whole request refused, or a 404 index_not_found_exception when the
// index was deleted). Documents are created with op_type create, so an id
// is written at most once; ids must be unique within a batch. They go
// through the write alias with require_alias, so a deleted index is never
// auto-created by a write.
//
// Writes do not refresh the index; ReadAll refreshes before reading.
func (d *Driver) WriteBatch(ctx context.Context, ids []string) map[string]error {
	out := make(map[string]error, len(ids))
	all := func(err error) map[string]error {
		for _, id := range ids {
			out[id] = fmt.Errorf("write %q: %w", id, err)
		}
		return out
	}
	if len(ids) == 0 {
		return out
	}
	if err := d.ensureIndex(ctx); err != nil {
		return all(err) // nothing was sent: a certain failure
	}

	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, id := range ids {
		_ = enc.Encode(map[string]any{"create": map[string]string{"_id": id}})
		_ = enc.Encode(map[string]string{"id": id})
	}
	bulkOpts := []func(*esapi.BulkRequest){
		d.es.Bulk.WithContext(ctx),
		d.es.Bulk.WithIndex(d.alias),
		d.es.Bulk.WithRequireAlias(true),
		d.es.Bulk.WithRefresh("false"),
	}
	// Ask Elasticsearch to give up waiting for an unavailable primary
	// before we give up waiting for Elasticsearch: its 503 item is a
	// certain failure, our timeout is an unknown outcome.
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline) * 3 / 4; left >= 10*time.Millisecond {
			bulkOpts = append(bulkOpts, d.es.Bulk.WithTimeout(left))
		}
	}
	res, err := d.es.Bulk(&body, bulkOpts...)
	if err != nil {
		return all(writeError(err))
	}
	defer res.Body.Close()
	if res.IsError() {
		apiErr := responseError(res)
		if res.StatusCode == 502 || res.StatusCode == 504 {
			// A proxy between us and Elasticsearch gave up; it may
			// have forwarded the request.
			return all(fmt.Errorf("%w: %w", apps.ErrIndeterminate, apiErr))
		}
		return all(apiErr)
	}
	var resp struct {
		Items []map[string]bulkItem `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return all(fmt.Errorf("%w: read bulk response: %w", apps.ErrIndeterminate, err))
	}
	if len(resp.Items) != len(ids) {
		return all(fmt.Errorf("%w: bulk response has %d items for %d documents", apps.ErrIndeterminate, len(resp.Items), len(ids)))
	}
	for i, id := range ids {
		var item bulkItem
		for _, it := range resp.Items[i] { // one key: the action name
			item = it
		}
		switch {
		case item.Status == 0:
			out[id] = fmt.Errorf("write %q: %w: bulk item %d has no status", id, apps.ErrIndeterminate, i)
		case item.ID != "" && item.ID != id:
			out[id] = fmt.Errorf("write %q: %w: bulk item %d is for id %q", id, apps.ErrIndeterminate, i, item.ID)
		case item.Status >= 200 && item.Status < 300:
			out[id] = nil
		case item.Error != nil:
			out[id] = fmt.Errorf("write %q: %w", id, item.Error.apiError(item.Status))
		default:
			out[id] = fmt.Errorf("write %q: %w", id, &APIError{Status: item.Status, Reason: "bulk item failed without an error body"})
		}
	}
	return out
}

// shardsHeader is the _shards summary of search, count, refresh and flush
// responses.
type shardsHeader struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
}

func (s shardsHeader) err(op string) error {
	if s.Failed > 0 {
		return fmt.Errorf("%s: %d of %d shards failed", op, s.Failed, s.Total)
	}
	return nil
}

// Read counts the documents of the index: it fails when any shard of the
// index cannot answer, and it gives up after the read timeout.
func (d *Driver) Read(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.readTimeout)
	defer cancel()
	if err := d.ensureIndex(ctx); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	_, err := d.count(ctx, d.index)
	return err
}

func (d *Driver) count(ctx context.Context, index string) (int, error) {
	var r struct {
		Count  int          `json:"count"`
		Shards shardsHeader `json:"_shards"`
	}
	if err := into(&r)(d.es.Count(d.es.Count.WithContext(ctx), d.es.Count.WithIndex(index))); err != nil {
		return 0, fmt.Errorf("count %q: %w", index, err)
	}
	if err := r.Shards.err(fmt.Sprintf("count %q", index)); err != nil {
		return 0, err
	}
	return r.Count, nil
}

func (d *Driver) refresh(ctx context.Context, index string) error {
	var r struct {
		Shards shardsHeader `json:"_shards"`
	}
	if err := into(&r)(d.es.Indices.Refresh(d.es.Indices.Refresh.WithContext(ctx), d.es.Indices.Refresh.WithIndex(index))); err != nil {
		return fmt.Errorf("refresh %q: %w", index, err)
	}
	// A copy that missed the refresh could hide acknowledged writes from
	// the search and make them look lost.
	return r.Shards.err(fmt.Sprintf("refresh %q", index))
}

// ReadAll refreshes the index, then reads back the id of every document
// through a point in time, page by page with search_after, so it sees one
// consistent view however many documents there are. A missing index has no
// records. Partial results (a shard that failed) are an error, never a
// shorter list.
func (d *Driver) ReadAll(ctx context.Context) ([]string, error) {
	if err := d.refresh(ctx, d.index); err != nil {
		if isIndexNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read all: %w", err)
	}
	var pit struct {
		ID     string        `json:"id"`
		Shards *shardsHeader `json:"_shards"`
	}
	err := into(&pit)(d.es.OpenPointInTime([]string{d.index}, pitKeepAlive,
		d.es.OpenPointInTime.WithContext(ctx),
	))
	if err != nil {
		if isIndexNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read all: open point in time on %q: %w", d.index, err)
	}
	defer d.closePIT(ctx, &pit.ID)
	if pit.Shards != nil {
		if err := pit.Shards.err("read all: open point in time"); err != nil {
			return nil, err
		}
	}

	var (
		ids   []string
		after []json.RawMessage
	)
	for page := 1; ; page++ {
		req := map[string]any{
			"size":             d.opts.pageSize,
			"_source":          false,
			"track_total_hits": false,
			"pit":              map[string]string{"id": pit.ID, "keep_alive": pitKeepAlive},
			// _shard_doc is the cheapest total order of a point in time.
			"sort": []any{map[string]string{"_shard_doc": "asc"}},
		}
		if after != nil {
			req["search_after"] = after
		}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		var r struct {
			PitID    string       `json:"pit_id"`
			TimedOut bool         `json:"timed_out"`
			Shards   shardsHeader `json:"_shards"`
			Hits     struct {
				Hits []struct {
					ID   string            `json:"_id"`
					Sort []json.RawMessage `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		err = into(&r)(d.es.Search(
			d.es.Search.WithContext(ctx),
			d.es.Search.WithBody(bytes.NewReader(body)),
			d.es.Search.WithAllowPartialSearchResults(false),
		))
		if err != nil {
			return nil, fmt.Errorf("read all: search page %d: %w", page, err)
		}
		if err := r.Shards.err(fmt.Sprintf("read all: search page %d", page)); err != nil {
			return nil, err
		}
		if r.TimedOut {
			return nil, fmt.Errorf("read all: search page %d timed out with partial results", page)
		}
		if r.PitID != "" {
			pit.ID = r.PitID // the id may change from page to page
		}
		for _, h := range r.Hits.Hits {
			ids = append(ids, h.ID)
		}
		if len(r.Hits.Hits) < d.opts.pageSize {
			return ids, nil
		}
		after = r.Hits.Hits[len(r.Hits.Hits)-1].Sort
		if len(after) == 0 {
			return nil, fmt.Errorf("read all: search page %d has no sort values to continue from", page)
		}
	}
}

// closePIT frees the point in time on a fresh context, so it is released
// even when ReadAll's context has expired. A failure is not worth reporting:
// the point in time expires after its keep-alive anyway.
func (d *Driver) closePIT(ctx context.Context, id *string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	body, err := json.Marshal(map[string]string{"id": *id})
	if err != nil {
		return
	}
	_ = into(nil)(d.es.ClosePointInTime(
		d.es.ClosePointInTime.WithContext(ctx),
		d.es.ClosePointInTime.WithBody(bytes.NewReader(body)),
	))
}

// Health reads the health of the indices the scenario targets (the probe
// index and those given to SetTargetIndices), not of the whole cluster:
// Full when they are green, Serving when none is red. A missing target
// index is red. Members are the nodes in the cluster, Healthy its data
// nodes. When the cluster cannot answer (no elected master, no node
// reachable) it returns an error and a Health that is not serving.
//
// Until Prepare (or a first write or read) created the probe index, Health
// creates it, so that a runner's steady-state check, which comes first,
// judges an index that exists; as everywhere, never once it was created.
func (d *Driver) Health(ctx context.Context) (apps.Health, error) {
	if err := d.ensureIndex(ctx); err != nil {
		return apps.Health{Detail: err.Error()}, fmt.Errorf("health: %w", err)
	}
	targets := d.TargetIndices()
	var r struct {
		Status              string `json:"status"`
		TimedOut            bool   `json:"timed_out"`
		NumberOfNodes       int    `json:"number_of_nodes"`
		NumberOfDataNodes   int    `json:"number_of_data_nodes"`
		InitializingShards  int    `json:"initializing_shards"`
		UnassignedShards    int    `json:"unassigned_shards"`
		UnassignedPrimaries int    `json:"unassigned_primary_shards"`
		Indices             map[string]struct {
			Status string `json:"status"`
		} `json:"indices"`
	}
	// Named indices make Elasticsearch wait for them to exist, up to its
	// timeout (30s by default), and then answer 408 with status red: ask
	// it to give up before the caller does, and read that answer.
	timeout := 5 * time.Second
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)*3/4)
	}
	res, err := d.es.Cluster.Health(
		d.es.Cluster.Health.WithContext(ctx),
		d.es.Cluster.Health.WithIndex(targets...),
		d.es.Cluster.Health.WithLevel("indices"),
		d.es.Cluster.Health.WithTimeout(max(timeout, time.Millisecond)),
	)
	if err == nil && res.StatusCode == 408 {
		res.StatusCode = 200 // the body is a health answer; timed_out says why
	}
	if err := decode(res, err, &r); err != nil {
		return apps.Health{Detail: "no answer: " + err.Error()}, fmt.Errorf("health of %v: %w", targets, err)
	}
	if r.Status == "" {
		return apps.Health{Detail: "no status in answer"}, fmt.Errorf("health of %v: the answer has no status", targets)
	}
	detail := fmt.Sprintf("%s, %s", r.Status, plural(r.NumberOfNodes, "node"))
	if r.InitializingShards > 0 {
		detail += ", " + plural(r.InitializingShards, "initializing shard")
	}
	if r.UnassignedShards > 0 {
		detail += ", " + plural(r.UnassignedShards, "unassigned shard")
	}
	// Say which target is not green. A missing index makes Elasticsearch
	// answer red without naming any index.
	var notGreen, matched, named []string
	for _, ix := range targets {
		if strings.Contains(ix, "*") {
			continue
		}
		named = append(named, ix)
		if h, ok := r.Indices[ix]; ok && h.Status != "green" {
			notGreen = append(notGreen, ix+" "+h.Status)
		}
	}
	for ix, h := range r.Indices {
		if h.Status != "green" && !slices.Contains(targets, ix) {
			matched = append(matched, ix+" "+h.Status) // matched by a pattern
		}
	}
	slices.Sort(matched)
	notGreen = append(notGreen, matched...)
	switch {
	case r.TimedOut && len(r.Indices) == 0 && len(named) == 1:
		detail += " (" + named[0] + " missing)"
	case r.TimedOut && len(r.Indices) == 0:
		detail += " (a target index is missing: one of " + strings.Join(named, ", ") + ")"
	case len(notGreen) > 0:
		detail += " (" + strings.Join(notGreen, ", ") + ")"
	}
	return apps.Health{
		Full:    r.Status == "green",
		Serving: r.Status != "red",
		Members: r.NumberOfNodes,
		Healthy: r.NumberOfDataNodes,
		Detail:  detail,
	}, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Leader returns the name of the elected master node; in ECK a node is
// named after its pod.
func (d *Driver) Leader(ctx context.Context) (string, error) {
	var rows []struct {
		ID   string `json:"id"`
		Node string `json:"node"`
	}
	if err := into(&rows)(d.es.Cat.Master(d.es.Cat.Master.WithContext(ctx), d.es.Cat.Master.WithFormat("json"))); err != nil {
		return "", fmt.Errorf("elected master: %w", err)
	}
	if len(rows) == 0 || rows[0].Node == "" || rows[0].Node == "-" {
		return "", errors.New("elected master: the cluster has none")
	}
	return rows[0].Node, nil
}

// DeleteData deletes the index target (lower-cased) and returns how many
// documents it held. A missing index deletes nothing and is not an error.
// Wildcards, lists, _all and hidden indices are refused. When the documents
// cannot be counted nothing is deleted, so the fault is never applied
// without its measure.
func (d *Driver) DeleteData(ctx context.Context, target string) (int, error) {
	index, err := indexName(target)
	if err != nil {
		return 0, fmt.Errorf("delete data: %w", err)
	}
	if err := d.refresh(ctx, index); err != nil {
		if isIndexNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("delete data: %w", err)
	}
	n, err := d.count(ctx, index)
	if err != nil {
		if isIndexNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("delete data: %w", err)
	}
	if err := into(nil)(d.es.Indices.Delete([]string{index}, d.es.Indices.Delete.WithContext(ctx))); err != nil {
		if isIndexNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("delete data: delete index %q: %w", index, err)
	}
	return n, nil
}

// Close releases the client's connections.
func (d *Driver) Close() error {
	if err := d.es.Close(context.Background()); err != nil && !errors.Is(err, es.ErrAlreadyClosed) {
		return err
	}
	return nil
}
