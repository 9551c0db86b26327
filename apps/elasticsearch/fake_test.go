package elasticsearch_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeElasticsearch stands in for an Elasticsearch 8 cluster: an in-memory
// set of indices behind the REST endpoints the driver calls, answering with
// the status codes, headers and JSON bodies Elasticsearch 8 sends (bodies
// follow the documented examples). Writes are only searchable after a
// refresh, as in Elasticsearch. Tests set its cluster state and make chosen
// operations misbehave.
type fakeElasticsearch struct {
	t   testing.TB
	srv *httptest.Server
	URL string

	mu         sync.Mutex
	indices    map[string]*fakeIndex
	status     string // of _cluster/health
	nodes      int
	dataNodes  int
	unassigned int
	master     string // elected master node name; "" answers 503 master_not_discovered_exception
	itemStatus map[string]int
	misbehave  map[string]misbehaviour
	verifyFail bool
	failShard  bool              // snapshots end PARTIAL with one failed shard
	repos      map[string]string // name → type
	// name → settings, as strings. Snapshots are per repository name, as
	// if every registration under a name pointed at the same storage.
	repoSettings map[string]map[string]any
	snapshots    map[string]map[string]*fakeSnapshot // repo → name → snapshot
	pits         map[string]*fakePIT                 // current id → point in time
	pitSeq       int
	searchFail   int // fail the n-th search page of a point in time (1-based); 0 never
	// noAutoCreate refuses to create an index on a write to a missing
	// one, as action.auto_create_index: false does; Elasticsearch's
	// default, and the fake's, is to create it.
	noAutoCreate bool
	ops          []string
	queries      map[string][]string // op → raw query of each request
}

type fakeIndex struct {
	docs        []string // ids in write order
	has         map[string]bool
	visible     int // docs[:visible] are searchable: refreshed
	writeBlock  bool
	closed      bool
	unavailable bool // no copy of its shard is assigned
	shards      int
	replicas    int
	aliases     map[string]aliasMeta
	health      string            // of _cluster/health/<index>; "" is green
	settings    map[string]string // further index settings, flat, as GET _settings reports them
}

type aliasMeta struct {
	IsWriteIndex *bool `json:"is_write_index,omitempty"`
}

type fakeSnapshot struct {
	uuid    string
	indices map[string][]string
	aliases map[string]map[string]aliasMeta // index → its aliases
	state   string
	failed  int
	start   time.Time
}

type fakePIT struct {
	index string
	ids   []string
	pages int
}

// misbehaviour is what an operation does instead of answering.
type misbehaviour struct {
	stall  bool   // hold the request until the client gives up
	reset  bool   // read the request, then drop the connection
	status int    // answer with this status and body
	body   string //
}

func newFakeElasticsearch(t testing.TB) *fakeElasticsearch { return startFakeElasticsearch(t, nil) }

// newFakeElasticsearchTLS is the stand-in serving HTTPS with cfg (its
// certificate, and whether it asks for a client certificate), as ECK's
// Elasticsearch does by default. Its URL is https://127.0.0.1:<port>.
func newFakeElasticsearchTLS(t testing.TB, cfg *tls.Config) *fakeElasticsearch {
	return startFakeElasticsearch(t, cfg)
}

func startFakeElasticsearch(t testing.TB, tlsConfig *tls.Config) *fakeElasticsearch {
	f := &fakeElasticsearch{
		t:            t,
		indices:      map[string]*fakeIndex{},
		status:       "green",
		nodes:        3,
		dataNodes:    3,
		master:       "quickstart-es-default-0",
		itemStatus:   map[string]int{},
		misbehave:    map[string]misbehaviour{},
		repos:        map[string]string{},
		repoSettings: map[string]map[string]any{},
		snapshots:    map[string]map[string]*fakeSnapshot{},
		pits:         map[string]*fakePIT{},
		queries:      map[string][]string{},
	}
	// httptest listens on 127.0.0.1 only.
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	if tlsConfig != nil {
		f.srv.TLS = tlsConfig
		// The handshakes tests make fail on purpose are no news.
		f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// seed puts ids in index, written but not yet refreshed.
func (f *fakeElasticsearch) seed(index string, ids ...string) *fakeIndex {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.put(index, ids...)
}

// put is seed for the functions given to set, which hold the lock.
func (f *fakeElasticsearch) put(index string, ids ...string) *fakeIndex {
	ix := f.indices[index]
	if ix == nil {
		ix = newFakeIndex(1, 1)
		f.indices[index] = ix
	}
	for _, id := range ids {
		if !ix.has[id] {
			ix.has[id] = true
			ix.docs = append(ix.docs, id)
		}
	}
	return ix
}

func newFakeIndex(shards, replicas int) *fakeIndex {
	return &fakeIndex{has: map[string]bool{}, shards: shards, replicas: replicas, aliases: map[string]aliasMeta{}, settings: map[string]string{}}
}

// aliased returns the index an alias points to, as a write through it
// resolves: its write index, or its only index.
func (f *fakeElasticsearch) aliased(alias string) (index string, ok bool) {
	var all []string
	for name, ix := range f.indices {
		if m, has := ix.aliases[alias]; has {
			if m.IsWriteIndex != nil && *m.IsWriteIndex {
				return name, true
			}
			all = append(all, name)
		}
	}
	if len(all) == 1 {
		return all[0], true
	}
	return "", false
}

// queried returns the raw queries of every request of op.
func (f *fakeElasticsearch) queried(op string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries[op]...)
}

func (f *fakeElasticsearch) set(fn func(f *fakeElasticsearch)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeElasticsearch) index(name string) (fakeIndex, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ix, ok := f.indices[name]
	if !ok {
		return fakeIndex{}, false
	}
	c := *ix
	c.docs = append([]string(nil), ix.docs...)
	return c, true
}

// did reports whether an operation was requested.
func (f *fakeElasticsearch) did(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.ops {
		if o == op {
			return true
		}
	}
	return false
}

func (f *fakeElasticsearch) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.ops {
		if o == op {
			n++
		}
	}
	return n
}

