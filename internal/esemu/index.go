package esemu

import (
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// primaryTerm is the primary term of every shard: the emulated primaries
// never fail over.
const primaryTerm = 1

// index is one index, with a single shard.
type index struct {
	name     string
	uuid     string
	created  int64 // epoch millis
	replicas int   // index.number_of_replicas: _shards.total is 1+replicas, of which 1 succeeds
	mapping  *mapping
	fields   int // mapped fields, for index.mapping.total_fields.limit

	// docs holds the current version of every document, and a tombstone
	// for every deleted one (Elasticsearch keeps them for
	// index.gc_deletes, 60s; the emulator keeps them forever).
	docs map[string]*doc
	// searchable is what the last refresh made visible to search.
	searchable map[string]*doc
	// dirty holds the ids written since the last refresh.
	dirty map[string]struct{}
	// seqNo is the next sequence number.
	seqNo int64
}

// doc is one version of a document. It is never modified (but for the
// cache of its parsed source): a write replaces it.
type doc struct {
	id      string
	source  []byte
	parsed  *value // parsed source, parsed when first needed; s.mu guards it
	version int64
	seqNo   int64
	deleted bool
}

// tree returns the parsed source. Keeping only the bytes of documents
// until something reads them keeps the memory of large benchmarks low.
func (d *doc) tree() *value {
	if d.parsed == nil {
		v, err := parseJSON(d.source)
		if err != nil {
			v = value{kind: kObj, obj: []member{}}
		}
		d.parsed = &v
	}
	return d.parsed
}

func newIndex(name string) *index {
	return &index{
		name:       name,
		uuid:       randomID(22),
		created:    time.Now().UnixMilli(),
		replicas:   1,
		mapping:    newRootMapping(),
		docs:       map[string]*doc{},
		searchable: map[string]*doc{},
		dirty:      map[string]struct{}{},
	}
}

// shards is the _shards object of a write response.
func (ix *index) shards() obj {
	return obj{{"total", 1 + ix.replicas}, {"successful", 1}, {"failed", 0}}
}

// put stores a new version of a document, to be searchable at the next
// refresh.
func (ix *index) put(d *doc) {
	ix.docs[d.id] = d
	ix.dirty[d.id] = struct{}{}
}

func (ix *index) nextSeqNo() int64 {
	n := ix.seqNo
	ix.seqNo++
	return n
}

// refresh makes every write so far visible to search.
func (ix *index) refresh() {
	for id := range ix.dirty {
		d := ix.docs[id]
		if d == nil || d.deleted {
			delete(ix.searchable, id)
		} else {
			ix.searchable[id] = d
		}
	}
	clear(ix.dirty)
}

// validateIndexName applies Elasticsearch's rules for a new index's name
// (MetadataCreateIndexService.validateIndexOrAliasName and
// validateIndexName), and returns the invalid_index_name_exception of the
// first it breaks.
func validateIndexName(name string) *esError {
	if strings.ContainsAny(name, "\\/*?\"<>| ,") {
		return errInvalidIndexName(name, `must not contain the following characters ['\','/','*','?','"','<','>','|',' ',',']`)
	}
	if name == "" {
		return errInvalidIndexName(name, "must not be empty")
	}
	if strings.Contains(name, "#") {
		return errInvalidIndexName(name, "must not contain '#'")
	}
	if strings.Contains(name, ":") {
		return errInvalidIndexName(name, "must not contain ':'")
	}
	if c := name[0]; c == '_' || c == '-' || c == '+' {
		return errInvalidIndexName(name, "must not start with '_', '-', or '+'")
	}
	if n := len(name); n > 255 {
		return errInvalidIndexName(name, "index name is too long, ("+strconv.Itoa(n)+" > 255)")
	}
	if name == "." || name == ".." {
		return errInvalidIndexName(name, "must not be '.' or '..'")
	}
	if strings.ToLower(name) != name {
		return errInvalidIndexName(name, "must be lowercase")
	}
	if !utf8.ValidString(name) {
		return errInvalidIndexName(name, "must be valid UTF-8")
	}
	return nil
}

// autoCreate returns the index name, creating it if it does not exist (the
// automatic index creation of the write APIs). s.mu is held.
func (s *Server) autoCreate(name string) (*index, *esError) {
	if ix := s.indices[name]; ix != nil {
		return ix, nil
	}
	if e := validateIndexName(name); e != nil {
		return nil, e
	}
	ix := newIndex(name)
	s.indices[name] = ix
	return ix, nil
}

// resolveIndices resolves the index part of a search, count or refresh
// path: a comma-separated list of names and wildcard patterns, where a
// pattern preceded by '-' excludes, and "", "_all" and "*" mean every
// index. s.mu is held.
func (s *Server) resolveIndices(expr string, rq *request) ([]*index, *esError) {
	ignoreUnavailable, e := rq.boolParam("ignore_unavailable", false)
	if e != nil {
		return nil, e
	}
	allowNoIndices, e := rq.boolParam("allow_no_indices", true)
	if e != nil {
		return nil, e
	}
	all := func(pattern string) []string {
		var out []string
		for name := range s.indices {
			if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") {
				continue // hidden by default (expand_wildcards=open)
			}
			if ok, _ := path.Match(escapeGlob(pattern), name); ok {
				out = append(out, name)
			}
		}
		return out
	}
	var names []string
	set := map[string]bool{}
	add := func(n string) {
		if !set[n] {
			set[n] = true
			names = append(names, n)
		}
	}
	if expr == "" || expr == "_all" {
		expr = "*"
	}
	wildcardSeen := false
	for _, part := range strings.Split(expr, ",") {
		switch {
		case part == "":
			continue
		case strings.HasPrefix(part, "-") && wildcardSeen:
			for _, n := range all(part[1:]) {
				if set[n] {
					delete(set, n)
				}
			}
			kept := names[:0]
			for _, n := range names {
				if set[n] {
					kept = append(kept, n)
				}
			}
			names = kept
		case strings.Contains(part, "*"):
			wildcardSeen = true
			matched := all(part)
			if len(matched) == 0 && !allowNoIndices {
				return nil, errIndexNotFound(part)
			}
			for _, n := range matched {
				add(n)
			}
		case part == "_all":
			for _, n := range all("*") {
				add(n)
			}
		default:
			if s.indices[part] == nil {
				if ignoreUnavailable {
					continue
				}
				return nil, errIndexNotFound(part)
			}
			add(part)
		}
	}
	sort.Strings(names)
	out := make([]*index, len(names))
	for i, n := range names {
		out[i] = s.indices[n]
	}
	return out, nil
}

