package esemu

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Special version and sequence number values (org.elasticsearch.common.lucene.uid.Versions
// and SequenceNumbers).
const (
	versionMatchAny       = -3
	versionMatchDeleted   = -4
	versionNotFound       = -1
	unassignedSeqNo       = -2
	unassignedPrimaryTerm = 0
)

type opType uint8

const (
	opIndex opType = iota
	opCreate
	opUpdate
	opDelete
)

func (o opType) String() string {
	return [...]string{"index", "create", "update", "delete"}[o]
}

// versionType is the version_type of a write: how its version is checked.
type versionType uint8

const (
	vInternal versionType = iota
	vExternal
	vExternalGTE
)

func (v versionType) name() string {
	return [...]string{"INTERNAL", "EXTERNAL", "EXTERNAL_GTE"}[v]
}

// parseVersionType is VersionType.fromString.
func parseVersionType(s string) (versionType, *esError) {
	switch s {
	case "internal":
		return vInternal, nil
	case "external", "external_gt":
		return vExternal, nil
	case "external_gte":
		return vExternalGTE, nil
	}
	return 0, errIllegalArgument("No version type match [%s]", s)
}

// writeOp is one write: an item of a bulk request or a single-document
// API call.
type writeOp struct {
	op            opType
	index         string
	id            string
	hasID         bool
	version       int64
	versionType   versionType
	ifSeqNo       int64
	ifPrimaryTerm int64
	requireAlias  bool

	source   []byte // index, create
	parsed   value
	parseErr *esError

	upd   *updateSpec // update
	fetch *sourceFilter
}

func newWriteOp(op opType) *writeOp {
	return &writeOp{op: op, version: versionMatchAny, ifSeqNo: unassignedSeqNo, ifPrimaryTerm: unassignedPrimaryTerm}
}

// updateSpec is the body of an update.
type updateSpec struct {
	doc         *value
	upsert      *value
	docAsUpsert bool
	detectNoop  bool
	script      bool
	scripted    bool
	fetch       *sourceFilter
}

// parseUpdateBody parses an update request's body, as UpdateRequest.fromXContent.
func parseUpdateBody(data []byte) (*updateSpec, *esError) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, errXContent(data, err)
	}
	if v.kind != kObj {
		l, c := lineCol(data, v.off)
		return nil, newErr(http.StatusBadRequest, "x_content_parse_exception", "[%d:%d] [UpdateRequest] Expected START_OBJECT but was: %s", l, c, tokenName(&v))
	}
	u := &updateSpec{detectNoop: true}
	for i := range v.obj {
		mb := &v.obj[i]
		bad := func(what string) *esError {
			l, c := lineCol(data, mb.val.off)
			return newErr(http.StatusBadRequest, "x_content_parse_exception", "[%d:%d] [UpdateRequest] %s doesn't support values of type: %s", l, c, what, tokenName(&mb.val))
		}
		switch mb.key {
		case "doc":
			if mb.val.kind != kObj {
				return nil, bad("doc")
			}
			u.doc = &mb.val
		case "upsert":
			if mb.val.kind != kObj {
				return nil, bad("upsert")
			}
			u.upsert = &mb.val
		case "doc_as_upsert", "detect_noop", "scripted_upsert":
			b, ok := boolValue(&mb.val)
			if !ok {
				return nil, bad(mb.key)
			}
			switch mb.key {
			case "doc_as_upsert":
				u.docAsUpsert = b
			case "detect_noop":
				u.detectNoop = b
			default:
				u.scripted = b
			}
		case "script":
			u.script = true
		case "_source":
			f, e := parseSourceFilterValue(&mb.val)
			if e != nil {
				return nil, e
			}
			u.fetch = f
		case "lang", "params":
			// legacy script parameters
		default:
			l, c := lineCol(data, mb.off)
			return nil, newErr(http.StatusBadRequest, "x_content_parse_exception", "[%d:%d] [UpdateRequest] unknown field [%s]", l, c, mb.key)
		}
	}
	return u, nil
}

// boolValue reads a boolean given as a JSON boolean or a "true"/"false"
// string.
func boolValue(v *value) (bool, bool) {
	switch {
	case v.kind == kBool:
		return v.b, true
	case v.kind == kStr && v.s == "true":
		return true, true
	case v.kind == kStr && v.s == "false":
		return false, true
	}
	return false, false
}