func (f *fakeElasticsearch) openPITs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pits)
}

// route names the operation of a request and its path parameters.
func route(r *http.Request) (op string, p []string) {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	m := r.Method
	switch {
	case len(seg) == 1 && seg[0] == "_bulk", len(seg) == 2 && seg[1] == "_bulk":
		return "bulk", seg
	case len(seg) == 1 && seg[0] == "_search":
		return "search", seg
	case len(seg) == 1 && seg[0] == "_pit" && m == http.MethodDelete:
		return "pit.close", seg
	case len(seg) == 2 && seg[0] == "_cluster" && seg[1] == "health",
		len(seg) == 3 && seg[0] == "_cluster" && seg[1] == "health":
		return "health", seg
	case len(seg) == 2 && seg[0] == "_cat" && seg[1] == "master":
		return "master", seg
	case seg[0] == "_snapshot":
		switch {
		case len(seg) == 2 && m == http.MethodPut:
			return "repo.put", seg
		case len(seg) == 2 && m == http.MethodGet:
			return "repo.get", seg
		case len(seg) == 3 && seg[2] == "_verify":
			return "repo.verify", seg
		case len(seg) == 3 && m == http.MethodPut:
			return "snapshot.create", seg
		case len(seg) == 3 && m == http.MethodGet:
			return "snapshot.get", seg
		case len(seg) == 3 && m == http.MethodDelete:
			return "snapshot.delete", seg
		case len(seg) == 4 && seg[3] == "_restore":
			return "snapshot.restore", seg
		}
	case len(seg) == 1 && m == http.MethodPut:
		return "index.create", seg
	case len(seg) == 1 && m == http.MethodDelete:
		return "index.delete", seg
	case len(seg) == 2:
		switch seg[1] {
		case "_count":
			return "count", seg
		case "_refresh":
			return "refresh", seg
		case "_pit":
			return "pit.open", seg
		case "_flush":
			return "flush", seg
		case "_close":
			return "index.close", seg
		case "_settings":
			if m == http.MethodPut {
				return "settings.put", seg
			}
			return "settings.all", seg
		}
	case len(seg) == 3 && (seg[1] == "_alias" || seg[1] == "_aliases") && m == http.MethodPut:
		return "alias.put", seg
	case len(seg) == 3 && seg[1] == "_block":
		return "block", seg
	case len(seg) == 3 && seg[1] == "_settings" && m == http.MethodGet:
		return "settings.get", seg
	}
	return r.Method + " " + r.URL.Path, seg
}

