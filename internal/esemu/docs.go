package esemu

import (
	"net/http"
	"strconv"
)

// indexDoc serves the index API: PUT|POST /<index>/_doc/<id>,
// POST /<index>/_doc (generated id) and PUT|POST /<index>/_create/<id>
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-index_.html).
func (s *Server) indexDoc(rq *request) (int, any) {
	op := newWriteOp(opIndex)
	op.index = rq.segs[0]
	if len(rq.segs) == 3 {
		op.id, op.hasID = rq.segs[2], true
		if rq.segs[1] == "_create" {
			op.op = opCreate
		}
	} else {
		// "When using the POST /<target>/_doc/ request format, the op_type
		// is automatically set to create."
		op.op = opCreate
	}
	if t, ok := rq.param("op_type"); ok {
		switch t {
		case "create":
			op.op = opCreate
		case "index":
			if op.hasID && rq.segs[1] != "_create" {
				op.op = opIndex
			}
		default:
			e := errIllegalArgument("opType must be 'create' or 'index', found: [%s]", t)
			return e.status, e
		}
	}
	if e := versionParams(rq, op); e != nil {
		return e.status, e
	}
	ra, e := rq.boolParam("require_alias", false)
	if e != nil {
		return e.status, e
	}
	op.requireAlias = ra
	policy, e := refreshPolicy(rq)
	if e != nil {
		return e.status, e
	}
	if len(rq.body) == 0 {
		e := errParse("request body is required")
		return e.status, e
	}
	op.source = rq.body
	if msgs := op.validate(); len(msgs) > 0 {
		e := errValidation(msgs...)
		return e.status, e
	}
	op.prepare()
	return s.applyOne(op, policy)
}

// applyOne applies a single-document write and answers it.
func (s *Server) applyOne(op *writeOp, policy string) (int, any) {
	s.mu.Lock()
	r := s.apply(op)
	if r.err == nil && policy != "false" && r.ix != nil {
		r.ix.refresh()
		r.forcedRefresh = policy == "true"
	}
	s.mu.Unlock()
	if r.err != nil {
		return r.err.status, r.err
	}
	return r.status, r.body(false)
}

// deleteDoc serves DELETE /<index>/_doc/<id>.
func (s *Server) deleteDoc(rq *request) (int, any) {
	op := newWriteOp(opDelete)
	op.index, op.id, op.hasID = rq.segs[0], rq.segs[2], true
	if e := versionParams(rq, op); e != nil {
		return e.status, e
	}
	policy, e := refreshPolicy(rq)
	if e != nil {
		return e.status, e
	}
	if msgs := op.validate(); len(msgs) > 0 {
		e := errValidation(msgs...)
		return e.status, e
	}
	return s.applyOne(op, policy)
}

// updateDoc serves POST /<index>/_update/<id>
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-update.html).
func (s *Server) updateDoc(rq *request) (int, any) {
	op := newWriteOp(opUpdate)
	op.index, op.id, op.hasID = rq.segs[0], rq.segs[2], true
	if e := versionParams(rq, op); e != nil {
		return e.status, e
	}
	ra, e := rq.boolParam("require_alias", false)
	if e != nil {
		return e.status, e
	}
	op.requireAlias = ra
	policy, e := refreshPolicy(rq)
	if e != nil {
		return e.status, e
	}
	if len(rq.body) == 0 || isBlank(rq.body) {
		e := errParse("request body is required")
		return e.status, e
	}
	u, e := parseUpdateBody(rq.body)
	if e != nil {
		return e.status, e
	}
	op.upd = u
	op.fetch = u.fetch
	if f := sourceFromParams(rq); f != nil {
		op.fetch = f
	}
	if msgs := op.validate(); len(msgs) > 0 {
		e := errValidation(msgs...)
		return e.status, e
	}
	return s.applyOne(op, policy)
}

// getResult renders a found document as the get API does.
func getResult(ix *index, d *doc, f *sourceFilter) obj {
	o := obj{
		{"_index", ix.name},
		{"_id", d.id},
		{"_version", d.version},
		{"_seq_no", d.seqNo},
		{"_primary_term", int64(primaryTerm)},
		{"found", true},
	}
	if src := f.apply(d); src != nil {
		o = append(o, kv{"_source", src})
	}
	return o
}

// lookup finds a document for the get APIs: realtime (the latest write,
// refreshed or not) unless realtime=false, after a refresh if refresh=true.
// It checks the version parameter, if any, as a read.
func (s *Server) lookup(rq *request, ix *index, id string) (*doc, *esError) {
	realtime, e := rq.boolParam("realtime", true)
	if e != nil {
		return nil, e
	}
	refresh, e := rq.boolParam("refresh", false)
	if e != nil {
		return nil, e
	}
	if refresh {
		ix.refresh()
	}
	d := ix.searchable[id]
	if realtime {
		d = ix.docs[id]
	}
	if d != nil && d.deleted {
		d = nil
	}
	if v, ok := rq.param("version"); ok && d != nil {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errIllegalArgument("Failed to parse long parameter [version] with value [%s]", v)
		}
		if d.version != n {
			return nil, errVersionConflict(ix, id, "current version ["+strconv.FormatInt(d.version, 10)+"] is different than the one provided ["+v+"]")
		}
	}
	return d, nil
}