// validate returns the validation errors of a write
// (IndexRequest/UpdateRequest/DeleteRequest.validate), which fail a whole
// bulk request.
func (op *writeOp) validate() []string {
	var msgs []string
	if op.index == "" {
		msgs = append(msgs, "index is missing")
	}
	switch op.op {
	case opIndex, opCreate:
		if op.op == opCreate {
			switch {
			case op.versionType != vInternal:
				return append(msgs, "create operations only support internal versioning. use index instead")
			case op.version != versionMatchAny && op.version != versionMatchDeleted:
				return append(msgs, "create operations do not support explicit versions. use index instead")
			case op.ifSeqNo != unassignedSeqNo || op.ifPrimaryTerm != unassignedPrimaryTerm:
				return append(msgs, "create operations do not support compare and set. use index instead")
			}
		}
		if !op.hasID && (op.versionType != vInternal || (op.version != versionMatchAny && op.version != versionMatchDeleted)) {
			msgs = append(msgs, "an id must be provided if version type or value are set")
		}
		msgs = op.validateCAS(msgs)
	case opUpdate:
		if !op.hasID {
			msgs = append(msgs, "id is missing")
		}
		if u := op.upd; u != nil {
			if !u.script && u.doc == nil {
				msgs = append(msgs, "script or doc is missing")
			}
			if u.script && u.doc != nil {
				msgs = append(msgs, "can't provide both script and doc")
			}
			if u.doc == nil && u.docAsUpsert {
				msgs = append(msgs, "doc must be specified if doc_as_upsert is enabled")
			}
			if op.ifSeqNo != unassignedSeqNo && (u.upsert != nil || u.docAsUpsert) {
				msgs = append(msgs, "upsert requests don't support `if_seq_no` and `if_primary_term`")
			}
		}
		msgs = op.validateCAS(msgs)
	case opDelete:
		if !op.hasID {
			msgs = append(msgs, "id is missing")
		}
		msgs = op.validateCAS(msgs)
	}
	if op.hasID {
		if op.id == "" {
			msgs = append(msgs, "if _id is specified it must not be empty")
		} else if n := len(op.id); n > 512 {
			msgs = append(msgs, fmt.Sprintf("id [%s] is too long, must be no longer than 512 bytes but was: %d", op.id, n))
		}
	}
	return msgs
}

// validateCAS is DocWriteRequest.validateSeqNoBasedCASParams.
func (op *writeOp) validateCAS(msgs []string) []string {
	version := op.version
	if op.op == opCreate && version == versionMatchAny {
		version = versionMatchDeleted
	}
	valid := false
	switch op.versionType {
	case vInternal:
		valid = version > 0 || version == versionMatchAny || version == versionMatchDeleted
	default:
		valid = version >= 0
	}
	if !valid {
		msgs = append(msgs, fmt.Sprintf("illegal version value [%d] for version type [%s]", version, op.versionType.name()))
	}
	if op.versionType == vInternal && version != versionMatchAny && version != versionMatchDeleted {
		msgs = append(msgs, "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead")
	}
	if op.ifSeqNo != unassignedSeqNo && (op.versionType != vInternal || version != versionMatchAny) {
		msgs = append(msgs, "compare and write operations can not use versioning")
	}
	if op.ifPrimaryTerm == unassignedPrimaryTerm && op.ifSeqNo != unassignedSeqNo {
		msgs = append(msgs, "ifSeqNo is set, but primary term is [0]")
	}
	if op.ifPrimaryTerm != unassignedPrimaryTerm && op.ifSeqNo == unassignedSeqNo {
		msgs = append(msgs, fmt.Sprintf("ifSeqNo is unassigned, but primary term is [%d]", op.ifPrimaryTerm))
	}
	return msgs
}

// prepare parses an index or create's source, which needs no lock.
func (op *writeOp) prepare() {
	if op.op != opIndex && op.op != opCreate {
		return
	}
	if !op.hasID {
		op.id, op.hasID = randomID(20), true
	}
	// The source is kept; copy it out of the request body, which can be
	// much larger.
	op.source = bytes.Clone(op.source)
	op.parsed, op.parseErr = parseSource(op.source)
}