func (f *fakeElasticsearch) serve(w http.ResponseWriter, r *http.Request) {
	op, seg := route(r)
	body, _ := io.ReadAll(r.Body)

	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.queries[op] = append(f.queries[op], r.URL.RawQuery)
	mb, bad := f.misbehave[op]
	f.mu.Unlock()

	if bad {
		switch {
		case mb.stall:
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
				f.t.Errorf("fake elasticsearch: %s stalled 10s and the client never gave up", op)
			}
			return
		case mb.reset:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		case mb.status != 0:
			// Proxies answer too, so the body is sent as given.
			if strings.HasPrefix(mb.body, "{") {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				w.Header().Set("Content-Type", "application/json")
			} else {
				w.Header().Set("Content-Type", "text/html")
			}
			w.WriteHeader(mb.status)
			_, _ = io.WriteString(w, mb.body)
			return
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	switch op {
	case "bulk":
		f.bulk(w, seg, q, body)
	case "index.create":
		f.createIndex(w, seg[0], body)
	case "index.delete":
		if f.indices[seg[0]] == nil {
			indexNotFound(w, seg[0])
			return
		}
		delete(f.indices, seg[0])
		writeJSON(w, 200, map[string]any{"acknowledged": true})
	case "index.close":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		closed := map[string]any{}
		for _, n := range ixs {
			f.indices[n].closed = true
			closed[n] = map[string]any{"closed": true}
		}
		writeJSON(w, 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "indices": closed})
	case "count":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		n := 0
		for _, name := range ixs {
			ix := f.indices[name]
			if ix.unavailable {
				allShardsFailed(w, "query")
				return
			}
			n += ix.visible
		}
		writeJSON(w, 200, map[string]any{"count": n, "_shards": shards(len(ixs), len(ixs), 0)})
	case "refresh":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		total, ok2 := 0, 0
		for _, name := range ixs {
			ix := f.indices[name]
			total += ix.shards * (1 + ix.replicas)
			if !ix.unavailable {
				ix.visible = len(ix.docs)
				ok2 += ix.shards * (1 + ix.replicas)
			}
		}
		// Unassigned copies count in total, not as failed.
		writeJSON(w, 200, map[string]any{"_shards": shards(total, ok2, 0)})
	case "flush":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		total := 0
		for _, name := range ixs {
			total += f.indices[name].shards * (1 + f.indices[name].replicas)
		}
		writeJSON(w, 200, map[string]any{"_shards": shards(total, total, 0)})
	case "pit.open":
		f.openPIT(w, seg[0], q)
	case "pit.close":
		var req struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &req)
		_, ok := f.pits[req.ID]
		delete(f.pits, req.ID)
		n := 0
		if ok {
			n = 1
		}
		writeJSON(w, 200, map[string]any{"succeeded": true, "num_freed": n})
	case "search":
		f.search(w, q, body)
	case "health":
		if f.master == "" {
			masterNotDiscovered(w)
			return
		}
		f.health(w, seg, q)
	case "alias.put":
		ix := f.indices[seg[0]]
		if ix == nil {
			indexNotFound(w, seg[0])
			return
		}
		var m aliasMeta
		if len(body) > 0 {
			_ = json.Unmarshal(body, &m)
		}
		ix.aliases[seg[2]] = m
		writeJSON(w, 200, map[string]any{"acknowledged": true, "errors": false})
	case "settings.all":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		if get(q, "flat_settings") != "true" {
			f.t.Errorf("fake elasticsearch: GET _settings without flat_settings")
		}
		out := map[string]any{}
		for _, n := range ixs {
			ix := f.indices[n]
			settings := map[string]string{
				"index.number_of_shards":   strconv.Itoa(ix.shards),
				"index.number_of_replicas": strconv.Itoa(ix.replicas),
				"index.provided_name":      n,
				"index.uuid":               "kV7mzNF4QbSGu1UhqHbHkA",
				"index.version.created":    "8521000",
			}
			for k, v := range ix.settings {
				settings[k] = v
			}
			entry := map[string]any{"settings": settings}
			if get(q, "include_defaults") == "true" {
				defaults := map[string]string{"index.write.wait_for_active_shards": "1", "index.translog.durability": "REQUEST", "index.refresh_interval": "1s"}
				for k := range settings {
					delete(defaults, k)
				}
				entry["defaults"] = defaults
			}
			out[n] = entry
		}
		writeJSON(w, 200, out)
	case "master":
		if f.master == "" {
			masterNotDiscovered(w)
			return
		}
		writeJSON(w, 200, []map[string]string{{"id": "4Qnv7sHqSvWvgEXlQs5wzw", "host": "10.244.1.17", "ip": "10.244.1.17", "node": f.master}})
	case "block":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		var out []map[string]any
		for _, n := range ixs {
			f.indices[n].writeBlock = true
			out = append(out, map[string]any{"name": n, "blocked": true})
		}
		writeJSON(w, 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "indices": out})
	case "settings.put":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		var s struct {
			Index struct {
				Blocks struct {
					Write *bool `json:"write"`
				} `json:"blocks"`
			} `json:"index"`
		}
		if err := json.Unmarshal(body, &s); err != nil || s.Index.Blocks.Write == nil {
			esError(w, 400, "illegal_argument_exception", "the fake only knows index.blocks.write, got "+string(body))
			return
		}
		for _, n := range ixs {
			f.indices[n].writeBlock = *s.Index.Blocks.Write
		}
		writeJSON(w, 200, map[string]any{"acknowledged": true})
	case "settings.get":
		ixs, ok := f.resolve(w, seg[0])
		if !ok {
			return
		}
		out := map[string]any{}
		for _, n := range ixs {
			settings := map[string]string{}
			if f.indices[n].writeBlock {
				settings["index.blocks.write"] = "true"
			}
			out[n] = map[string]any{"settings": settings}
		}
		writeJSON(w, 200, out)
	case "repo.put":
		var req struct {
			Type     string         `json:"type"`
			Settings map[string]any `json:"settings"`
		}
		_ = json.Unmarshal(body, &req)
		if q.Get("verify") != "false" {
			f.t.Errorf("fake elasticsearch: repository registered with verification on")
		}
		f.repos[seg[1]] = req.Type
		// Elasticsearch reports every setting back as a string.
		settings := map[string]any{}
		for k, v := range req.Settings {
			settings[k] = fmt.Sprint(v)
		}
		f.repoSettings[seg[1]] = settings
		writeJSON(w, 200, map[string]any{"acknowledged": true})
	case "repo.get":
		if !f.repoExists(w, seg[1]) {
			return
		}
		writeJSON(w, 200, map[string]any{seg[1]: map[string]any{"type": f.repos[seg[1]], "settings": f.repoSettings[seg[1]]}})
	case "repo.verify":
		if !f.repoExists(w, seg[1]) {
			return
		}
		if f.verifyFail {
			reason := fmt.Sprintf("[%[1]s] [[RsJ4ntXlQbq3dN2vC7xwvA, 'RemoteTransportException[[quickstart-es-default-1][10.244.1.18:9300][internal:admin/repository/verify]]; nested: RepositoryVerificationException[[%[1]s] a file written by master to the store [/usr/share/elasticsearch/snapshots] cannot be accessed on the node [{quickstart-es-default-1}{RsJ4ntXlQbq3dN2vC7xwvA}]. This might indicate that the store [/usr/share/elasticsearch/snapshots] is not shared between this node and the master node or that permissions on the store don't allow reading files written by the master node];']]", seg[1])
			esError(w, 500, "repository_verification_exception", reason)
			return
		}
		writeJSON(w, 200, map[string]any{"nodes": map[string]any{
			"4Qnv7sHqSvWvgEXlQs5wzw": map[string]string{"name": "quickstart-es-default-0"},
			"RsJ4ntXlQbq3dN2vC7xwvA": map[string]string{"name": "quickstart-es-default-1"},
		}})
	case "snapshot.create":
		f.createSnapshot(w, seg[1], seg[2], q, body)
	case "snapshot.get":
		f.getSnapshots(w, seg[1], seg[2])
	case "snapshot.delete":
		if !f.repoExists(w, seg[1]) {
			return
		}
		if f.snapshots[seg[1]][seg[2]] == nil {
			snapshotMissing(w, seg[1], seg[2])
			return
		}
		delete(f.snapshots[seg[1]], seg[2])
		writeJSON(w, 200, map[string]any{"acknowledged": true})
	case "snapshot.restore":
		f.restore(w, seg[1], seg[2], body)
	default:
		f.t.Errorf("fake elasticsearch: unexpected request %s %s", r.Method, r.URL)
		esError(w, 400, "illegal_argument_exception", "the fake does not know "+op)
	}
}

