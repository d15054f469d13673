package esemu

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxResultWindow is index.max_result_window's default.
const maxResultWindow = 10000

// searchReq is a parsed search request.
type searchReq struct {
	query          query
	postFilter     query
	size, from     int
	sort           []sortSpec
	source         *sourceFilter
	trackTotal     int // hits counted exactly up to this; -1: all; 0: total not tracked
	version        bool
	seqNoPT        bool
	trackScores    bool
	minScore       *float64
	terminateAfter int
	totalAsInt     bool
}

// notEmulatedSearchKeys are parts of the search API the emulator lacks.
var notEmulatedSearchKeys = map[string]bool{
	"aggs": true, "aggregations": true, "highlight": true, "fields": true, "docvalue_fields": true,
	"script_fields": true, "stored_fields": true, "collapse": true, "rescore": true, "suggest": true,
	"pit": true, "knn": true, "runtime_mappings": true, "search_after": true, "slice": true, "retriever": true,
	"rank": true, "indices_boost": true,
}

// parseSearchBody parses a search body (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/search-search.html#search-search-api-request-body).
func parseSearchBody(data []byte, sr *searchReq) *esError {
	if len(data) == 0 || isBlank(data) {
		return nil
	}
	body, err := parseJSON(data)
	if err != nil {
		return errXContent(data, err)
	}
	p := &qparser{data: data}
	if body.kind != kObj {
		return p.errf(body.off, "Expected [START_OBJECT] but found [%s]", tokenName(&body))
	}
	for i := range body.obj {
		mb := &body.obj[i]
		v := &mb.val
		var e *esError
		switch mb.key {
		case "query":
			sr.query, e = p.parse(v)
		case "post_filter":
			sr.postFilter, e = p.parse(v)
		case "size", "from", "terminate_after":
			n, ok := intValue(v)
			if !ok {
				return p.errf(v.off, "[%s] failed to parse field [%s]", "search", mb.key)
			}
			switch mb.key {
			case "size":
				sr.size = n
			case "from":
				sr.from = n
			default:
				sr.terminateAfter = n
			}
		case "sort":
			sr.sort, e = parseSort(p, v)
		case "_source":
			sr.source, e = parseSourceFilterValue(v)
		case "track_total_hits":
			switch {
			case v.kind == kBool && v.b:
				sr.trackTotal = -1
			case v.kind == kBool:
				sr.trackTotal = 0
			default:
				n, ok := intValue(v)
				if !ok {
					return p.errf(v.off, "[search] failed to parse field [track_total_hits]")
				}
				sr.trackTotal = n
			}
		case "version", "seq_no_primary_term", "track_scores", "explain", "profile":
			b, ok := boolValue(v)
			if !ok {
				return p.errf(v.off, "[search] failed to parse field [%s]", mb.key)
			}
			switch mb.key {
			case "version":
				sr.version = b
			case "seq_no_primary_term":
				sr.seqNoPT = b
			case "track_scores":
				sr.trackScores = b
			case "explain":
				if b {
					return errNotEmulated("[explain]")
				}
			case "profile":
				if b {
					return errNotEmulated("[profile]")
				}
			}
		case "min_score":
			f, err := strconv.ParseFloat(scalarText(v), 64)
			if err != nil {
				return p.errf(v.off, "[search] failed to parse field [min_score]")
			}
			sr.minScore = &f
		case "timeout", "stats", "ext", "_name":
		default:
			if notEmulatedSearchKeys[mb.key] {
				return errNotEmulated("[" + mb.key + "] in a search")
			}
			return p.errf(mb.off, "Unknown key for a %s in [%s].", tokenName(v), mb.key)
		}
		if e != nil {
			return e
		}
	}
	return nil
}

func intValue(v *value) (int, bool) {
	if v.kind != kNum && v.kind != kStr {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.s))
	return n, err == nil
}