// escapeGlob turns an index pattern, where only '*' is special, into a
// path.Match pattern.
func escapeGlob(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pathIndex is the index part of a path (the first segment), or "" when
// the path has none.
func pathIndex(rq *request) string {
	if len(rq.segs) > 0 && !strings.HasPrefix(rq.segs[0], "_") {
		return rq.segs[0]
	}
	if len(rq.segs) > 0 && rq.segs[0] == "_all" {
		return "_all"
	}
	return ""
}

// refreshAPI serves POST /<index>/_refresh and /_refresh.
func (s *Server) refreshAPI(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(pathIndex(rq), rq)
	if e != nil {
		return e.status, e
	}
	total := 0
	for _, ix := range ixs {
		ix.refresh()
		total += 1 + ix.replicas
	}
	return http.StatusOK, obj{{"_shards", obj{{"total", total}, {"successful", len(ixs)}, {"failed", 0}}}}
}

// createIndex serves PUT /<index>. The body may hold settings (only
// number_of_replicas is used), mappings (used, see mapping.go) and no
// aliases.
func (s *Server) createIndex(rq *request) (int, any) {
	name := rq.segs[0]
	if e := validateIndexName(name); e != nil {
		return e.status, e
	}
	ix := newIndex(name)
	if len(rq.body) > 0 && !isBlank(rq.body) {
		body, err := parseJSON(rq.body)
		if err != nil {
			e := errXContent(rq.body, err)
			return e.status, e
		}
		if body.kind != kObj {
			e := errParse("Failed to derive xcontent")
			return e.status, e
		}
		for i := range body.obj {
			m := &body.obj[i]
			switch m.key {
			case "settings":
				if e := applySettings(ix, &m.val); e != nil {
					return e.status, e
				}
			case "mappings":
				if m.val.kind != kObj {
					e := newErr(http.StatusBadRequest, "mapper_parsing_exception", "Failed to parse mapping: Expected map for property [mappings] on field [mappings] but got a class java.lang.String")
					return e.status, e
				}
				def := &m.val
				if inner, ok := def.get("_doc"); ok && len(def.obj) == 1 && inner.kind == kObj {
					def = inner
				}
				if e := ix.putMapping(def); e != nil {
					return e.status, e
				}
			case "aliases":
				if m.val.kind == kObj && len(m.val.obj) > 0 {
					e := errNotEmulated("[aliases]")
					return e.status, e
				}
			default:
				e := errParse("unknown key [%s] for create index", m.key)
				return e.status, e
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.indices[name]; old != nil {
		e := newErr(http.StatusBadRequest, "resource_already_exists_exception", "index [%s/%s] already exists", old.name, old.uuid)
		e.meta = obj{{"index_uuid", old.uuid}, {"index", old.name}}
		return e.status, e
	}
	s.indices[name] = ix
	return http.StatusOK, obj{{"acknowledged", true}, {"shards_acknowledged", true}, {"index", name}}
}

// applySettings reads index settings, flat ("index.number_of_replicas"),
// nested ({"index":{"number_of_replicas"}}) or bare ("number_of_replicas").
func applySettings(ix *index, v *value) *esError {
	if v.kind != kObj {
		return errIllegalArgument("malformed [settings] section, expected an object")
	}
	var walk func(prefix string, v *value) *esError
	walk = func(prefix string, v *value) *esError {
		for i := range v.obj {
			m := &v.obj[i]
			key := prefix + m.key
			if m.val.kind == kObj {
				if e := walk(key+".", &m.val); e != nil {
					return e
				}
				continue
			}
			switch strings.TrimPrefix(key, "index.") {
			case "number_of_replicas":
				n, err := strconv.Atoi(strings.Trim(appendStr(&m.val), `"`))
				if err != nil || n < 0 {
					return errIllegalArgument("Failed to parse value [%s] for setting [index.number_of_replicas] must be >= 0", javaString(&m.val))
				}
				ix.replicas = n
			case "number_of_shards":
				n, err := strconv.Atoi(strings.Trim(appendStr(&m.val), `"`))
				if err != nil || n < 1 {
					return errIllegalArgument("Failed to parse value [%s] for setting [index.number_of_shards] must be >= 1", javaString(&m.val))
				}
			}
		}
		return nil
	}
	return walk("", v)
}

func appendStr(v *value) string { return string(appendValue(nil, v)) }

// indexExists serves HEAD /<index>.
func (s *Server) indexExists(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rq.query.Set("allow_no_indices", "false")
	ixs, e := s.resolveIndices(rq.segs[0], rq)
	if e != nil || len(ixs) == 0 {
		return http.StatusNotFound, nil
	}
	return http.StatusOK, nil
}

// getIndex serves GET /<index>.
func (s *Server) getIndex(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(rq.segs[0], rq)
	if e != nil {
		return e.status, e
	}
	out := obj{}
	for _, ix := range ixs {
		out = append(out, kv{ix.name, obj{
			{"aliases", obj{}},
			{"mappings", ix.mapping.rootJSON()},
			{"settings", obj{{"index", obj{
				{"routing", obj{{"allocation", obj{{"include", obj{{"_tier_preference", "data_content"}}}}}}},
				{"number_of_shards", "1"},
				{"provided_name", ix.name},
				{"creation_date", strconv.FormatInt(ix.created, 10)},
				{"number_of_replicas", strconv.Itoa(ix.replicas)},
				{"uuid", ix.uuid},
				{"version", obj{{"created", "8512000"}}},
			}}}},
		}})
	}
	return http.StatusOK, out
}

// deleteIndex serves DELETE /<index>: a comma-separated list of names;
// wildcards are refused, as action.destructive_requires_name defaults to
// true in 8.x.
func (s *Server) deleteIndex(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	expr := rq.segs[0]
	if expr == "_all" || strings.Contains(expr, "*") {
		e := errIllegalArgument("Wildcard expressions or all indices are not allowed")
		return e.status, e
	}
	ixs, e := s.resolveIndices(expr, rq)
	if e != nil {
		return e.status, e
	}
	for _, ix := range ixs {
		delete(s.indices, ix.name)
	}
	return http.StatusOK, obj{{"acknowledged", true}}
}

// getMapping serves GET /<index>/_mapping and /_mapping.
func (s *Server) getMapping(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(pathIndex(rq), rq)
	if e != nil {
		return e.status, e
	}
	out := obj{}
	for _, ix := range ixs {
		out = append(out, kv{ix.name, obj{{"mappings", ix.mapping.rootJSON()}}})
	}
	return http.StatusOK, out
}

// putMapping serves PUT /<index>/_mapping.
func (s *Server) putMapping(rq *request) (int, any) {
	if len(rq.body) == 0 || isBlank(rq.body) {
		e := errParse("request body is required")
		return e.status, e
	}
	body, err := parseJSON(rq.body)
	if err != nil {
		e := errXContent(rq.body, err)
		return e.status, e
	}
	if body.kind != kObj {
		e := errParse("Failed to derive xcontent")
		return e.status, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(rq.segs[0], rq)
	if e != nil {
		return e.status, e
	}
	for _, ix := range ixs {
		// Check on a copy first, so that a conflict changes no index.
		if e := ix.mapping.clone().put(&body, ix.name); e != nil {
			return e.status, e
		}
	}
	for _, ix := range ixs {
		_ = ix.putMapping(&body)
	}
	return http.StatusOK, obj{{"acknowledged", true}}
}

// health serves GET /_cluster/health. The emulator is a one-node cluster:
// an index with replicas is yellow, as it would be there. wait_for_status
// does not wait: a status that is not reached answers 408 at once, as
// Elasticsearch does when its timeout expires.
func (s *Server) health(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	expr := ""
	if len(rq.segs) == 3 {
		expr = rq.segs[2]
	}
	ixs, e := s.resolveIndices(expr, rq)
	if e != nil {
		return e.status, e
	}
	status := "green"
	unassigned := 0
	for _, ix := range ixs {
		if ix.replicas > 0 {
			status = "yellow"
			unassigned += ix.replicas
		}
	}
	timedOut := false
	if want, ok := rq.param("wait_for_status"); ok {
		rank := map[string]int{"green": 0, "yellow": 1, "red": 2}
		w, known := rank[want]
		if !known {
			e := errIllegalArgument("unknown cluster health status [%s]", want)
			return e.status, e
		}
		timedOut = rank[status] > w
	}
	active := len(ixs)
	body := obj{
		{"cluster_name", clusterName},
		{"status", status},
		{"timed_out", timedOut},
		{"number_of_nodes", 1},
		{"number_of_data_nodes", 1},
		{"active_primary_shards", active},
		{"active_shards", active},
		{"relocating_shards", 0},
		{"initializing_shards", 0},
		{"unassigned_shards", unassigned},
		{"unassigned_primary_shards", 0},
		{"delayed_unassigned_shards", 0},
		{"number_of_pending_tasks", 0},
		{"number_of_in_flight_fetch", 0},
		{"task_max_waiting_in_queue_millis", 0},
		{"active_shards_percent_as_number", activePercent(active, unassigned)},
	}
	if timedOut {
		return http.StatusRequestTimeout, body
	}
	return http.StatusOK, body
}

func activePercent(active, unassigned int) float64 {
	if active+unassigned == 0 {
		return 100
	}
	return 100 * float64(active) / float64(active+unassigned)
}