// health answers _cluster/health, for the whole cluster (its status is
// f.status) or for the named indices (the worst of theirs). A named index
// that does not exist makes Elasticsearch wait for it until the request's
// timeout and then answer 408, status red, timed_out, with no indices.
func (f *fakeElasticsearch) health(w http.ResponseWriter, seg []string, q map[string][]string) {
	status, code, timedOut := f.status, 200, false
	indices := map[string]any{}
	unassigned := f.unassigned
	if len(seg) == 3 {
		rank := map[string]int{"green": 0, "yellow": 1, "red": 2}
		status, unassigned = "green", 0
		var names []string
		for _, part := range strings.Split(seg[2], ",") {
			if strings.Contains(part, "*") {
				for name := range f.indices {
					if ok, _ := path.Match(part, name); ok {
						names = append(names, name)
					}
				}
				continue
			}
			if f.indices[part] == nil {
				if get(q, "timeout") == "" {
					f.t.Errorf("fake elasticsearch: health of missing index %q asked without a timeout: Elasticsearch would wait 30s", part)
				}
				status, code, timedOut, indices, names = "red", 408, true, map[string]any{}, nil
				break
			}
			names = append(names, part)
		}
		for _, name := range names {
			ix := f.indices[name]
			h := ix.health
			if h == "" {
				h = "green"
			}
			if rank[h] > rank[status] {
				status = h
			}
			if h != "green" {
				unassigned += ix.replicas
			}
			indices[name] = map[string]any{"status": h, "number_of_shards": ix.shards, "number_of_replicas": ix.replicas}
		}
	}
	active := 0
	for _, ix := range f.indices {
		active += ix.shards * (1 + ix.replicas)
	}
	resp := map[string]any{
		"cluster_name":                     "quickstart",
		"status":                           status,
		"timed_out":                        timedOut,
		"number_of_nodes":                  f.nodes,
		"number_of_data_nodes":             f.dataNodes,
		"active_primary_shards":            len(f.indices),
		"active_shards":                    active - unassigned,
		"relocating_shards":                0,
		"initializing_shards":              0,
		"unassigned_shards":                unassigned,
		"unassigned_primary_shards":        0,
		"delayed_unassigned_shards":        0,
		"number_of_pending_tasks":          0,
		"number_of_in_flight_fetch":        0,
		"task_max_waiting_in_queue_millis": 0,
		"active_shards_percent_as_number":  100.0,
	}
	if get(q, "level") == "indices" {
		resp["indices"] = indices
	}
	writeJSON(w, code, resp)
}

