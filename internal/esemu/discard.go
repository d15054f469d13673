package esemu

import (
	"bytes"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Discard returns a handler for benchmarks: a bulk endpoint that discards.
// It answers GET / like the emulator, and POST /_bulk (or
// /<index>/_bulk) by reading the action lines just enough to count the
// items and name them, then reporting every item a success (index and
// create: 201 "created"; update: 200 "updated"; delete: 200 "deleted")
// without storing anything. A malformed action line is still a 400. Other
// requests are answered as unknown endpoints.
func Discard() http.Handler {
	return &discard{info: New()}
}

type discard struct {
	info  *Server
	seqNo atomic.Int64
}

func (d *discard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq, status, body := d.info.prepare(w, r)
	if rq != nil {
		status, body = d.serve(rq)
	}
	writeResponse(w, r, rq, status, body)
}

func (d *discard) serve(rq *request) (int, any) {
	switch {
	case len(rq.segs) == 0 && (rq.method == http.MethodGet || rq.method == http.MethodHead):
		return d.info.info(rq)
	case (len(rq.segs) == 1 || len(rq.segs) == 2) && rq.segs[len(rq.segs)-1] == "_bulk" &&
		(rq.method == http.MethodPost || rq.method == http.MethodPut):
		return d.bulk(rq)
	}
	e := errIllegalArgument("no handler found for uri [%s] and method [%s]", rq.uri, rq.method)
	return e.status, e
}

func (d *discard) bulk(rq *request) (int, any) {
	start := time.Now()
	if len(rq.body) > 0 {
		if e := checkContentType(rq.header); e != nil {
			return e.status, e
		}
	}
	if len(rq.body) == 0 {
		e := errParse("request body is required")
		return e.status, e
	}
	def := bulkDefaults{index: pathIndex(rq)}
	b := make([]byte, 0, 64+len(rq.body)/2)
	b = append(b, `{"took":`...)
	tookAt := len(b)
	b = append(b, `0,"errors":false,"items":[`...)
	n := 0
	line := 0
	from := 0
	expectSource := false
	for {
		nl := bytes.IndexByte(rq.body[from:], '\n')
		if nl < 0 {
			if from != len(rq.body) {
				e := errIllegalArgument(`The bulk request must be terminated by a newline [\n]`)
				return e.status, e
			}
			break
		}
		data := rq.body[from : from+nl]
		from += nl + 1
		line++
		if expectSource {
			expectSource = false
			continue
		}
		op, e := parseAction(data, line, def)
		if e != nil {
			return e.status, e
		}
		if op == nil {
			continue
		}
		expectSource = op.op != opDelete
		if !op.hasID {
			op.id = randomID(20)
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		status, result := http.StatusOK, "updated"
		switch op.op {
		case opIndex, opCreate:
			status, result = http.StatusCreated, "created"
		case opDelete:
			result = "deleted"
		}
		b = append(b, `{"`...)
		b = append(b, op.op.String()...)
		b = append(b, `":{"_index":`...)
		b = appendString(b, op.index)
		b = append(b, `,"_id":`...)
		b = appendString(b, op.id)
		b = append(b, `,"_version":1,"result":"`...)
		b = append(b, result...)
		b = append(b, `","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":`...)
		b = strconv.AppendInt(b, d.seqNo.Add(1)-1, 10)
		b = append(b, `,"_primary_term":1,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, "}}"...)
	}
	if n == 0 {
		e := errValidation("no requests added")
		return e.status, e
	}
	b = append(b, "]}"...)
	if took := time.Since(start).Milliseconds(); took > 0 {
		t := strconv.AppendInt(nil, took, 10)
		b = append(b[:tookAt], append(t, b[tookAt+1:]...)...)
	}
	return http.StatusOK, raw(b)
}