// searchParamsInto applies the query parameters of the search API.
func searchParamsInto(rq *request, sr *searchReq) *esError {
	if _, ok := rq.param("q"); ok {
		return errNotEmulated("the [q] parameter (query string search)")
	}
	if _, ok := rq.param("scroll"); ok {
		return errNotEmulated("[scroll]")
	}
	for _, name := range []string{"size", "from", "terminate_after"} {
		if _, ok := rq.param(name); ok {
			n, e := rq.intParam(name, 0)
			if e != nil {
				return e
			}
			switch name {
			case "size":
				sr.size = int(n)
			case "from":
				sr.from = int(n)
			default:
				sr.terminateAfter = int(n)
			}
		}
	}
	if v, ok := rq.param("sort"); ok {
		s, e := parseSortParam(v)
		if e != nil {
			return e
		}
		sr.sort = s
	}
	if f := sourceFromParams(rq); f != nil {
		sr.source = f
	}
	if v, ok := rq.param("track_total_hits"); ok {
		switch v {
		case "", "true":
			sr.trackTotal = -1
		case "false":
			sr.trackTotal = 0
		default:
			n, err := strconv.Atoi(v)
			if err != nil {
				return errIllegalArgument("Failed to parse int parameter [track_total_hits] with value [%s]", v)
			}
			sr.trackTotal = n
		}
	}
	for _, name := range []string{"version", "seq_no_primary_term", "track_scores", "rest_total_hits_as_int", "explain"} {
		b, e := rq.boolParam(name, false)
		if e != nil {
			return e
		}
		switch name {
		case "version":
			sr.version = sr.version || b
		case "seq_no_primary_term":
			sr.seqNoPT = sr.seqNoPT || b
		case "track_scores":
			sr.trackScores = sr.trackScores || b
		case "rest_total_hits_as_int":
			sr.totalAsInt = b
		case "explain":
			if b {
				return errNotEmulated("[explain]")
			}
		}
	}
	if sr.totalAsInt {
		if sr.trackTotal != -1 && sr.trackTotal != maxResultWindow {
			return errIllegalArgument("[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got %d", sr.trackTotal)
		}
		sr.trackTotal = -1
	}
	if sr.size < 0 {
		return errIllegalArgument("[size] parameter cannot be negative, found [%d]", sr.size)
	}
	if sr.from < 0 {
		return errIllegalArgument("[from] parameter cannot be negative, found [%d]", sr.from)
	}
	return nil
}

// hit is a matching document.
type hit struct {
	ix    *index
	d     *doc
	score float64
	keys  []sortKey
}

// runSearch finds the hits of a search in the searchable documents of
// the indices; failures are the indices whose shard failed.
func runSearch(ixs []*index, sr *searchReq, now time.Time, withSort bool) (hits []hit, sorts []sortBinding, failures []shardFailure) {
	for _, ix := range ixs {
		b := &binder{ix: ix, now: now}
		q := sr.query
		if q == nil {
			q = qMatchAll{boost: 1}
		}
		m, e := b.bind(q)
		var pf matcher
		if e == nil && sr.postFilter != nil {
			pf, e = b.bind(sr.postFilter)
		}
		var sbs []sortBinding
		if e == nil && withSort {
			sbs, e = bindSort(ix, sr.sort)
		}
		if e == nil && withSort && sr.from+sr.size > maxResultWindow {
			e = errIllegalArgument("Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", maxResultWindow, sr.from+sr.size)
		}
		if e != nil {
			failures = append(failures, shardFailure{index: ix.name, err: e})
			continue
		}
		if sorts == nil {
			sorts = sbs
		}
		docs := make([]*doc, 0, len(ix.searchable))
		for _, d := range ix.searchable {
			docs = append(docs, d)
		}
		sort.Slice(docs, func(i, j int) bool { return docs[i].seqNo < docs[j].seqNo })
		n := 0
		for _, d := range docs {
			ok, score := m(d)
			if !ok {
				continue
			}
			if sr.minScore != nil && score < *sr.minScore {
				continue
			}
			if pf != nil {
				if ok, _ := pf(d); !ok {
					continue
				}
			}
			h := hit{ix: ix, d: d, score: score}
			for i := range sbs {
				h.keys = append(h.keys, sbs[i].key(&h))
			}
			hits = append(hits, h)
			n++
			if sr.terminateAfter > 0 && n >= sr.terminateAfter {
				break
			}
		}
	}
	return hits, sorts, failures
}

