package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
)

// bulkResponse is what the indexer reads of a bulk response.
type bulkResponse struct {
	Took      int  `json:"took"`
	HasErrors bool `json:"errors"`
	// Items holds an object per action, in the order of the request,
	// whose one key is the action.
	Items []map[string]bulkItemResult `json:"items"`
}

// bulkItemResult is the outcome of an action of a bulk request.
type bulkItemResult struct {
	// Status is the HTTP status of the action (400 for a document the
	// mapping refuses).
	Status int         `json:"status"`
	Error  bulkItemErr `json:"error"`
}

// bulkItemErr is the error of a bulk item, if any.
type bulkItemErr struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
	Cause  struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"caused_by"`
}

// decodeBulk decodes a bulk response for the indexer. A response holds an
// object per item with fields the Sink does not read (_index, _id,
// result, _shards): encoding/json's decoder spent most of the client's
// time and allocations on them. decodeBulk scans the response and keeps,
// per item, the action, status and error (decoded with encoding/json:
// errors are rare). The items the indexer reports as successes (no error,
// status 200 or 201) share one map per action and status, as the Sink
// reads nothing else of them: a map of one item is 1.6 KB. A response
// it does not understand is decoded with encoding/json. It is safe for
// concurrent use.
func decodeBulk(r io.Reader, blk *bulkResponse) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 16<<20 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	data := buf.Bytes()
	if err := decodeBulkResponse(data, blk, true); err != nil {
		*blk = bulkResponse{}
		return json.Unmarshal(data, blk)
	}
	return nil
}

var errSyntax = errors.New("bulk response: unexpected JSON")

// bufPool holds the buffers responses are read into.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decodeBulkResponse decodes data into blk, or returns errSyntax. With
// share, the successful items keep only their status, and share their
// map.
func decodeBulkResponse(data []byte, blk *bulkResponse, share bool) error {
	d := scanner{data: data}
	type shared struct {
		action string
		status int
		m      map[string]bulkItemResult
	}
	var maps []shared
	return d.object(func(key []byte) error {
		switch string(key) {
		case "took":
			n, err := d.int()
			blk.Took = int(n)
			return err
		case "errors":
			switch {
			case d.literal("true"):
				blk.HasErrors = true
			case d.literal("false"):
				blk.HasErrors = false
			default:
				return errSyntax
			}
			return nil
		case "items":
			blk.Items = blk.Items[:0]
			return d.array(func() error {
				var action string
				var item bulkItemResult
				err := d.object(func(key []byte) error {
					if action != "" {
						return errSyntax // one action an item
					}
					action = internAction(key)
					return d.object(func(key []byte) error { return d.itemField(key, &item) })
				})
				if err != nil || action == "" {
					return errSyntax
				}
				if share && item.Error.Type == "" && (item.Status == 200 || item.Status == 201) {
					for _, m := range maps {
						if m.action == action && m.status == item.Status {
							blk.Items = append(blk.Items, m.m)
							return nil
						}
					}
					m := map[string]bulkItemResult{action: {Status: item.Status}}
					maps = append(maps, shared{action, item.Status, m})
					blk.Items = append(blk.Items, m)
					return nil
				}
				blk.Items = append(blk.Items, map[string]bulkItemResult{action: item})
				return nil
			})
		}
		if folds(key, "took", "errors", "items") {
			return errSyntax // encoding/json matches keys case-insensitively
		}
		return d.skip()
	})
}

// folds reports whether key equals one of names but for case.
func folds(key []byte, names ...string) bool {
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// itemField decodes a field of a bulk item.
func (d *scanner) itemField(key []byte, item *bulkItemResult) error {
	var err error
	switch string(key) {
	case "status":
		var n int64
		n, err = d.int()
		item.Status = int(n)
	case "error":
		start := d.i
		if err = d.skip(); err == nil {
			err = json.Unmarshal(d.data[start:d.i], &item.Error)
		}
	default:
		if folds(key, "status", "error") {
			return errSyntax
		}
		err = d.skip()
	}
	return err
}

func internAction(key []byte) string {
	switch string(key) {
	case actionIndex:
		return actionIndex
	case actionCreate:
		return actionCreate
	case actionDelete:
		return actionDelete
	case "update":
		return "update"
	}
	return string(key)
}

// scanner reads JSON from data, at i.
type scanner struct {
	data []byte
	i    int
}

func (d *scanner) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// consume skips whitespace and c, reporting whether c was there.
func (d *scanner) consume(c byte) bool {
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *scanner) literal(lit string) bool {
	d.ws()
	if bytes.HasPrefix(d.data[d.i:], []byte(lit)) {
		d.i += len(lit)
		return true
	}
	return false
}

// object reads an object, calling field with each key, positioned at its
// value, which field must read.
func (d *scanner) object(field func(key []byte) error) error {
	if !d.consume('{') {
		return errSyntax
	}
	if d.consume('}') {
		return nil
	}
	for {
		key, err := d.key()
		if err != nil {
			return err
		}
		if !d.consume(':') {
			return errSyntax
		}
		if err := field(key); err != nil {
			return err
		}
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			return nil
		}
		return errSyntax
	}
}

// array reads an array, calling elem at each element, which elem must read.
func (d *scanner) array(elem func() error) error {
	if !d.consume('[') {
		return errSyntax
	}
	if d.consume(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			return nil
		}
		return errSyntax
	}
}

// key reads a string without escapes (keys of bulk responses have none;
// one with escapes sends the response to encoding/json).
func (d *scanner) key() ([]byte, error) {
	if !d.consume('"') {
		return nil, errSyntax
	}
	start := d.i
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case '"':
			d.i++
			return d.data[start : d.i-1], nil
		case '\\':
			return nil, errSyntax
		}
		d.i++
	}
	return nil, errSyntax
}

func (d *scanner) int() (int64, error) {
	d.ws()
	start := d.i
	for d.i < len(d.data) && (d.data[d.i] == '-' || '0' <= d.data[d.i] && d.data[d.i] <= '9') {
		d.i++
	}
	n, err := strconv.ParseInt(string(d.data[start:d.i]), 10, 64)
	if err != nil {
		return 0, errSyntax
	}
	return n, nil
}

// skip reads any value.
func (d *scanner) skip() error {
	d.ws()
	if d.i >= len(d.data) {
		return errSyntax
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(func([]byte) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '"':
		d.i++
		for d.i < len(d.data) {
			switch d.data[d.i] {
			case '"':
				d.i++
				return nil
			case '\\':
				d.i++
			}
			d.i++
		}
		return errSyntax
	default: // number, true, false, null
		start := d.i
		for d.i < len(d.data) {
			c := d.data[d.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				break
			}
			d.i++
		}
		if d.i == start {
			return errSyntax
		}
		return nil
	}
}