// bulk answers _bulk as Elasticsearch does: the target is the index in the
// path or an item's _index; an alias resolves to its write index; a missing
// index is auto-created unless noAutoCreate, and with require_alias a
// target that is not an alias fails its item with 404.
func (f *fakeElasticsearch) bulk(w http.ResponseWriter, seg []string, q map[string][]string, body []byte) {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var items []map[string]any
	errs := false
	for {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := dec.Decode(&action); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			esError(w, 400, "x_content_parse_exception", err.Error())
			return
		}
		var source json.RawMessage
		if err := dec.Decode(&source); err != nil {
			esError(w, 400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
			return
		}
		for verb, meta := range action {
			index := meta.Index
			if index == "" && len(seg) == 2 {
				index = seg[0]
			}
			item := f.bulkItem(index, meta.ID, get(q, "require_alias") == "true")
			if s := item["status"].(int); s < 200 || s > 299 {
				errs = true
			}
			items = append(items, map[string]any{verb: item})
		}
	}
	writeJSON(w, 200, map[string]any{"errors": errs, "took": 3, "items": items})
}

func (f *fakeElasticsearch) bulkItem(index, id string, requireAlias bool) map[string]any {
	item := map[string]any{"_index": index, "_id": id}
	if target, ok := f.aliased(index); ok {
		index = target
		item["_index"] = target
	} else if requireAlias {
		reason := fmt.Sprintf("no such index [%[1]s] and [require_alias] request flag is [true] and [%[1]s] is not an alias", index)
		item["status"] = 404
		item["error"] = map[string]any{"type": "index_not_found_exception", "reason": reason, "index_uuid": "_na_", "index": index}
		return item
	}
	fail := func(status int, typ, reason string) map[string]any {
		item["status"] = status
		item["error"] = map[string]any{"type": typ, "reason": reason, "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA", "shard": "0", "index": index}
		return item
	}
	ix := f.indices[index]
	switch forced := f.itemStatus[id]; {
	case forced == 429:
		item["status"] = 429
		item["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=104857440, replica_bytes=0, all_bytes=104857440, coordinating_operation_bytes=98, max_coordinating_and_primary_bytes=104857600]"}
		return item
	case forced == 503:
		return fail(503, "unavailable_shards_exception", fmt.Sprintf("[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[%s][0]] containing [create {[%s][%s], source[n/a, actual length: [12b], max length: 2kb]}]]", index, index, index, id))
	case ix != nil && ix.closed:
		return fail(400, "index_closed_exception", "closed")
	case ix != nil && ix.writeBlock:
		item["status"] = 403
		item["error"] = map[string]any{"type": "cluster_block_exception", "reason": fmt.Sprintf("index [%s] blocked by: [FORBIDDEN/8/index write (api)];", index)}
		return item
	case ix != nil && ix.has[id]:
		return fail(409, "version_conflict_engine_exception", fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", id))
	}
	if ix == nil && f.noAutoCreate {
		item["status"] = 404
		item["error"] = map[string]any{"type": "index_not_found_exception", "reason": fmt.Sprintf("no such index [%s] and [action.auto_create_index] is [false]", index), "index_uuid": "_na_", "index": index}
		return item
	}
	if ix == nil { // auto-created with Elasticsearch's defaults
		ix = newFakeIndex(1, 1)
		f.indices[index] = ix
	}
	ix.has[id] = true
	ix.docs = append(ix.docs, id)
	item["_version"] = 1
	item["result"] = "created"
	item["_shards"] = shards(2, 2, 0)
	item["_seq_no"] = len(ix.docs) - 1
	item["_primary_term"] = 1
	item["status"] = 201
	return item
}

func (f *fakeElasticsearch) createIndex(w http.ResponseWriter, name string, body []byte) {
	if f.indices[name] != nil {
		esError(w, 400, "resource_already_exists_exception", fmt.Sprintf("index [%s/kV7mzNF4QbSGu1UhqHbHkA] already exists", name))
		return
	}
	var req struct {
		Settings struct {
			Index struct {
				Shards   int `json:"number_of_shards"`
				Replicas int `json:"number_of_replicas"`
			} `json:"index"`
		} `json:"settings"`
		Aliases map[string]aliasMeta `json:"aliases"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		esError(w, 400, "parse_exception", err.Error())
		return
	}
	for alias := range req.Aliases {
		if f.indices[alias] != nil {
			esError(w, 400, "invalid_alias_name_exception", fmt.Sprintf("Invalid alias name [%s]: an index or data stream exists with the same name as the alias", alias))
			return
		}
	}
	ix := newFakeIndex(req.Settings.Index.Shards, req.Settings.Index.Replicas)
	for alias, m := range req.Aliases {
		ix.aliases[alias] = m
	}
	f.indices[name] = ix
	writeJSON(w, 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
}

// resolve expands a comma list of index names and * patterns, answering
// 404 index_not_found_exception for a missing concrete name.
func (f *fakeElasticsearch) resolve(w http.ResponseWriter, expr string) ([]string, bool) {
	var out []string
	for _, part := range strings.Split(expr, ",") {
		if strings.Contains(part, "*") {
			for name := range f.indices {
				if ok, _ := path.Match(part, name); ok {
					out = append(out, name)
				}
			}
			continue
		}
		if f.indices[part] == nil {
			indexNotFound(w, part)
			return nil, false
		}
		out = append(out, part)
	}
	sort.Strings(out)
	return out, true
}

func (f *fakeElasticsearch) openPIT(w http.ResponseWriter, index string, q map[string][]string) {
	if get(q, "keep_alive") == "" {
		esError(w, 400, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not specified;")
		return
	}
	ixs, ok := f.resolve(w, index)
	if !ok {
		return
	}
	pit := &fakePIT{index: index}
	for _, name := range ixs {
		ix := f.indices[name]
		if ix.unavailable {
			allShardsFailed(w, "open_pit")
			return
		}
		pit.ids = append(pit.ids, ix.docs[:ix.visible]...)
	}
	f.pitSeq++
	id := fmt.Sprintf("gcSHBAEJcmVib3VuZC0xFkVyZnNwSVRJUjZHaXRyXzVpUGZ3LWcAFk%d-0", f.pitSeq)
	f.pits[id] = pit
	writeJSON(w, 200, map[string]any{"id": id, "_shards": map[string]int{"total": 1, "successful": 1, "skipped": 0, "failed": 0}})
}

func (f *fakeElasticsearch) search(w http.ResponseWriter, q map[string][]string, body []byte) {
	var req struct {
		Size int `json:"size"`
		Pit  *struct {
			ID string `json:"id"`
		} `json:"pit"`
		Sort        []map[string]string `json:"sort"`
		SearchAfter []int               `json:"search_after"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		esError(w, 400, "parsing_exception", err.Error())
		return
	}
	if req.Pit == nil {
		f.t.Errorf("fake elasticsearch: search without a point in time")
		esError(w, 400, "illegal_argument_exception", "the fake only searches points in time")
		return
	}
	if req.Size > 10000 {
		esError(w, 400, "illegal_argument_exception", fmt.Sprintf("Result window is too large, from + size must be less than or equal to: [10000] but was [%d].", req.Size))
		return
	}
	if len(req.Sort) != 1 || req.Sort[0]["_shard_doc"] == "" {
		f.t.Errorf("fake elasticsearch: search sorted by %v, want _shard_doc", req.Sort)
	}
	pit := f.pits[req.Pit.ID]
	if pit == nil {
		esError(w, 404, "search_context_missing_exception", "No search context found for id ["+req.Pit.ID+"]")
		return
	}
	pit.pages++
	if pit.pages == f.searchFail {
		if get(q, "allow_partial_search_results") == "false" {
			allShardsFailed(w, "query")
			return
		}
		writeJSON(w, 200, map[string]any{"took": 1, "timed_out": false, "_shards": map[string]any{"total": 1, "successful": 0, "skipped": 0, "failed": 1}, "hits": map[string]any{"max_score": nil, "hits": []any{}}})
		return
	}
	from := 0
	if len(req.SearchAfter) == 1 {
		from = req.SearchAfter[0] + 1
	}
	var hits []map[string]any
	for i := from; i < len(pit.ids) && len(hits) < req.Size; i++ {
		hits = append(hits, map[string]any{"_index": pit.index, "_id": pit.ids[i], "_score": nil, "sort": []int{i}})
	}
	// Elasticsearch may hand out a new id with every page; the fake
	// always does and forgets the old one.
	delete(f.pits, req.Pit.ID)
	id := strings.TrimSuffix(req.Pit.ID, "-"+strconv.Itoa(pit.pages-1)) + "-" + strconv.Itoa(pit.pages)
	f.pits[id] = pit
	if hits == nil {
		hits = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{
		"pit_id": id, "took": 2, "timed_out": false,
		"_shards": map[string]int{"total": 1, "successful": 1, "skipped": 0, "failed": 0},
		"hits":    map[string]any{"max_score": nil, "hits": hits},
	})
}

func (f *fakeElasticsearch) repoExists(w http.ResponseWriter, repo string) bool {
	if f.repos[repo] == "" {
		esError(w, 404, "repository_missing_exception", "["+repo+"] missing")
		return false
	}
	return true
}

func (f *fakeElasticsearch) createSnapshot(w http.ResponseWriter, repo, name string, q map[string][]string, body []byte) {
	if !f.repoExists(w, repo) {
		return
	}
	if get(q, "wait_for_completion") != "true" {
		f.t.Errorf("fake elasticsearch: snapshot created without wait_for_completion=true")
	}
	if f.snapshots[repo][name] != nil {
		esError(w, 400, "invalid_snapshot_name_exception", fmt.Sprintf("[%s:%s] Invalid snapshot name [%s], snapshot with the same name already exists", repo, name, name))
		return
	}
	var req struct {
		Indices []string `json:"indices"`
	}
	_ = json.Unmarshal(body, &req)
	ixs, ok := f.resolve(w, strings.Join(req.Indices, ","))
	if !ok {
		return
	}
	s := &fakeSnapshot{uuid: fmt.Sprintf("dKb54xw67gvdRctLCxSsog%d", len(f.snapshots[repo])), indices: map[string][]string{}, aliases: map[string]map[string]aliasMeta{}, state: "SUCCESS", start: time.Date(2026, 3, 14, 9, 0, len(f.snapshots[repo]), 0, time.UTC)}
	for _, n := range ixs {
		// A snapshot copies what was written, refreshed or not, and
		// the index's aliases.
		s.indices[n] = append([]string(nil), f.indices[n].docs...)
		s.aliases[n] = map[string]aliasMeta{}
		for a, m := range f.indices[n].aliases {
			s.aliases[n][a] = m
		}
	}
	if f.failShard {
		s.state, s.failed = "PARTIAL", 1
	}
	if f.snapshots[repo] == nil {
		f.snapshots[repo] = map[string]*fakeSnapshot{}
	}
	f.snapshots[repo][name] = s
	writeJSON(w, 200, map[string]any{"snapshot": snapshotBody(repo, name, s)})
}

func snapshotBody(repo, name string, s *fakeSnapshot) map[string]any {
	var indices []string
	for n := range s.indices {
		indices = append(indices, n)
	}
	sort.Strings(indices)
	failures := []any{}
	if s.failed > 0 {
		failures = append(failures, map[string]any{
			"index": indices[0], "index_uuid": indices[0], "shard_id": 0,
			"reason":  "IndexShardSnapshotFailedException[Failed to snapshot]; nested: IOException[No space left on device]",
			"node_id": "RsJ4ntXlQbq3dN2vC7xwvA", "status": "INTERNAL_SERVER_ERROR",
		})
	}
	end := s.start.Add(1500 * time.Millisecond)
	return map[string]any{
		"snapshot": name, "uuid": s.uuid, "repository": repo,
		"version_id": 8190799, "version": "8.19.7",
		"indices": indices, "data_streams": []string{}, "include_global_state": false,
		"state":                s.state,
		"start_time":           s.start.Format("2006-01-02T15:04:05.000Z"),
		"start_time_in_millis": s.start.UnixMilli(),
		"end_time":             end.Format("2006-01-02T15:04:05.000Z"),
		"end_time_in_millis":   end.UnixMilli(),
		"duration_in_millis":   1500,
		"failures":             failures,
		"shards":               shards(len(indices), len(indices)-s.failed, s.failed),
		"feature_states":       []any{},
	}
}

func (f *fakeElasticsearch) getSnapshots(w http.ResponseWriter, repo, name string) {
	if !f.repoExists(w, repo) {
		return
	}
	var out []map[string]any
	if name == "_all" || name == "*" {
		names := make([]string, 0, len(f.snapshots[repo]))
		for n := range f.snapshots[repo] {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			return f.snapshots[repo][names[i]].start.Before(f.snapshots[repo][names[j]].start)
		})
		for _, n := range names {
			out = append(out, snapshotBody(repo, n, f.snapshots[repo][n]))
		}
	} else {
		s := f.snapshots[repo][name]
		if s == nil {
			snapshotMissing(w, repo, name)
			return
		}
		out = append(out, snapshotBody(repo, name, s))
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"snapshots": out, "total": len(out), "remaining": 0})
}