// getDoc serves GET and HEAD /<index>/_doc/<id>
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-get.html).
func (s *Server) getDoc(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, id := rq.segs[0], rq.segs[2]
	ix := s.indices[name]
	if ix == nil {
		if rq.method == http.MethodHead {
			return http.StatusNotFound, nil
		}
		e := errIndexNotFound(name)
		return e.status, e
	}
	d, e := s.lookup(rq, ix, id)
	if e != nil {
		return e.status, e
	}
	if rq.method == http.MethodHead {
		if d == nil {
			return http.StatusNotFound, nil
		}
		return http.StatusOK, nil
	}
	if d == nil {
		return http.StatusNotFound, obj{{"_index", name}, {"_id", id}, {"found", false}}
	}
	return http.StatusOK, getResult(ix, d, sourceFromParams(rq))
}

// getSource serves GET and HEAD /<index>/_source/<id>.
func (s *Server) getSource(rq *request) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, id := rq.segs[0], rq.segs[2]
	ix := s.indices[name]
	if ix == nil {
		if rq.method == http.MethodHead {
			return http.StatusNotFound, nil
		}
		e := errIndexNotFound(name)
		return e.status, e
	}
	d, e := s.lookup(rq, ix, id)
	if e != nil {
		return e.status, e
	}
	if d == nil {
		if rq.method == http.MethodHead {
			return http.StatusNotFound, nil
		}
		e := newErr(http.StatusNotFound, "resource_not_found_exception", "Document not found [%s]/[%s]", name, id)
		return e.status, e
	}
	if rq.method == http.MethodHead {
		return http.StatusOK, nil
	}
	f := sourceFromParams(rq)
	if f != nil && !f.fetch {
		f = nil
	}
	return http.StatusOK, f.apply(d)
}

// mget serves GET|POST /_mget and /<index>/_mget
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-multi-get.html).
func (s *Server) mget(rq *request) (int, any) {
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
		e := errParsing(rq.body, body.off, "unexpected token [%s], expected [FIELD_NAME] or [START_OBJECT]", tokenName(&body))
		return e.status, e
	}
	defIndex := pathIndex(rq)
	defFilter := sourceFromParams(rq)
	type item struct {
		index, id string
		filter    *sourceFilter
	}
	var items []item
	var msgs []string
	for i := range body.obj {
		mb := &body.obj[i]
		if mb.val.kind != kArr {
			e := errParsing(rq.body, mb.val.off, "unknown parameter [%s] in request body or parameter is of the wrong type[%s] ", mb.key, tokenName(&mb.val))
			return e.status, e
		}
		switch mb.key {
		case "docs":
			for j := range mb.val.arr {
				dv := &mb.val.arr[j]
				if dv.kind != kObj {
					e := errIllegalArgument("docs array element should include an object")
					return e.status, e
				}
				it := item{index: defIndex, filter: defFilter}
				hasID := false
				for k := range dv.obj {
					f := &dv.obj[k]
					switch f.key {
					case "_index":
						it.index = scalarText(&f.val)
					case "_id":
						it.id, hasID = scalarText(&f.val), f.val.kind != kNull
					case "_source":
						sf, e := parseSourceFilterValue(&f.val)
						if e != nil {
							return e.status, e
						}
						it.filter = sf
					case "routing", "stored_fields", "version", "version_type", "_routing", "_stored_fields":
					default:
						e := errParsing(rq.body, f.off, "unknown parameter [%s] in request body or parameter is of the wrong type[%s] ", f.key, tokenName(&f.val))
						return e.status, e
					}
				}
				n := len(items)
				if it.index == "" {
					msgs = append(msgs, "index is missing for doc "+strconv.Itoa(n))
				}
				if !hasID {
					msgs = append(msgs, "id is missing for doc "+strconv.Itoa(n))
				}
				items = append(items, it)
			}
		case "ids":
			for j := range mb.val.arr {
				iv := &mb.val.arr[j]
				if iv.kind != kStr && iv.kind != kNum {
					e := errIllegalArgument("ids array element should only contain ids")
					return e.status, e
				}
				n := len(items)
				if defIndex == "" {
					msgs = append(msgs, "index is missing for doc "+strconv.Itoa(n))
				}
				items = append(items, item{index: defIndex, id: iv.s, filter: defFilter})
			}
		default:
			e := errParsing(rq.body, mb.off, "unknown parameter [%s] in request body or parameter is of the wrong type[%s] ", mb.key, tokenName(&mb.val))
			return e.status, e
		}
	}
	if len(items) == 0 {
		msgs = append(msgs, "no documents to get")
	}
	if len(msgs) > 0 {
		e := errValidation(msgs...)
		return e.status, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	docs := make([]obj, 0, len(items))
	for _, it := range items {
		ix := s.indices[it.index]
		if ix == nil {
			e := errIndexNotFound(it.index)
			docs = append(docs, obj{{"_index", it.index}, {"_id", it.id}, {"error", e.response()[0].v}})
			continue
		}
		d, e := s.lookup(rq, ix, it.id)
		if e != nil {
			return e.status, e
		}
		if d == nil {
			docs = append(docs, obj{{"_index", it.index}, {"_id", it.id}, {"found", false}})
			continue
		}
		docs = append(docs, getResult(ix, d, it.filter))
	}
	return http.StatusOK, obj{{"docs", docs}}
}

// scalarText is the text of a scalar, as XContentParser.text() gives it.
func scalarText(v *value) string {
	switch v.kind {
	case kStr, kNum:
		return v.s
	case kBool:
		return strconv.FormatBool(v.b)
	}
	return ""
}