// parseSource parses a document's source; a source that is not JSON is
// refused with the document_parsing_exception Elasticsearch answers.
func parseSource(src []byte) (value, *esError) {
	if len(src) == 0 {
		return value{}, newErr(http.StatusBadRequest, "document_parsing_exception", "[0:0] failed to parse, document is empty")
	}
	v, err := parseJSON(src)
	if err != nil {
		e := errXContent(src, err)
		off := 0
		var je *jsonError
		if errors.As(err, &je) {
			off = je.off
		}
		out := errDocParsing(src, off, "failed to parse: %s", je.msg)
		out.cause = e
		return value{}, out
	}
	return v, nil
}

// opResult is the outcome of a write.
type opResult struct {
	op            *writeOp
	index         string
	id            string
	status        int
	result        string
	version       int64
	seqNo         int64
	shards        obj
	err           *esError
	forcedRefresh bool
	get           obj
	ix            *index
}

// apply performs a write. s.mu is held.
func (s *Server) apply(op *writeOp) opResult {
	r := opResult{op: op, index: op.index, id: op.id}
	var ix *index
	if op.op == opDelete && op.versionType == vInternal {
		// Deletes do not create indices, unless externally versioned.
		if ix = s.indices[op.index]; ix == nil {
			r.fail(errIndexNotFound(op.index))
			return r
		}
	} else {
		if op.requireAlias {
			e := errIndexNotFound(op.index)
			e.reason = fmt.Sprintf("no such index [%s] and [require_alias] request flag is [true] and [%s] is not an alias", op.index, op.index)
			r.fail(e)
			return r
		}
		var e *esError
		if ix, e = s.autoCreate(op.index); e != nil {
			r.fail(e)
			return r
		}
	}
	r.ix = ix
	switch op.op {
	case opIndex, opCreate:
		if op.parseErr != nil {
			r.fail(op.parseErr)
			return r
		}
		ix.write(&r, op.id, op.source, &op.parsed, op.op == opCreate, op.version, op.versionType, op.ifSeqNo, op.ifPrimaryTerm)
	case opDelete:
		ix.remove(&r, op)
	case opUpdate:
		ix.update(&r, op)
	}
	return r
}

func (r *opResult) fail(e *esError) {
	r.err, r.status = e, e.status
}

// conflictCAS checks if_seq_no and if_primary_term against the current
// document (nil or deleted: none).
func (ix *index) conflictCAS(id string, cur *doc, ifSeqNo, ifPrimaryTerm int64) *esError {
	if cur == nil || cur.deleted {
		return errVersionConflict(ix, id, fmt.Sprintf("required seqNo [%d], primary term [%d]. but no document was found", ifSeqNo, ifPrimaryTerm))
	}
	if cur.seqNo != ifSeqNo || ifPrimaryTerm != primaryTerm {
		return errVersionConflict(ix, id, fmt.Sprintf("required seqNo [%d], primary term [%d]. current document has seqNo [%d] and primary term [%d]", ifSeqNo, ifPrimaryTerm, cur.seqNo, primaryTerm))
	}
	return nil
}

// conflictVersion is VersionType.isVersionConflictForWrites: cur is the
// current document or tombstone (nil: never seen, or its tombstone was
// collected).
func (ix *index) conflictVersion(id string, cur *doc, expected int64, vt versionType) *esError {
	current := int64(versionNotFound)
	deleted := true
	if cur != nil {
		current, deleted = cur.version, cur.deleted
	}
	switch vt {
	case vInternal:
		if expected == versionMatchDeleted && !deleted {
			return errVersionConflict(ix, id, fmt.Sprintf("document already exists (current version [%d])", current))
		}
	case vExternal:
		if cur != nil && current >= expected {
			return errVersionConflict(ix, id, fmt.Sprintf("current version [%d] is higher or equal to the one provided [%d]", current, expected))
		}
	case vExternalGTE:
		if cur != nil && current > expected {
			return errVersionConflict(ix, id, fmt.Sprintf("current version [%d] is higher than the one provided [%d]", current, expected))
		}
	}
	return nil
}

func nextVersion(cur *doc, expected int64, vt versionType) int64 {
	if vt != vInternal {
		return expected
	}
	if cur == nil {
		return 1
	}
	return cur.version + 1
}

