package esemu

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// esError is an Elasticsearch exception as its REST layer renders it:
// {"type","reason",<metadata>...,"caused_by"}.
type esError struct {
	status int
	typ    string
	reason string
	meta   obj        // extra fields: index, index_uuid, shard, line, col...
	cause  *esError   // rendered as caused_by
	roots  []*esError // root_cause; the error itself (without cause) when nil
	// simple is for the few errors ES writes as {"error":"...","status":N}
	// (unsupported Content-Type, wrong HTTP method).
	simple bool
	// inner holds fields written after reason and meta, before caused_by
	// (search_phase_execution_exception's phase, grouped, failed_shards).
	inner obj
}

func (e *esError) Error() string { return e.typ + ": " + e.reason }

// body is the error as an object: what a bulk item's "error" and a
// caused_by carry.
func (e *esError) body() obj {
	o := obj{{"type", e.typ}, {"reason", e.reason}}
	o = append(o, e.meta...)
	o = append(o, e.inner...)
	if e.cause != nil {
		o = append(o, kv{"caused_by", e.cause.body()})
	}
	return o
}

// rootBody is a root_cause entry: the error without its cause.
func (e *esError) rootBody() obj {
	o := obj{{"type", e.typ}, {"reason", e.reason}}
	return append(o, e.meta...)
}

// response is the whole response body of a failed request.
func (e *esError) response() obj {
	if e.simple {
		return obj{{"error", e.reason}, {"status", e.status}}
	}
	roots := e.roots
	if roots == nil {
		roots = []*esError{e}
	}
	rc := make([]obj, len(roots))
	for i, r := range roots {
		rc[i] = r.rootBody()
	}
	inner := obj{{"root_cause", rc}}
	inner = append(inner, e.body()...)
	return obj{{"error", inner}, {"status", e.status}}
}

func newErr(status int, typ, format string, args ...any) *esError {
	return &esError{status: status, typ: typ, reason: fmt.Sprintf(format, args...)}
}

func errIllegalArgument(format string, args ...any) *esError {
	return newErr(http.StatusBadRequest, "illegal_argument_exception", format, args...)
}

// errNotEmulated is the answer to a request Elasticsearch would serve but
// the emulator does not.
func errNotEmulated(what string) *esError {
	return errIllegalArgument("esemu: %s is not emulated", what)
}

func errParse(format string, args ...any) *esError {
	return newErr(http.StatusBadRequest, "parse_exception", format, args...)
}

// errXContent renders a JSON syntax error in data as the
// x_content_parse_exception Elasticsearch answers with.
func errXContent(data []byte, err error) *esError {
	var je *jsonError
	if errors.As(err, &je) {
		l, c := lineCol(data, je.off)
		return newErr(http.StatusBadRequest, "x_content_parse_exception", "[%d:%d] %s", l, c, je.msg)
	}
	return newErr(http.StatusBadRequest, "x_content_parse_exception", "%s", err.Error())
}

// errParsing is a parsing_exception positioned at off in data, what the
// query DSL parser throws.
func errParsing(data []byte, off int, format string, args ...any) *esError {
	e := newErr(http.StatusBadRequest, "parsing_exception", format, args...)
	l, c := lineCol(data, off)
	e.meta = obj{{"line", l}, {"col", c}}
	return e
}

func errValidation(msgs ...string) *esError {
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, m := range msgs {
		fmt.Fprintf(&b, "%d: %s;", i+1, m)
	}
	return &esError{status: http.StatusBadRequest, typ: "action_request_validation_exception", reason: b.String()}
}

func errIndexNotFound(name string) *esError {
	e := newErr(http.StatusNotFound, "index_not_found_exception", "no such index [%s]", name)
	e.meta = obj{{"resource.type", "index_or_alias"}, {"resource.id", name}, {"index_uuid", "_na_"}, {"index", name}}
	return e
}

func errInvalidIndexName(name, why string) *esError {
	e := newErr(http.StatusBadRequest, "invalid_index_name_exception", "Invalid index name [%s], %s", name, why)
	e.meta = obj{{"index_uuid", "_na_"}, {"index", name}}
	return e
}

// shardMeta is what a shard-level exception carries about its shard.
func (ix *index) shardMeta() obj {
	return obj{{"index_uuid", ix.uuid}, {"shard", "0"}, {"index", ix.name}}
}

func errVersionConflict(ix *index, id, explanation string) *esError {
	e := newErr(http.StatusConflict, "version_conflict_engine_exception", "[%s]: version conflict, %s", id, explanation)
	e.meta = ix.shardMeta()
	return e
}

func errDocumentMissing(ix *index, id string) *esError {
	e := newErr(http.StatusNotFound, "document_missing_exception", "[%s]: document missing", id)
	e.meta = ix.shardMeta()
	return e
}

// errUnrecognizedParams is what BaseRestHandler answers to a query
// parameter no handler consumed.
func errUnrecognizedParams(path string, names []string) *esError {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "[" + n + "]"
	}
	if len(names) == 1 {
		return errIllegalArgument("request [%s] contains unrecognized parameter: %s", path, quoted[0])
	}
	return errIllegalArgument("request [%s] contains unrecognized parameters: %s", path, strings.Join(quoted, ", "))
}

// errShards is the search_phase_execution_exception of a search whose
// every shard failed.
func errShards(failures []shardFailure) *esError {
	e := &esError{status: http.StatusBadRequest, typ: "search_phase_execution_exception", reason: "all shards failed"}
	fs := make([]obj, 0, len(failures))
	for _, f := range failures {
		e.roots = append(e.roots, f.err)
		fs = append(fs, f.body())
		if f.err.status > e.status {
			e.status = f.err.status
		}
	}
	e.inner = obj{{"phase", "query"}, {"grouped", true}, {"failed_shards", fs}}
	if len(failures) > 0 {
		e.cause = failures[0].err
	}
	return e
}

// shardFailure is the failure of the (single) shard of one index.
type shardFailure struct {
	index string
	err   *esError
}

func (f shardFailure) body() obj {
	return obj{{"shard", 0}, {"index", f.index}, {"node", nodeID}, {"reason", f.err.body()}}
}
