package esemu

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// bulkDefaults are the request-level defaults of a bulk request's items.
type bulkDefaults struct {
	index        string
	requireAlias bool
	fetch        *sourceFilter
}

// parseBulk parses a bulk request body, the way Elasticsearch's
// BulkRequestParser does: newline-delimited action lines, each but a
// delete's followed by a source line. Any malformed action line fails the
// whole request; a source line is only parsed later, when its item is
// applied, except an update's, which is parsed here. As in Elasticsearch,
// a final action without its source line is ignored, and a body that does
// not end with a newline is refused.
func parseBulk(body []byte, def bulkDefaults) ([]*writeOp, *esError) {
	var ops []*writeOp
	var pending *writeOp
	line := 0
	from := 0
	for {
		nl := bytes.IndexByte(body[from:], '\n')
		if nl < 0 {
			if from != len(body) {
				return nil, errIllegalArgument(`The bulk request must be terminated by a newline [\n]`)
			}
			break
		}
		data := body[from : from+nl]
		from += nl + 1
		line++
		if pending == nil {
			op, e := parseAction(data, line, def)
			if e != nil {
				return nil, e
			}
			if op == nil {
				continue // a blank line
			}
			if op.op == opDelete {
				ops = append(ops, op)
			} else {
				pending = op
			}
			continue
		}
		if n := len(data); n > 0 && data[n-1] == '\r' {
			data = data[:n-1]
		}
		if pending.op == opUpdate {
			u, e := parseUpdateBody(data)
			if e != nil {
				return nil, e
			}
			pending.upd = u
			if u.fetch != nil {
				pending.fetch = u.fetch
			}
		} else {
			pending.source = data
		}
		ops = append(ops, pending)
		pending = nil
	}
	return ops, nil
}

func malformed(line int, format string, args ...any) *esError {
	return errIllegalArgument("Malformed action/metadata line [%d], %s", line, fmt.Sprintf(format, args...))
}