func (f *fakeElasticsearch) restore(w http.ResponseWriter, repo, name string, body []byte) {
	if !f.repoExists(w, repo) {
		return
	}
	s := f.snapshots[repo][name]
	if s == nil {
		snapshotMissing(w, repo, name)
		return
	}
	var req struct {
		Indices           []string `json:"indices"`
		RenamePattern     string   `json:"rename_pattern"`
		RenameReplacement string   `json:"rename_replacement"`
		IncludeAliases    *bool    `json:"include_aliases"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		esError(w, 400, "parse_exception", err.Error())
		return
	}
	var targets [][2]string // snapshot index, restored name
	for src := range s.indices {
		keep := len(req.Indices) == 0
		for _, p := range req.Indices {
			if ok, _ := path.Match(p, src); ok {
				keep = true
			}
		}
		if !keep {
			continue
		}
		dst := src
		if req.RenamePattern != "" {
			// Java's replaceAll: $1 is group 1.
			repl := regexp.MustCompile(`\$(\d)`).ReplaceAllString(req.RenameReplacement, "$${$1}")
			dst = regexp.MustCompile(req.RenamePattern).ReplaceAllString(src, repl)
		}
		if ix := f.indices[dst]; ix != nil && !ix.closed {
			esError(w, 500, "snapshot_restore_exception", fmt.Sprintf("[%s:%s/%s] cannot restore index [%s] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name", repo, name, s.uuid, dst))
			return
		}
		targets = append(targets, [2]string{src, dst})
	}
	var restored []string
	for _, t := range targets {
		docs := append([]string(nil), s.indices[t[0]]...)
		ix := newFakeIndex(1, 1)
		ix.docs, ix.visible = docs, len(docs)
		for _, id := range docs {
			ix.has[id] = true
		}
		if req.IncludeAliases == nil || *req.IncludeAliases { // Elasticsearch's default: true
			for a, m := range s.aliases[t[0]] {
				ix.aliases[a] = m
			}
		}
		f.indices[t[1]] = ix
		restored = append(restored, t[1])
	}
	sort.Strings(restored)
	writeJSON(w, 200, map[string]any{"snapshot": map[string]any{
		"snapshot": name, "indices": restored, "shards": shards(len(restored), len(restored), 0),
	}})
}

func get(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func shards(total, successful, failed int) map[string]int {
	return map[string]int{"total": total, "successful": successful, "failed": failed}
}

// writeJSON answers as Elasticsearch 8 does; the v8 client refuses an
// answer without X-Elastic-Product.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// esError answers with Elasticsearch's error body.
func esError(w http.ResponseWriter, status int, typ, reason string) {
	cause := map[string]any{"type": typ, "reason": reason}
	writeJSON(w, status, map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	})
}

func indexNotFound(w http.ResponseWriter, index string) {
	cause := map[string]any{
		"type": "index_not_found_exception", "reason": "no such index [" + index + "]",
		"resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_", "index": index,
	}
	writeJSON(w, 404, map[string]any{
		"error": map[string]any{
			"root_cause": []any{cause}, "type": "index_not_found_exception", "reason": "no such index [" + index + "]",
			"resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_", "index": index,
		},
		"status": 404,
	})
}

func allShardsFailed(w http.ResponseWriter, phase string) {
	writeJSON(w, 503, map[string]any{
		"error": map[string]any{
			"root_cause": []any{}, "type": "search_phase_execution_exception", "reason": "all shards failed",
			"phase": phase, "grouped": true, "failed_shards": []any{},
		},
		"status": 503,
	})
}

func masterNotDiscovered(w http.ResponseWriter) {
	writeJSON(w, 503, map[string]any{
		"error": map[string]any{
			"root_cause": []any{map[string]any{"type": "master_not_discovered_exception", "reason": nil}},
			"type":       "master_not_discovered_exception", "reason": nil,
		},
		"status": 503,
	})
}

func snapshotMissing(w http.ResponseWriter, repo, name string) {
	esError(w, 404, "snapshot_missing_exception", fmt.Sprintf("[%s:%s] is missing", repo, name))
}