// write indexes a document: the source is parsed against the mapping
// first (a mapping update survives a version conflict, as in
// Elasticsearch), then the version is checked.
func (ix *index) write(r *opResult, id string, src []byte, parsed *value, create bool, version int64, vt versionType, ifSeqNo, ifPrimaryTerm int64) {
	if e := ix.parseDocument(id, src, parsed); e != nil {
		r.fail(e)
		return
	}
	cur := ix.docs[id]
	expected := version
	if create && expected == versionMatchAny {
		expected = versionMatchDeleted
	}
	var e *esError
	if ifSeqNo != unassignedSeqNo {
		e = ix.conflictCAS(id, cur, ifSeqNo, ifPrimaryTerm)
	} else {
		e = ix.conflictVersion(id, cur, expected, vt)
	}
	if e != nil {
		r.fail(e)
		return
	}
	d := &doc{id: id, source: src, version: nextVersion(cur, expected, vt), seqNo: ix.nextSeqNo()}
	ix.put(d)
	r.version, r.seqNo, r.shards = d.version, d.seqNo, ix.shards()
	if cur == nil || cur.deleted {
		r.status, r.result = http.StatusCreated, "created"
	} else {
		r.status, r.result = http.StatusOK, "updated"
	}
}

// remove deletes a document, leaving a tombstone that keeps its version.
func (ix *index) remove(r *opResult, op *writeOp) {
	cur := ix.docs[op.id]
	var e *esError
	if op.ifSeqNo != unassignedSeqNo {
		e = ix.conflictCAS(op.id, cur, op.ifSeqNo, op.ifPrimaryTerm)
	} else {
		e = ix.conflictVersion(op.id, cur, op.version, op.versionType)
	}
	if e != nil {
		r.fail(e)
		return
	}
	d := &doc{id: op.id, deleted: true, version: nextVersion(cur, op.version, op.versionType), seqNo: ix.nextSeqNo()}
	ix.put(d)
	r.version, r.seqNo, r.shards = d.version, d.seqNo, ix.shards()
	if cur == nil || cur.deleted {
		r.status, r.result = http.StatusNotFound, "not_found"
	} else {
		r.status, r.result = http.StatusOK, "deleted"
	}
}

// update applies a partial document (merged as XContentHelper.update
// does), or an upsert when the document does not exist.
func (ix *index) update(r *opResult, op *writeOp) {
	u := op.upd
	cur := ix.docs[op.id]
	exists := cur != nil && !cur.deleted
	if op.ifSeqNo != unassignedSeqNo {
		if e := ix.conflictCAS(op.id, cur, op.ifSeqNo, op.ifPrimaryTerm); e != nil {
			r.fail(e)
			return
		}
	}
	if !exists {
		var up *value
		switch {
		case u.scripted:
			r.fail(errNotEmulated("[scripted_upsert]"))
			return
		case u.docAsUpsert:
			up = u.doc
		case u.upsert != nil:
			up = u.upsert
		default:
			r.fail(errDocumentMissing(ix, op.id))
			return
		}
		src := appendValue(nil, up)
		parsed, _ := parseJSON(src)
		ix.write(r, op.id, src, &parsed, true, versionMatchAny, vInternal, unassignedSeqNo, unassignedPrimaryTerm)
		r.fetchGet(op)
		return
	}
	if u.script {
		r.fail(errNotEmulated("scripted update"))
		return
	}
	merged, changed := mergeObject(cur.tree(), u.doc)
	if u.detectNoop && !changed {
		r.status, r.result = http.StatusOK, "noop"
		r.version, r.seqNo = cur.version, cur.seqNo
		r.shards = obj{{"total", 0}, {"successful", 0}, {"failed", 0}}
		r.fetchGetDoc(op, cur)
		return
	}
	src := appendValue(nil, &merged)
	parsed, _ := parseJSON(src)
	ix.write(r, op.id, src, &parsed, false, versionMatchAny, vInternal, cur.seqNo, primaryTerm)
	if r.err == nil {
		r.status, r.result = http.StatusOK, "updated"
	}
	r.fetchGet(op)
}

// fetchGet adds the "get" of an update that asked for _source.
func (r *opResult) fetchGet(op *writeOp) {
	if r.err != nil || op.fetch == nil || r.ix == nil {
		return
	}
	r.fetchGetDoc(op, r.ix.docs[op.id])
}

func (r *opResult) fetchGetDoc(op *writeOp, d *doc) {
	if op.fetch == nil || d == nil {
		return
	}
	g := obj{{"_seq_no", d.seqNo}, {"_primary_term", primaryTerm}, {"found", true}}
	if src := op.fetch.apply(d); src != nil {
		g = append(g, kv{"_source", src})
	}
	r.get = g
}