// parseAction parses an action line; it returns nil for a blank line.
func parseAction(data []byte, line int, def bulkDefaults) (*writeOp, *esError) {
	if isBlank(data) {
		return nil, nil
	}
	v, err := parseJSON(data)
	if err != nil {
		return nil, errXContent(data, err)
	}
	if v.kind != kObj {
		return nil, malformed(line, "expected START_OBJECT but found [%s]", tokenName(&v))
	}
	if len(v.obj) == 0 {
		return nil, malformed(line, "expected FIELD_NAME but found [END_OBJECT]")
	}
	var op *writeOp
	switch action := v.obj[0].key; action {
	case "index":
		op = newWriteOp(opIndex)
	case "create":
		op = newWriteOp(opCreate)
	case "update":
		op = newWriteOp(opUpdate)
	case "delete":
		op = newWriteOp(opDelete)
	default:
		return nil, malformed(line, "expected field [create], [delete], [index] or [update] but found [%s]", action)
	}
	op.index, op.requireAlias, op.fetch = def.index, def.requireAlias, def.fetch
	meta := &v.obj[0].val
	if meta.kind != kObj {
		return nil, malformed(line, "expected START_OBJECT or END_OBJECT but found [%s]", tokenName(meta))
	}
	opTypeCreate := false
	for i := range meta.obj {
		mb := &meta.obj[i]
		f := &mb.val
		switch f.kind {
		case kNull:
			continue
		case kArr:
			return nil, malformed(line, "expected a simple value for field [%s] but found [START_ARRAY]", mb.key)
		case kObj:
			switch mb.key {
			case "_source":
				sf, e := parseSourceFilterValue(f)
				if e != nil {
					return nil, e
				}
				op.fetch = sf
			case "dynamic_templates":
				if op.op == opDelete || op.op == opUpdate {
					return nil, errIllegalArgument("%s request in line [%d] does not accept dynamic_templates", capitalize(op.op.String()), line)
				}
			default:
				return nil, malformed(line, "expected a simple value for field [%s] but found [START_OBJECT]", mb.key)
			}
			continue
		}
		text := scalarText(f)
		switch mb.key {
		case "_index":
			op.index = text
		case "_id":
			op.id, op.hasID = text, true
		case "routing", "pipeline", "list_executed_pipelines", "require_data_stream":
			// routing: one shard; pipelines: not emulated.
		case "op_type":
			opTypeCreate = text == "create"
		case "version", "if_seq_no", "if_primary_term", "retry_on_conflict":
			n, e := longValue(f)
			if e != nil {
				return nil, e
			}
			switch mb.key {
			case "version":
				op.version = n
			case "if_seq_no":
				if n < 0 && n != unassignedSeqNo {
					return nil, errIllegalArgument("sequence numbers must be non negative. got [%d].", n)
				}
				op.ifSeqNo = n
			case "if_primary_term":
				if n < 0 {
					return nil, errIllegalArgument("primary term must be non negative. got [%d].", n)
				}
				op.ifPrimaryTerm = n
			}
		case "version_type":
			vt, e := parseVersionType(text)
			if e != nil {
				return nil, e
			}
			op.versionType = vt
		case "_source":
			sf, e := parseSourceFilterValue(f)
			if e != nil {
				return nil, e
			}
			op.fetch = sf
		case "require_alias":
			b, ok := boolValue(f)
			if !ok {
				return nil, errIllegalArgument("Failed to parse value [%s] as only [true] or [false] are allowed.", text)
			}
			op.requireAlias = b
		default:
			return nil, errIllegalArgument("Action/metadata line [%d] contains an unknown parameter [%s]", line, mb.key)
		}
	}
	if op.op == opIndex && opTypeCreate {
		op.op = opCreate
	}
	if op.op == opUpdate && (op.version != versionMatchAny || op.versionType != vInternal) {
		return nil, errIllegalArgument("Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead")
	}
	if op.op != opUpdate {
		op.fetch = nil
	}
	return op, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// longValue is XContentParser.longValue(): a number, or a string holding
// one (coerced).
func longValue(v *value) (int64, *esError) {
	switch v.kind {
	case kNum, kStr:
		n, ok, _ := toLong(v)
		if ok {
			return n, nil
		}
		if v.kind == kNum {
			return 0, errIllegalArgument("Numeric value (%s) out of range of long (-9223372036854775808 - 9223372036854775807)", v.s)
		}
		return 0, errIllegalArgument("For input string: \"%s\"", v.s)
	}
	return 0, errIllegalArgument("Current token (%s) not numeric, can not use numeric value accessors", tokenName(v))
}

// bulk serves POST /_bulk and /<index>/_bulk
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/docs-bulk.html).
func (s *Server) bulk(rq *request) (int, any) {
	policy, e := refreshPolicy(rq)
	if e != nil {
		return e.status, e
	}
	ra, e := rq.boolParam("require_alias", false)
	if e != nil {
		return e.status, e
	}
	if len(rq.body) == 0 {
		e := errParse("request body is required")
		return e.status, e
	}
	ops, e := parseBulk(rq.body, bulkDefaults{index: pathIndex(rq), requireAlias: ra, fetch: sourceFromParams(rq)})
	if e != nil {
		return e.status, e
	}
	var msgs []string
	if len(ops) == 0 {
		msgs = append(msgs, "no requests added")
	}
	for _, op := range ops {
		msgs = append(msgs, op.validate()...)
	}
	if len(msgs) > 0 {
		e := errValidation(msgs...)
		return e.status, e
	}
	for _, op := range ops {
		op.prepare()
	}

	results := make([]opResult, len(ops))
	s.mu.Lock()
	for i, op := range ops {
		results[i] = s.apply(op)
	}
	if policy != "false" {
		refreshed := map[*index]bool{}
		for i := range results {
			r := &results[i]
			if r.ix == nil || r.err != nil {
				continue
			}
			if !refreshed[r.ix] {
				r.ix.refresh()
				refreshed[r.ix] = true
			}
			r.forcedRefresh = policy == "true"
		}
	}
	s.mu.Unlock()

	errs := false
	for i := range results {
		if results[i].err != nil {
			errs = true
			break
		}
	}
	b := make([]byte, 0, 64+len(results)*200)
	b = append(b, `{"took":`...)
	b = strconv.AppendInt(b, rq.tookMillis(), 10)
	b = append(b, `,"errors":`...)
	b = strconv.AppendBool(b, errs)
	b = append(b, `,"items":[`...)
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = results[i].appendItem(b)
	}
	b = append(b, "]}"...)
	return http.StatusOK, raw(b)
}

// injectedError is the error FailNext makes a bulk request answer.
func injectedError(status int) *esError {
	switch status {
	case http.StatusTooManyRequests:
		return newErr(status, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=0, max_coordinating_and_primary_bytes=0] (injected by esemu)")
	case http.StatusServiceUnavailable:
		return newErr(status, "unavailable_shards_exception", "primary shard is not active (injected by esemu)")
	case http.StatusGatewayTimeout:
		return newErr(status, "timeout_exception", "request timed out (injected by esemu)")
	case http.StatusInternalServerError:
		return newErr(status, "exception", "internal server error (injected by esemu)")
	}
	return newErr(status, "status_exception", "%s (injected by esemu)", http.StatusText(status))
}