func shardsObj(total int, failures []shardFailure) obj {
	o := obj{{"total", total}, {"successful", total - len(failures)}, {"skipped", 0}, {"failed", len(failures)}}
	if len(failures) > 0 {
		fs := make([]obj, len(failures))
		for i, f := range failures {
			fs[i] = f.body()
		}
		o = append(o, kv{"failures", fs})
	}
	return o
}

// search serves GET|POST /<index>/_search and /_search
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/search-search.html).
// Only what the last refresh made visible is searched.
func (s *Server) search(rq *request) (int, any) {
	sr := &searchReq{size: 10, trackTotal: maxResultWindow}
	if e := parseSearchBody(rq.body, sr); e != nil {
		return e.status, e
	}
	if e := searchParamsInto(rq, sr); e != nil {
		return e.status, e
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(pathIndex(rq), rq)
	if e != nil {
		return e.status, e
	}
	hits, sorts, failures := runSearch(ixs, sr, now, true)
	if len(ixs) > 0 && len(failures) == len(ixs) {
		e := errShards(failures)
		return e.status, e
	}
	scored := len(sr.sort) == 0 || sr.trackScores
	for _, sp := range sr.sort {
		if sp.field == "_score" {
			scored = true
		}
	}
	if len(sr.sort) == 0 {
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].score > hits[j].score })
	} else {
		sort.SliceStable(hits, func(i, j int) bool {
			for k := range sorts {
				if c := sorts[k].compare(hits[i].keys[k], hits[j].keys[k]); c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	total := len(hits)
	var maxScore any
	if scored && total > 0 {
		ms := hits[0].score
		for _, h := range hits {
			ms = math.Max(ms, h.score)
		}
		maxScore = ms
	}
	page := []obj{}
	for i := sr.from; i < total && i < sr.from+sr.size; i++ {
		page = append(page, renderHit(&hits[i], sr, sorts, scored))
	}
	hitsObj := obj{}
	switch {
	case sr.totalAsInt:
		hitsObj = append(hitsObj, kv{"total", total})
	case sr.trackTotal == 0:
	case sr.trackTotal > 0 && total > sr.trackTotal:
		hitsObj = append(hitsObj, kv{"total", obj{{"value", sr.trackTotal}, {"relation", "gte"}}})
	default:
		hitsObj = append(hitsObj, kv{"total", obj{{"value", total}, {"relation", "eq"}}})
	}
	hitsObj = append(hitsObj, kv{"max_score", maxScore}, kv{"hits", page})
	out := obj{{"took", rq.tookMillis()}, {"timed_out", false}}
	if sr.terminateAfter > 0 {
		out = append(out, kv{"terminated_early", total >= sr.terminateAfter})
	}
	out = append(out, kv{"_shards", shardsObj(len(ixs), failures)}, kv{"hits", hitsObj})
	return http.StatusOK, out
}

func renderHit(h *hit, sr *searchReq, sorts []sortBinding, scored bool) obj {
	o := obj{{"_index", h.ix.name}, {"_id", h.d.id}}
	if sr.version {
		o = append(o, kv{"_version", h.d.version})
	}
	if sr.seqNoPT {
		o = append(o, kv{"_seq_no", h.d.seqNo}, kv{"_primary_term", int64(primaryTerm)})
	}
	if scored {
		o = append(o, kv{"_score", h.score})
	} else {
		o = append(o, kv{"_score", nil})
	}
	if src := sr.source.apply(h.d); src != nil {
		o = append(o, kv{"_source", src})
	}
	if len(sr.sort) > 0 {
		vals := make([]any, len(sorts))
		for i := range sorts {
			vals[i] = sorts[i].sortValue(h.keys[i])
		}
		o = append(o, kv{"sort", vals})
	}
	return o
}

// count serves GET|POST /<index>/_count and /_count
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/search-count.html).
func (s *Server) count(rq *request) (int, any) {
	sr := &searchReq{}
	if len(rq.body) > 0 && !isBlank(rq.body) {
		body, err := parseJSON(rq.body)
		if err != nil {
			e := errXContent(rq.body, err)
			return e.status, e
		}
		p := &qparser{data: rq.body}
		if body.kind != kObj {
			e := p.errf(body.off, "Expected [START_OBJECT] but found [%s]", tokenName(&body))
			return e.status, e
		}
		for i := range body.obj {
			mb := &body.obj[i]
			if mb.key != "query" {
				e := p.errf(mb.off, "request does not support [%s]", mb.key)
				return e.status, e
			}
			q, e := p.parse(&mb.val)
			if e != nil {
				return e.status, e
			}
			sr.query = q
		}
	}
	if _, ok := rq.param("q"); ok {
		e := errNotEmulated("the [q] parameter (query string search)")
		return e.status, e
	}
	if v, ok := rq.param("min_score"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			e := errIllegalArgument("Failed to parse float parameter [min_score] with value [%s]", v)
			return e.status, e
		}
		sr.minScore = &f
	}
	n, e := rq.intParam("terminate_after", 0)
	if e != nil {
		return e.status, e
	}
	sr.terminateAfter = int(n)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(pathIndex(rq), rq)
	if e != nil {
		return e.status, e
	}
	hits, _, failures := runSearch(ixs, sr, now, false)
	if len(ixs) > 0 && len(failures) == len(ixs) {
		e := errShards(failures)
		return e.status, e
	}
	out := obj{{"count", len(hits)}}
	if sr.terminateAfter > 0 {
		out = append(out, kv{"terminated_early", len(hits) >= sr.terminateAfter})
	}
	return http.StatusOK, append(out, kv{"_shards", shardsObj(len(ixs), failures)})
}

// deleteByQuery serves POST /<index>/_delete_by_query
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-delete-by-query.html):
// it deletes what a search finds, that is what the last refresh made
// visible; a document changed since is a version conflict.
func (s *Server) deleteByQuery(rq *request) (int, any) {
	sr := &searchReq{}
	if len(rq.body) == 0 || isBlank(rq.body) {
		e := errValidation("query is missing")
		return e.status, e
	}
	if e := parseSearchBody(rq.body, sr); e != nil {
		return e.status, e
	}
	if sr.query == nil {
		e := errValidation("query is missing")
		return e.status, e
	}
	if _, ok := rq.param("q"); ok {
		e := errNotEmulated("the [q] parameter (query string search)")
		return e.status, e
	}
	proceed := false
	if c, ok := rq.param("conflicts"); ok {
		switch c {
		case "proceed":
			proceed = true
		case "abort":
		default:
			e := errIllegalArgument("conflicts may only be \"proceed\" or \"abort\" but was [%s]", c)
			return e.status, e
		}
	}
	maxDocs, e := rq.intParam("max_docs", -1)
	if e != nil {
		return e.status, e
	}
	refresh, e := rq.boolParam("refresh", false)
	if e != nil {
		return e.status, e
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, e := s.resolveIndices(pathIndex(rq), rq)
	if e != nil {
		return e.status, e
	}
	hits, _, failures := runSearch(ixs, sr, now, false)
	if len(failures) > 0 {
		e := errShards(failures)
		return e.status, e
	}
	deleted, conflicts := 0, 0
	fails := []obj{}
	status := http.StatusOK
	for _, h := range hits {
		if maxDocs >= 0 && int64(deleted+conflicts) >= maxDocs {
			break
		}
		cur := h.ix.docs[h.d.id]
		if cur == nil || cur.deleted || cur.seqNo != h.d.seqNo {
			conflicts++
			ce := h.ix.conflictCAS(h.d.id, cur, h.d.seqNo, primaryTerm)
			fails = append(fails, obj{{"index", h.ix.name}, {"id", h.d.id}, {"cause", ce.body()}, {"status", http.StatusConflict}})
			if !proceed {
				status = http.StatusConflict
				break
			}
			continue
		}
		h.ix.put(&doc{id: cur.id, deleted: true, version: cur.version + 1, seqNo: h.ix.nextSeqNo()})
		deleted++
	}
	if refresh {
		for _, ix := range ixs {
			ix.refresh()
		}
	}
	if proceed {
		fails = []obj{}
	}
	return status, obj{
		{"took", rq.tookMillis()},
		{"timed_out", false},
		{"total", len(hits)},
		{"deleted", deleted},
		{"batches", 1},
		{"version_conflicts", conflicts},
		{"noops", 0},
		{"retries", obj{{"bulk", 0}, {"search", 0}}},
		{"throttled_millis", 0},
		{"requests_per_second", -1.0},
		{"throttled_until_millis", 0},
		{"failures", fails},
	}
}