// mergeObject merges changes into a copy of old; changed tells whether
// anything differs (for detect_noop).
func mergeObject(old, changes *value) (value, bool) {
	out := value{kind: kObj, obj: make([]member, len(old.obj), len(old.obj)+len(changes.obj))}
	copy(out.obj, old.obj)
	changed := false
	for i := range changes.obj {
		c := &changes.obj[i]
		j := -1
		for k := range out.obj {
			if out.obj[k].key == c.key {
				j = k
				break
			}
		}
		if j < 0 {
			out.obj = append(out.obj, member{key: c.key, val: c.val})
			changed = true
			continue
		}
		o := &out.obj[j].val
		if o.kind == kObj && c.val.kind == kObj {
			m, ch := mergeObject(o, &c.val)
			out.obj[j].val = m
			changed = changed || ch
			continue
		}
		if !changed && !equalValues(o, &c.val) {
			changed = true
		}
		out.obj[j].val = c.val
	}
	return out, changed
}

// appendItem appends a bulk item, {"<op>":{...}}: what body(true) gives,
// written directly for the common successful case.
func (r *opResult) appendItem(b []byte) []byte {
	b = append(b, `{"`...)
	b = append(b, r.op.op.String()...)
	b = append(b, `":`...)
	if r.err != nil || r.get != nil {
		b = appendAny(b, r.body(true))
		return append(b, '}')
	}
	b = append(b, `{"_index":`...)
	b = appendString(b, r.index)
	b = append(b, `,"_id":`...)
	b = appendString(b, r.id)
	b = append(b, `,"_version":`...)
	b = strconv.AppendInt(b, r.version, 10)
	b = append(b, `,"result":"`...)
	b = append(b, r.result...)
	b = append(b, '"')
	if r.forcedRefresh {
		b = append(b, `,"forced_refresh":true`...)
	}
	b = append(b, `,"_shards":`...)
	b = appendAny(b, r.shards)
	b = append(b, `,"_seq_no":`...)
	b = strconv.AppendInt(b, r.seqNo, 10)
	b = append(b, `,"_primary_term":1,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	return append(b, "}}"...)
}

// body is the response of a write: a bulk item's (withStatus) or a single
// document API's.
func (r *opResult) body(withStatus bool) obj {
	if r.err != nil {
		return obj{{"_index", r.index}, {"_id", r.id}, {"status", r.status}, {"error", r.err.body()}}
	}
	o := obj{
		{"_index", r.index},
		{"_id", r.id},
		{"_version", r.version},
		{"result", r.result},
	}
	if r.forcedRefresh {
		o = append(o, kv{"forced_refresh", true})
	}
	o = append(o, kv{"_shards", r.shards}, kv{"_seq_no", r.seqNo}, kv{"_primary_term", int64(primaryTerm)})
	if r.get != nil {
		o = append(o, kv{"get", r.get})
	}
	if withStatus {
		o = append(o, kv{"status", r.status})
	}
	return o
}

// refreshPolicy reads the refresh parameter: "true", "wait_for" or "false".
func refreshPolicy(rq *request) (string, *esError) {
	v, ok := rq.param("refresh")
	if !ok {
		return "false", nil
	}
	switch v {
	case "", "true":
		return "true", nil
	case "wait_for", "false":
		return v, nil
	}
	return "", errIllegalArgument("Unknown value for refresh: [%s].", v)
}

// versionParams reads the version, version_type, if_seq_no and
// if_primary_term parameters of a single-document write.
func versionParams(rq *request, op *writeOp) *esError {
	if v, ok := rq.param("version"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errIllegalArgument("Failed to parse long parameter [version] with value [%s]", v)
		}
		op.version = n
	}
	if v, ok := rq.param("version_type"); ok {
		vt, e := parseVersionType(v)
		if e != nil {
			return e
		}
		op.versionType = vt
	}
	if v, ok := rq.param("if_seq_no"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errIllegalArgument("Failed to parse long parameter [if_seq_no] with value [%s]", v)
		}
		if n < 0 {
			return errIllegalArgument("sequence numbers must be non negative. got [%d].", n)
		}
		op.ifSeqNo = n
	}
	if v, ok := rq.param("if_primary_term"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errIllegalArgument("Failed to parse long parameter [if_primary_term] with value [%s]", v)
		}
		if n < 0 {
			return errIllegalArgument("primary term must be non negative. got [%d].", n)
		}
		op.ifPrimaryTerm = n
	}
	return nil
}
