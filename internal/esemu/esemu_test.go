package esemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/runnel-io/runnel/internal/esemu"
)

// newClient returns an official client for the emulator at url; it
// retries 429 and 5xx answers, without waiting.
func newClient(t testing.TB, url string) *elasticsearch.Client {
	t.Helper()
	c, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:     []string{url},
		RetryOnStatus: []int{429, 502, 503, 504},
		MaxRetries:    5,
		RetryBackoff:  func(int) time.Duration { return time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// result is a decoded response.
type result struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

// do performs an esapi request and decodes its answer.
func do(t testing.TB, c *elasticsearch.Client, req esapi.Request) result {
	t.Helper()
	res, err := req.Do(context.Background(), c)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: res.StatusCode, raw: string(b), header: res.Header}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("%T: bad JSON %q: %v", req, b, err)
		}
	}
	return r
}

// get follows a path of keys and indexes ("items.0.index.status") in a
// decoded response.
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// num reads a JSON number as an int64.
func num(t testing.TB, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("not a number: %#v", v)
	}
	return int64(f)
}

func ndjson(lines ...string) *strings.Reader {
	return strings.NewReader(strings.Join(lines, "\n") + "\n")
}

func setup(t *testing.T) (*esemu.Server, *elasticsearch.Client) {
	t.Helper()
	s := esemu.New()
	return s, newClient(t, s.Start(t))
}

func TestInfoPassesTheProductCheck(t *testing.T) {
	c := newClient(t, esemu.Start(t))
	r := do(t, c, esapi.InfoRequest{})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if v, _ := get(r.body, "version.number").(string); !strings.HasPrefix(v, "8.") {
		t.Errorf("version.number = %q, want 8.x", v)
	}
	if got := get(r.body, "tagline"); got != "You Know, for Search" {
		t.Errorf("tagline = %v", got)
	}
	if got := r.header.Get("X-Elastic-Product"); got != "Elasticsearch" {
		t.Errorf("X-Elastic-Product = %q", got)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestBulkItemStatuses(t *testing.T) {
	s, c := setup(t)
	// "n" is mapped as a long by the first document, so the fourth item's
	// "abc" cannot be indexed; the items around it still are.
	r := do(t, c, esapi.BulkRequest{Index: "items", Body: ndjson(
		`{"index":{"_id":"1"}}`, `{"n":1,"s":"one"}`,
		`{"index":{"_id":"1"}}`, `{"n":2,"s":"one again"}`,
		`{"index":{"_id":"x","version":5,"version_type":"external"}}`, `{"n":5}`,
		`{"index":{"_id":"x","version":4,"version_type":"external"}}`, `{"n":4}`,
		`{"index":{"_id":"bad"}}`, `{"n":"abc"}`,
		`{"delete":{"_id":"missing"}}`,
		`{"create":{"_id":"1"}}`, `{"n":3}`,
		`{"update":{"_id":"nope"}}`, `{"doc":{"n":1}}`,
		`{"index":{"_id":"obj"}}`, `"not an object"`,
		`{"create":{}}`, `{"n":7}`,
	)})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if get(r.body, "errors") != true {
		t.Errorf("errors = %v, want true", get(r.body, "errors"))
	}
	tests := []struct {
		op, id     string
		status     int
		result     string
		version    int64
		errType    string
		reasonPart string
	}{
		{"index", "1", 201, "created", 1, "", ""},
		{"index", "1", 200, "updated", 2, "", ""},
		{"index", "x", 201, "created", 5, "", ""},
		{"index", "x", 409, "", 0, "version_conflict_engine_exception", "[x]: version conflict, current version [5] is higher or equal to the one provided [4]"},
		{"index", "bad", 400, "", 0, "document_parsing_exception", "failed to parse field [n] of type [long] in document with id 'bad'. Preview of field's value: 'abc'"},
		{"delete", "missing", 404, "not_found", 1, "", ""},
		{"create", "1", 409, "", 0, "version_conflict_engine_exception", "[1]: version conflict, document already exists (current version [2])"},
		{"update", "nope", 404, "", 0, "document_missing_exception", "[nope]: document missing"},
		{"index", "obj", 400, "", 0, "document_parsing_exception", "must start with an object"},
		{"create", "", 201, "created", 1, "", ""},
	}
	items, _ := r.body["items"].([]any)
	if len(items) != len(tests) {
		t.Fatalf("%d items, want %d: %s", len(items), len(tests), r.raw)
	}
	var seqNos []int64
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d_%s_%s", i, tt.op, tt.id), func(t *testing.T) {
			item, _ := get(items[i], tt.op).(map[string]any)
			if item == nil {
				t.Fatalf("item %d is not a %q: %v", i, tt.op, items[i])
			}
			if got := num(t, item["status"]); got != int64(tt.status) {
				t.Errorf("status = %d, want %d (%v)", got, tt.status, item)
			}
			if item["_index"] != "items" {
				t.Errorf("_index = %v", item["_index"])
			}
			if tt.id != "" && item["_id"] != tt.id {
				t.Errorf("_id = %v, want %s", item["_id"], tt.id)
			}
			if tt.id == "" {
				if id, _ := item["_id"].(string); len(id) != 20 {
					t.Errorf("generated _id = %v, want 20 characters", item["_id"])
				}
			}
			if tt.errType == "" {
				if item["error"] != nil {
					t.Fatalf("unexpected error %v", item["error"])
				}
				if item["result"] != tt.result {
					t.Errorf("result = %v, want %s", item["result"], tt.result)
				}
				if got := num(t, item["_version"]); got != tt.version {
					t.Errorf("_version = %d, want %d", got, tt.version)
				}
				if got := num(t, item["_primary_term"]); got != 1 {
					t.Errorf("_primary_term = %d", got)
				}
				if get(item, "_shards.successful") != 1.0 {
					t.Errorf("_shards = %v", item["_shards"])
				}
				seqNos = append(seqNos, num(t, item["_seq_no"]))
				return
			}
			if got := get(item, "error.type"); got != tt.errType {
				t.Errorf("error.type = %v, want %s", got, tt.errType)
			}
			if reason, _ := get(item, "error.reason").(string); !strings.Contains(reason, tt.reasonPart) {
				t.Errorf("error.reason = %q, want it to contain %q", reason, tt.reasonPart)
			}
			if _, ok := item["_seq_no"]; ok {
				t.Errorf("a failed item has a _seq_no: %v", item)
			}
		})
	}
	for i := 1; i < len(seqNos); i++ {
		if seqNos[i] != seqNos[i-1]+1 {
			t.Errorf("_seq_no of the successful writes = %v, want consecutive", seqNos)
			break
		}
	}
	docs := s.Docs("items")
	if len(docs) != 3 {
		t.Errorf("Docs: %d documents, want 3: %v", len(docs), docs)
	}
	if d := docs["1"]; string(d.Source) != `{"n":2,"s":"one again"}` || d.Version != 2 || d.PrimaryTerm != 1 {
		t.Errorf("Docs()[1] = %+v (source %s)", d, d.Source)
	}
	if s.BulkRequests() != 1 {
		t.Errorf("BulkRequests = %d", s.BulkRequests())
	}
}

func TestBulkMalformedRequestFailsWhole(t *testing.T) {
	tests := []struct {
		name, body, errType, reason string
	}{
		{"bad JSON", "{\"index\":{\"_id\":\"1\"}\n{}\n", "x_content_parse_exception", "[1:21] Unexpected end-of-input"},
		{"unknown action", "{\"upsert\":{\"_id\":\"1\"}}\n{}\n", "illegal_argument_exception",
			"Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [upsert]"},
		{"delete followed by a source", "{\"delete\":{\"_id\":\"1\"}}\n{\"a\":1}\n", "illegal_argument_exception",
			"Malformed action/metadata line [2], expected field [create], [delete], [index] or [update] but found [a]"},
		{"action not an object", "[\"index\"]\n{}\n", "illegal_argument_exception", "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]"},
		{"unknown parameter", "{\"index\":{\"_type\":\"doc\"}}\n{}\n", "illegal_argument_exception", "Action/metadata line [1] contains an unknown parameter [_type]"},
		{"no final newline", "{\"index\":{}}\n{}", "illegal_argument_exception", `The bulk request must be terminated by a newline [\n]`},
		{"only a final action without its source", "{\"index\":{}}\n", "action_request_validation_exception", "Validation Failed: 1: no requests added;"},
		{"bad version_type", "{\"index\":{\"_id\":\"1\",\"version_type\":\"newest\"}}\n{}\n", "illegal_argument_exception", "No version type match [newest]"},
		{"external without version", "{\"index\":{\"_id\":\"1\",\"version_type\":\"external\"}}\n{}\n", "action_request_validation_exception",
			"Validation Failed: 1: illegal version value [-3] for version type [EXTERNAL];"},
		{"internal version", "{\"index\":{\"_id\":\"1\",\"version\":2}}\n{}\n", "action_request_validation_exception",
			"internal versioning can not be used for optimistic concurrency control"},
		{"update with a version", "{\"update\":{\"_id\":\"1\",\"version\":2,\"version_type\":\"external\"}}\n{\"doc\":{}}\n", "illegal_argument_exception",
			"Update requests do not support versioning"},
		{"bad update body", "{\"update\":{\"_id\":\"1\"}}\n{\"dock\":{}}\n", "x_content_parse_exception", "[1:2] [UpdateRequest] unknown field [dock]"},
		{"no index", "{\"index\":{\"_id\":\"1\"}}\n{}\n", "action_request_validation_exception", "index is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t)
			path := "/_bulk"
			if tt.name != "no index" {
				path = "/whole/_bulk"
			}
			res, err := c.Perform(mustRequest(t, "POST", path, "application/x-ndjson", tt.body))
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, res)
			if res.StatusCode != 400 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			var e struct {
				Error struct {
					RootCause []struct{ Type, Reason string } `json:"root_cause"`
					Type      string
					Reason    string
				}
				Status int
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatal(err)
			}
			if e.Status != 400 || e.Error.Type != tt.errType || !strings.Contains(e.Error.Reason, tt.reason) ||
				len(e.Error.RootCause) != 1 || e.Error.RootCause[0].Type != tt.errType {
				t.Errorf("got %s\nwant a %s with reason %q", body, tt.errType, tt.reason)
			}
			if docs := s.Docs("whole"); len(docs) != 0 {
				t.Errorf("a refused bulk wrote %v", docs)
			}
		})
	}
}

func mustRequest(t testing.TB, method, path, contentType, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func readBody(t testing.TB, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIfSeqNoConflict(t *testing.T) {
	_, c := setup(t)
	r := do(t, c, esapi.IndexRequest{Index: "cas", DocumentID: "1", Body: strings.NewReader(`{"v":1}`)})
	seq, term := int(num(t, r.body["_seq_no"])), int(num(t, r.body["_primary_term"]))
	r = do(t, c, esapi.IndexRequest{Index: "cas", DocumentID: "1", Body: strings.NewReader(`{"v":2}`), IfSeqNo: &seq, IfPrimaryTerm: &term})
	if r.status != 200 || r.body["result"] != "updated" {
		t.Fatalf("write with the current seq_no: %d %s", r.status, r.raw)
	}
	r = do(t, c, esapi.IndexRequest{Index: "cas", DocumentID: "1", Body: strings.NewReader(`{"v":3}`), IfSeqNo: &seq, IfPrimaryTerm: &term})
	want := fmt.Sprintf("[1]: version conflict, required seqNo [%d], primary term [1]. current document has seqNo [%d] and primary term [1]", seq, seq+1)
	if r.status != 409 || get(r.body, "error.type") != "version_conflict_engine_exception" || get(r.body, "error.reason") != want {
		t.Errorf("stale seq_no: %d %s\nwant reason %s", r.status, r.raw, want)
	}
	// In a bulk, the same conflict is an item error.
	r = do(t, c, esapi.BulkRequest{Index: "cas", Body: ndjson(fmt.Sprintf(`{"index":{"_id":"1","if_seq_no":%d,"if_primary_term":1}}`, seq), `{"v":4}`)})
	if got := get(r.body, "items.0.index.status"); got != 409.0 {
		t.Errorf("bulk item status = %v: %s", got, r.raw)
	}
	r = do(t, c, esapi.DeleteRequest{Index: "cas", DocumentID: "2", IfSeqNo: &seq, IfPrimaryTerm: &term})
	if r.status != 409 || !strings.Contains(r.raw, "but no document was found") {
		t.Errorf("delete of a missing document with if_seq_no: %d %s", r.status, r.raw)
	}
}

func TestExternalVersioning(t *testing.T) {
	_, c := setup(t)
	steps := []struct {
		action  string // index or delete
		version int64
		vtype   string
		status  int
		result  string
	}{
		{"index", 5, "external", 201, "created"},
		{"index", 5, "external", 409, ""},
		{"index", 3, "external", 409, ""},
		{"index", 6, "external", 200, "updated"},
		{"index", 6, "external_gte", 200, "updated"},
		{"index", 5, "external_gte", 409, ""},
		{"delete", 10, "external", 200, "deleted"},
		{"index", 9, "external", 409, ""}, // the tombstone keeps version 10
		{"index", 10, "external", 409, ""},
		{"delete", 10, "external", 409, ""},
		{"index", 11, "external", 201, "created"},
	}
	for i, st := range steps {
		var r result
		v := int(st.version)
		if st.action == "index" {
			r = do(t, c, esapi.IndexRequest{Index: "ext", DocumentID: "d", Body: strings.NewReader(fmt.Sprintf(`{"step":%d}`, i)), Version: &v, VersionType: st.vtype})
		} else {
			r = do(t, c, esapi.DeleteRequest{Index: "ext", DocumentID: "d", Version: &v, VersionType: st.vtype})
		}
		if r.status != st.status {
			t.Fatalf("step %d %s version %d %s: status %d, want %d: %s", i, st.action, v, st.vtype, r.status, st.status, r.raw)
		}
		if st.status == 409 {
			if get(r.body, "error.type") != "version_conflict_engine_exception" {
				t.Errorf("step %d: %s", i, r.raw)
			}
			continue
		}
		if r.body["result"] != st.result || num(t, r.body["_version"]) != int64(v) {
			t.Errorf("step %d: result %v version %v, want %s %d", i, r.body["result"], r.body["_version"], st.result, v)
		}
	}
	r := do(t, c, esapi.GetRequest{Index: "ext", DocumentID: "d"})
	if num(t, r.body["_version"]) != 11 || get(r.body, "_source.step") != 10.0 {
		t.Errorf("final document: %s", r.raw)
	}
}

func TestExternalDeleteOfAMissingDocumentKeepsItsVersion(t *testing.T) {
	_, c := setup(t)
	r := do(t, c, esapi.BulkRequest{Index: "tomb", Body: ndjson(
		`{"delete":{"_id":"a","version":7,"version_type":"external"}}`,
		`{"index":{"_id":"a","version":6,"version_type":"external"}}`, `{}`,
		`{"index":{"_id":"a","version":8,"version_type":"external"}}`, `{}`,
	)})
	want := []struct {
		status int
		result string
	}{{404, "not_found"}, {409, ""}, {201, "created"}}
	for i, w := range want {
		op := "index"
		if i == 0 {
			op = "delete"
		}
		if got := get(r.body, fmt.Sprintf("items.%d.%s.status", i, op)); got != float64(w.status) {
			t.Errorf("item %d status %v, want %d: %s", i, got, w.status, r.raw)
		}
		if got := get(r.body, fmt.Sprintf("items.%d.%s.result", i, op)); w.result != "" && got != w.result {
			t.Errorf("item %d result %v, want %s", i, got, w.result)
		}
	}
}

func TestRefreshGovernsSearchNotGet(t *testing.T) {
	_, c := setup(t)
	do(t, c, esapi.BulkRequest{Index: "nrt", Body: ndjson(`{"index":{"_id":"1"}}`, `{"a":1}`, `{"index":{"_id":"2"}}`, `{"a":2}`)})
	count := func() int64 {
		return num(t, do(t, c, esapi.CountRequest{Index: []string{"nrt"}}).body["count"])
	}
	hits := func() int64 {
		return num(t, get(do(t, c, esapi.SearchRequest{Index: []string{"nrt"}}).body, "hits.total.value"))
	}
	if r := do(t, c, esapi.GetRequest{Index: "nrt", DocumentID: "1"}); r.status != 200 || r.body["found"] != true {
		t.Errorf("realtime GET before refresh: %s", r.raw)
	}
	if n := count(); n != 0 {
		t.Errorf("count before refresh = %d", n)
	}
	if n := hits(); n != 0 {
		t.Errorf("search before refresh = %d", n)
	}
	if r := do(t, c, esapi.GetRequest{Index: "nrt", DocumentID: "1", Realtime: esapi.BoolPtr(false)}); r.status != 404 {
		t.Errorf("GET realtime=false before refresh: %s", r.raw)
	}
	if r := do(t, c, esapi.IndicesRefreshRequest{Index: []string{"nrt"}}); r.status != 200 || get(r.body, "_shards.successful") != 1.0 {
		t.Fatalf("refresh: %s", r.raw)
	}
	if n := count(); n != 2 {
		t.Errorf("count after refresh = %d", n)
	}
	if n := hits(); n != 2 {
		t.Errorf("search after refresh = %d", n)
	}
	// A delete is not seen by search until the next refresh either.
	do(t, c, esapi.DeleteRequest{Index: "nrt", DocumentID: "1"})
	if n := count(); n != 2 {
		t.Errorf("count after an unrefreshed delete = %d", n)
	}
	if r := do(t, c, esapi.GetRequest{Index: "nrt", DocumentID: "1"}); r.status != 404 || r.body["found"] != false {
		t.Errorf("realtime GET after delete: %d %s", r.status, r.raw)
	}
	// refresh=wait_for and refresh=true make a write searchable at once.
	r := do(t, c, esapi.IndexRequest{Index: "nrt", DocumentID: "3", Body: strings.NewReader(`{"a":3}`), Refresh: "wait_for"})
	if _, forced := r.body["forced_refresh"]; forced {
		t.Errorf("wait_for reports forced_refresh: %s", r.raw)
	}
	if n := count(); n != 2 {
		t.Errorf("count after wait_for = %d, want 2 (1 deleted, 3 added)", n)
	}
	r = do(t, c, esapi.BulkRequest{Index: "nrt", Refresh: "true", Body: ndjson(`{"index":{"_id":"4"}}`, `{"a":4}`)})
	if get(r.body, "items.0.index.forced_refresh") != true {
		t.Errorf("refresh=true bulk item without forced_refresh: %s", r.raw)
	}
	if n := count(); n != 3 {
		t.Errorf("count after refresh=true = %d", n)
	}
}

func TestMget(t *testing.T) {
	_, c := setup(t)
	do(t, c, esapi.BulkRequest{Body: ndjson(
		`{"index":{"_index":"m1","_id":"1"}}`, `{"a":1,"b":{"c":2}}`,
		`{"index":{"_index":"m2","_id":"2"}}`, `{"a":2}`,
	)})
	r := do(t, c, esapi.MgetRequest{Body: strings.NewReader(`{"docs":[
		{"_index":"m1","_id":"1","_source":["b.*"]},
		{"_index":"m2","_id":"2"},
		{"_index":"m1","_id":"nope"},
		{"_index":"nothere","_id":"1"}]}`)})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	checks := map[string]any{
		"docs.0.found":        true,
		"docs.0._source.b.c":  2.0,
		"docs.0._source.a":    nil,
		"docs.0._version":     1.0,
		"docs.1._source.a":    2.0,
		"docs.2.found":        false,
		"docs.3.error.type":   "index_not_found_exception",
		"docs.3.error.reason": "no such index [nothere]",
	}
	for path, want := range checks {
		if got := get(r.body, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	r = do(t, c, esapi.MgetRequest{Index: "m1", Body: strings.NewReader(`{"ids":["1","x"]}`)})
	if get(r.body, "docs.0.found") != true || get(r.body, "docs.1.found") != false {
		t.Errorf("mget ids: %s", r.raw)
	}
	r = do(t, c, esapi.MgetRequest{Body: strings.NewReader(`{"ids":["1"]}`)})
	if r.status != 400 || get(r.body, "error.reason") != "Validation Failed: 1: index is missing for doc 0;" {
		t.Errorf("mget ids without an index: %s", r.raw)
	}
}

func TestSearch(t *testing.T) {
	_, c := setup(t)
	var lines []string
	colors := []string{"red", "green", "blue"}
	for i := 1; i <= 9; i++ {
		lines = append(lines, fmt.Sprintf(`{"index":{"_id":"%d"}}`, i),
			fmt.Sprintf(`{"n":%d,"color":"%s","title":"The %s Fox %d","ts":"2024-01-0%dT00:00:00Z","tags":["t%d","all"]}`,
				i, colors[i%3], strings.ToUpper(colors[i%3][:1])+colors[i%3][1:], i, i, i%2))
	}
	if r := do(t, c, esapi.BulkRequest{Index: "s", Refresh: "true", Body: ndjson(lines...)}); get(r.body, "errors") != false {
		t.Fatal(r.raw)
	}
	search := func(body string, opts ...func(*esapi.SearchRequest)) result {
		req := esapi.SearchRequest{Index: []string{"s"}, Body: strings.NewReader(body)}
		for _, o := range opts {
			o(&req)
		}
		return do(t, c, req)
	}
	ids := func(r result) string {
		var out []string
		hits, _ := get(r.body, "hits.hits").([]any)
		for _, h := range hits {
			out = append(out, get(h, "_id").(string))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name, body string
		total      int64
		ids        string
	}{
		{"match_all sorted", `{"sort":[{"n":"desc"}],"size":3}`, 9, "9,8,7"},
		{"term on a keyword sub-field", `{"query":{"term":{"color.keyword":"red"}},"sort":["n"]}`, 3, "3,6,9"},
		{"term on text matches tokens", `{"query":{"term":{"color":"red"}},"sort":["n"]}`, 3, "3,6,9"},
		{"term on text is not analysed", `{"query":{"term":{"title":"Fox"}}}`, 0, ""},
		{"match on text is analysed", `{"query":{"match":{"title":"FOX"}},"size":1,"sort":[{"n":{"order":"asc"}}]}`, 9, "1"},
		{"terms", `{"query":{"terms":{"n":[2,4,"6"]}},"sort":"n"}`, 3, "2,4,6"},
		{"range", `{"query":{"range":{"n":{"gt":2,"lte":5}}},"sort":["n"]}`, 3, "3,4,5"},
		{"date range with date math", `{"query":{"range":{"ts":{"gte":"2024-01-08||-1d/d","lt":"2024-01-09"}}},"sort":["n"]}`, 2, "7,8"},
		{"bool", `{"query":{"bool":{"must":[{"range":{"n":{"gte":2}}}],"filter":{"term":{"tags":"t1"}},"must_not":[{"ids":{"values":["9"]}}]}},"sort":["n"]}`, 3, "3,5,7"},
		{"bool should needs one", `{"query":{"bool":{"should":[{"term":{"n":1}},{"term":{"n":2}}]}},"sort":["n"]}`, 2, "1,2"},
		{"bool should with filter is optional", `{"query":{"bool":{"filter":[{"range":{"n":{"lte":3}}}],"should":[{"term":{"n":1}}]}}}`, 3, "1,2,3"},
		{"exists", `{"query":{"exists":{"field":"color"}},"size":0}`, 9, ""},
		{"exists on an unknown field", `{"query":{"exists":{"field":"nope"}}}`, 0, ""},
		{"size and from", `{"sort":[{"n":"asc"}],"from":2,"size":2}`, 9, "3,4"},
		{"two sort criteria", `{"sort":[{"color.keyword":"asc"},{"n":"desc"}],"size":4}`, 9, "8,5,2,7"},
		{"multi-valued field sort", `{"sort":[{"tags.keyword":"desc"},{"n":"asc"}],"size":2}`, 9, "1,3"},
		{"prefix", `{"query":{"prefix":{"color.keyword":"gr"}},"sort":["n"]}`, 3, "1,4,7"},
		{"no query in body", ``, 9, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := search(tt.body)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if got := num(t, get(r.body, "hits.total.value")); got != tt.total {
				t.Errorf("total = %d, want %d", got, tt.total)
			}
			if tt.ids != "" {
				if got := ids(r); got != tt.ids {
					t.Errorf("ids = %s, want %s", got, tt.ids)
				}
			}
		})
	}

	r := search(`{"query":{"term":{"n":"abc"}}}`)
	if r.status != 400 || get(r.body, "error.type") != "search_phase_execution_exception" ||
		get(r.body, "error.root_cause.0.type") != "query_shard_exception" {
		t.Errorf("term with a bad number: %s", r.raw)
	}
	r = search(`{"sort":["title"]}`)
	if r.status != 400 || !strings.Contains(r.raw, "Text fields are not optimised") {
		t.Errorf("sort on text: %s", r.raw)
	}
	r = search(`{"query":{"bogus":{}}}`)
	if r.status != 400 || get(r.body, "error.type") != "parsing_exception" || get(r.body, "error.reason") != "unknown query [bogus]" {
		t.Errorf("unknown query: %s", r.raw)
	}
	r = search(`{"aggs":{"x":{"terms":{"field":"n"}}}}`)
	if r.status != 400 || !strings.HasPrefix(get(r.body, "error.reason").(string), "esemu:") {
		t.Errorf("aggregations: %s", r.raw)
	}
	r = search(`{"sort":[{"n":"asc"}],"size":1,"_source":["color"],"track_total_hits":5}`)
	if get(r.body, "hits.hits.0._source.color") != "green" || get(r.body, "hits.hits.0._source.n") != nil ||
		get(r.body, "hits.hits.0._score") != nil || get(r.body, "hits.hits.0.sort.0") != 1.0 ||
		get(r.body, "hits.total.relation") != "gte" || get(r.body, "hits.total.value") != 5.0 {
		t.Errorf("source filtering, sort values, track_total_hits: %s", r.raw)
	}
	r = search(`{"query":{"match_all":{}},"size":1}`)
	if get(r.body, "hits.max_score") != 1.0 || get(r.body, "hits.hits.0._score") != 1.0 || get(r.body, "_shards.total") != 1.0 {
		t.Errorf("scores: %s", r.raw)
	}

	// Index patterns.
	do(t, c, esapi.IndexRequest{Index: "s2", Body: strings.NewReader(`{"n":100}`), Refresh: "true"})
	r = do(t, c, esapi.CountRequest{Index: []string{"s*"}})
	if num(t, r.body["count"]) != 10 || get(r.body, "_shards.total") != 2.0 {
		t.Errorf("count s*: %s", r.raw)
	}
	r = do(t, c, esapi.CountRequest{Index: []string{"s", "s2"}, Body: strings.NewReader(`{"query":{"range":{"n":{"gte":9}}}}`)})
	if num(t, r.body["count"]) != 2 {
		t.Errorf("count s,s2: %s", r.raw)
	}
	r = do(t, c, esapi.CountRequest{Index: []string{"s", "missing"}})
	if r.status != 404 || get(r.body, "error.type") != "index_not_found_exception" {
		t.Errorf("count with a missing index: %s", r.raw)
	}
	r = do(t, c, esapi.SearchRequest{Index: []string{"nomatch*"}})
	if r.status != 200 || get(r.body, "hits.total.value") != 0.0 {
		t.Errorf("search of a pattern matching nothing: %s", r.raw)
	}
}

func TestUpdate(t *testing.T) {
	_, c := setup(t)
	update := func(id, body string) result {
		return do(t, c, esapi.UpdateRequest{Index: "u", DocumentID: id, Body: strings.NewReader(body)})
	}
	if r := update("1", `{"doc":{"a":1}}`); r.status != 404 || get(r.body, "error.type") != "document_missing_exception" {
		t.Errorf("update of a missing document: %s", r.raw)
	}
	if r := update("1", `{"doc":{"a":1,"o":{"x":1}},"doc_as_upsert":true}`); r.status != 201 || r.body["result"] != "created" {
		t.Errorf("doc_as_upsert: %s", r.raw)
	}
	if r := update("1", `{"doc":{"o":{"y":2}}}`); r.status != 200 || r.body["result"] != "updated" || num(t, r.body["_version"]) != 2 {
		t.Errorf("merge: %s", r.raw)
	}
	r := update("1", `{"doc":{"a":1,"o":{"x":1}}}`)
	if r.body["result"] != "noop" || num(t, r.body["_version"]) != 2 || get(r.body, "_shards.total") != 0.0 {
		t.Errorf("noop: %s", r.raw)
	}
	r = do(t, c, esapi.GetSourceRequest{Index: "u", DocumentID: "1"})
	if r.raw != `{"a":1,"o":{"x":1,"y":2}}` {
		t.Errorf("merged source %s", r.raw)
	}
	if r := update("2", `{"doc":{"a":5},"upsert":{"a":0}}`); r.status != 201 {
		t.Errorf("upsert: %s", r.raw)
	}
	if r := do(t, c, esapi.GetSourceRequest{Index: "u", DocumentID: "2"}); r.raw != `{"a":0}` {
		t.Errorf("upserted source %s", r.raw)
	}
	if r := update("2", `{"script":{"source":"ctx._source.a++"}}`); r.status != 400 || !strings.Contains(r.raw, "esemu:") {
		t.Errorf("script: %s", r.raw)
	}
	if r := update("2", `{"doc":{"a":"x"}}`); r.status != 400 || get(r.body, "error.type") != "document_parsing_exception" {
		t.Errorf("merge that breaks the mapping: %s", r.raw)
	}
}

func TestIndexAPIs(t *testing.T) {
	_, c := setup(t)
	r := do(t, c, esapi.IndicesCreateRequest{Index: "idx", Body: strings.NewReader(
		`{"settings":{"number_of_replicas":0},"mappings":{"dynamic":"strict","properties":{"n":{"type":"integer"},"k":{"type":"keyword"}}}}`)})
	if r.status != 200 || r.body["acknowledged"] != true || r.body["index"] != "idx" {
		t.Fatalf("create: %s", r.raw)
	}
	r = do(t, c, esapi.IndicesCreateRequest{Index: "idx"})
	if r.status != 400 || get(r.body, "error.type") != "resource_already_exists_exception" {
		t.Errorf("create twice: %s", r.raw)
	}
	if r := do(t, c, esapi.IndicesExistsRequest{Index: []string{"idx"}}); r.status != 200 {
		t.Errorf("exists: %d", r.status)
	}
	if r := do(t, c, esapi.IndicesExistsRequest{Index: []string{"nope"}}); r.status != 404 {
		t.Errorf("exists of a missing index: %d", r.status)
	}
	for _, name := range []string{"Upper", "_under", "-dash", "+plus", "a*b", "a,b"} {
		r := do(t, c, esapi.IndicesCreateRequest{Index: name})
		if r.status != 400 || get(r.body, "error.type") != "invalid_index_name_exception" {
			t.Errorf("create %q: %s", name, r.raw)
		}
	}
	r = do(t, c, esapi.BulkRequest{Body: ndjson(`{"index":{"_index":"Bad","_id":"1"}}`, `{}`)})
	if get(r.body, "items.0.index.error.type") != "invalid_index_name_exception" || get(r.body, "items.0.index.status") != 400.0 {
		t.Errorf("bulk into an invalid index: %s", r.raw)
	}
	// The explicit mapping is honoured.
	r = do(t, c, esapi.BulkRequest{Index: "idx", Body: ndjson(
		`{"index":{"_id":"1"}}`, `{"n":1,"k":2}`,
		`{"index":{"_id":"2"}}`, `{"n":3000000000}`,
		`{"index":{"_id":"3"}}`, `{"other":1}`,
	)})
	wantTypes := []any{nil, "document_parsing_exception", "strict_dynamic_mapping_exception"}
	for i, w := range wantTypes {
		if got := get(r.body, fmt.Sprintf("items.%d.index.error.type", i)); got != w {
			t.Errorf("item %d error %v, want %v: %s", i, got, w, r.raw)
		}
	}
	r = do(t, c, esapi.ClusterHealthRequest{})
	if r.body["status"] != "green" {
		t.Errorf("health with replicas 0: %s", r.raw)
	}
	r = do(t, c, esapi.IndicesGetMappingRequest{Index: []string{"idx"}})
	if get(r.body, "idx.mappings.properties.n.type") != "integer" || get(r.body, "idx.mappings.dynamic") != "strict" {
		t.Errorf("mapping: %s", r.raw)
	}
	if r := do(t, c, esapi.IndicesDeleteRequest{Index: []string{"idx"}}); r.status != 200 {
		t.Errorf("delete: %s", r.raw)
	}
	if r := do(t, c, esapi.IndicesDeleteRequest{Index: []string{"idx"}}); r.status != 404 || get(r.body, "error.type") != "index_not_found_exception" {
		t.Errorf("delete twice: %s", r.raw)
	}
}

func TestDynamicMapping(t *testing.T) {
	_, c := setup(t)
	do(t, c, esapi.IndexRequest{Index: "dyn", DocumentID: "0", Body: strings.NewReader(
		`{"l":1,"f":1.5,"b":true,"s":"text","d":"2024-05-01T10:00:00Z","o":{"x":1}}`)})
	r := do(t, c, esapi.IndicesGetMappingRequest{Index: []string{"dyn"}})
	wantTypes := map[string]string{"l": "long", "f": "float", "b": "boolean", "s": "text", "d": "date", "o.properties.x": "long"}
	for f, typ := range wantTypes {
		if got := get(r.body, "dyn.mappings.properties."+f+".type"); got != typ {
			t.Errorf("%s mapped as %v, want %s", f, got, typ)
		}
	}
	if get(r.body, "dyn.mappings.properties.s.fields.keyword.ignore_above") != 256.0 {
		t.Errorf("string mapping: %s", r.raw)
	}
	tests := []struct {
		doc, errType, reason string
	}{
		{`{"l":"12"}`, "", ""},
		{`{"l":"x"}`, "document_parsing_exception", "failed to parse field [l] of type [long]"},
		{`{"f":"NaN"}`, "document_parsing_exception", "failed to parse field [f] of type [float]"},
		{`{"b":"yes"}`, "document_parsing_exception", "failed to parse field [b] of type [boolean]"},
		{`{"d":"yesterday"}`, "document_parsing_exception", "failed to parse field [d] of type [date]"},
		{`{"s":{"a":1}}`, "document_parsing_exception", "failed to parse field [s] of type [text]"},
		{`{"o":5}`, "document_parsing_exception", "object mapping for [o] tried to parse field [o] as object, but found a concrete value"},
		{`{"o.x":"y"}`, "document_parsing_exception", "failed to parse field [o.x] of type [long]"},
		{`{"l":[1,"z"]}`, "document_parsing_exception", "Preview of field's value: 'z'"},
		{`{"_id":"1"}`, "document_parsing_exception", "Field [_id] is a metadata field"},
		{`{"s":5,"new":null,"n2":{}}`, "", ""},
		{`[1,2]`, "document_parsing_exception", "Malformed content, must start with an object"},
		{`{"a":`, "document_parsing_exception", "failed to parse"},
	}
	for i, tt := range tests {
		r := do(t, c, esapi.IndexRequest{Index: "dyn", DocumentID: fmt.Sprint(i + 1), Body: strings.NewReader(tt.doc)})
		if tt.errType == "" {
			if r.status >= 300 {
				t.Errorf("%s: %s", tt.doc, r.raw)
			}
			continue
		}
		reason, _ := get(r.body, "error.reason").(string)
		if r.status != 400 || get(r.body, "error.type") != tt.errType || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: %d %s\nwant %s with %q", tt.doc, r.status, r.raw, tt.errType, tt.reason)
		}
	}
	// A refused document adds no field to the mapping.
	do(t, c, esapi.IndexRequest{Index: "dyn", DocumentID: "z", Body: strings.NewReader(`{"fresh":1,"l":"bad"}`)})
	r = do(t, c, esapi.IndicesGetMappingRequest{Index: []string{"dyn"}})
	if get(r.body, "dyn.mappings.properties.fresh") != nil {
		t.Errorf("a refused document's field was mapped: %s", r.raw)
	}
}

func TestSingleDocumentAPIs(t *testing.T) {
	_, c := setup(t)
	r := do(t, c, esapi.IndexRequest{Index: "one", DocumentID: "1", Body: strings.NewReader(`{"a":1}`)})
	if r.status != 201 || r.body["result"] != "created" || get(r.body, "_shards.total") != 2.0 {
		t.Fatalf("index: %s", r.raw)
	}
	r = do(t, c, esapi.CreateRequest{Index: "one", DocumentID: "1", Body: strings.NewReader(`{"a":2}`)})
	if r.status != 409 || get(r.body, "error.reason") != "[1]: version conflict, document already exists (current version [1])" {
		t.Errorf("create of an existing document: %s", r.raw)
	}
	r = do(t, c, esapi.IndexRequest{Index: "one", Body: strings.NewReader(`{"a":3}`)})
	if r.status != 201 || len(r.body["_id"].(string)) != 20 {
		t.Errorf("index with a generated id: %s", r.raw)
	}
	r = do(t, c, esapi.GetRequest{Index: "one", DocumentID: "1"})
	if r.status != 200 || r.body["found"] != true || get(r.body, "_source.a") != 1.0 || r.body["_seq_no"] != 0.0 || r.body["_primary_term"] != 1.0 {
		t.Errorf("get: %s", r.raw)
	}
	if r := do(t, c, esapi.GetRequest{Index: "one", DocumentID: "nope"}); r.status != 404 || r.body["found"] != false {
		t.Errorf("get of a missing document: %s", r.raw)
	}
	if r := do(t, c, esapi.GetRequest{Index: "none", DocumentID: "1"}); r.status != 404 || get(r.body, "error.type") != "index_not_found_exception" {
		t.Errorf("get in a missing index: %s", r.raw)
	}
	if r := do(t, c, esapi.ExistsRequest{Index: "one", DocumentID: "1"}); r.status != 200 || r.raw != "" {
		t.Errorf("HEAD: %d %q", r.status, r.raw)
	}
	if r := do(t, c, esapi.ExistsRequest{Index: "one", DocumentID: "2"}); r.status != 404 {
		t.Errorf("HEAD of a missing document: %d", r.status)
	}
	r = do(t, c, esapi.DeleteRequest{Index: "one", DocumentID: "1"})
	if r.status != 200 || r.body["result"] != "deleted" || num(t, r.body["_version"]) != 2 {
		t.Errorf("delete: %s", r.raw)
	}
	r = do(t, c, esapi.DeleteRequest{Index: "one", DocumentID: "1"})
	if r.status != 404 || r.body["result"] != "not_found" || num(t, r.body["_version"]) != 3 {
		t.Errorf("delete again: %s", r.raw)
	}
	// Recreating a recently deleted document continues its version.
	r = do(t, c, esapi.IndexRequest{Index: "one", DocumentID: "1", Body: strings.NewReader(`{"a":4}`)})
	if r.body["result"] != "created" || num(t, r.body["_version"]) != 4 {
		t.Errorf("recreate: %s", r.raw)
	}
	if r := do(t, c, esapi.DeleteRequest{Index: "none", DocumentID: "1"}); r.status != 404 || get(r.body, "error.type") != "index_not_found_exception" {
		t.Errorf("delete in a missing index: %s", r.raw)
	}
}

func TestRequestLevelErrors(t *testing.T) {
	url := esemu.Start(t)
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		want                                  string
	}{
		{"unknown endpoint", "GET", "/_cat/nothing", "", "", 400, `"reason":"no handler found for uri [/_cat/nothing] and method [GET]"`},
		{"wrong method", "GET", "/_bulk", "", "", 405, `{"error":"Incorrect HTTP method for uri [/_bulk] and method [GET], allowed: [POST, PUT]","status":405}`},
		{"missing content type", "POST", "/x/_search", "", "{}", 406, `{"error":"Content-Type header is missing","status":406}`},
		{"unsupported content type", "POST", "/x/_doc/1", "text/plain", "{}", 406, `{"error":"Content-Type header [text/plain] is not supported","status":406}`},
		{"compatible-with=8", "POST", "/x/_doc/1", "application/vnd.elasticsearch+json; compatible-with=8", `{"a":1}`, 201, `"result":"created"`},
		{"ndjson compatible-with=8", "POST", "/_bulk", "application/vnd.elasticsearch+x-ndjson; compatible-with=8", "{\"index\":{\"_index\":\"x\"}}\n{}\n", 200, `"errors":false`},
		{"unknown parameter", "GET", "/_search?sise=1", "", "", 400, `"reason":"request [/_search] contains unrecognized parameter: [sise]"`},
		{"bad JSON body", "POST", "/x/_search", "application/json", `{"query":`, 400, `"type":"x_content_parse_exception"`},
		{"empty bulk", "POST", "/_bulk", "application/json", "", 400, `"reason":"request body is required"`},
		{"bad refresh", "POST", "/_bulk?refresh=now", "application/json", "{\"delete\":{\"_index\":\"x\",\"_id\":\"1\"}}\n", 400, `"reason":"Unknown value for refresh: [now]."`},
		{"body where none is taken", "DELETE", "/x", "application/json", "{}", 400, `"reason":"request [DELETE /x] does not support having a body"`},
		{"filter_path", "GET", "/?filter_path=version.number", "", "", 200, `{"version":{"number":"` + esemu.Version + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mustRequest(t, tt.method, url+tt.path, tt.contentType, tt.body)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, res)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%d %s\nwant %d containing %s", res.StatusCode, body, tt.status, tt.want)
			}
			if res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
				t.Errorf("no product header")
			}
		})
	}
}

func TestDeleteByQuery(t *testing.T) {
	_, c := setup(t)
	do(t, c, esapi.BulkRequest{Index: "dbq", Refresh: "true", Body: ndjson(
		`{"index":{"_id":"1"}}`, `{"n":1}`, `{"index":{"_id":"2"}}`, `{"n":2}`, `{"index":{"_id":"3"}}`, `{"n":3}`)})
	r := do(t, c, esapi.DeleteByQueryRequest{Index: []string{"dbq"}, Body: strings.NewReader(`{"query":{"range":{"n":{"gte":2}}}}`), Refresh: esapi.BoolPtr(true)})
	if r.status != 200 || r.body["deleted"] != 2.0 {
		t.Fatalf("%s", r.raw)
	}
	if n := do(t, c, esapi.CountRequest{Index: []string{"dbq"}}).body["count"]; n != 1.0 {
		t.Errorf("count after delete_by_query = %v", n)
	}
}

func TestBulkBody(t *testing.T) {
	// \r\n line ends and blank lines between items are accepted.
	s, c := setup(t)
	res, err := c.Perform(mustRequest(t, "POST", "/crlf/_bulk", "application/x-ndjson",
		"{\"index\":{\"_id\":\"1\"}}\r\n{\"a\":1}\r\n\n{\"delete\":{\"_id\":\"2\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, `"result":"created"`) || !strings.Contains(body, `"result":"not_found"`) {
		t.Errorf("%d %s", res.StatusCode, body)
	}
	if got := string(s.Docs("crlf")["1"].Source); got != `{"a":1}` {
		t.Errorf("source %q", got)
	}
	if !bytes.Contains([]byte(body), []byte(`"errors":false`)) {
		t.Errorf("a delete of a missing document is not an error: %s", body)
	}
}

func TestCompressedRequestBodies(t *testing.T) {
	s := esemu.New()
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{s.Start(t)}, CompressRequestBody: true})
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, c, esapi.BulkRequest{Index: "gz", Body: ndjson(`{"index":{"_id":"1"}}`, `{"a":1}`)})
	if r.status != 200 || get(r.body, "items.0.index.status") != 201.0 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if got := string(s.Docs("gz")["1"].Source); got != `{"a":1}` {
		t.Errorf("source %q", got)
	}
}

func TestFilterPathOnBulk(t *testing.T) {
	_, c := setup(t)
	r := do(t, c, esapi.BulkRequest{Index: "fp", FilterPath: []string{"errors", "items.*.error", "items.*.status"}, Body: ndjson(
		`{"index":{"_id":"1"}}`, `{"a":1}`, `{"create":{"_id":"1"}}`, `{"a":2}`)})
	want := `{"errors":true,"items":[{"index":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception",`
	if !strings.HasPrefix(r.raw, want) {
		t.Errorf("got  %s\nwant %s...", r.raw, want)
	}
}

func TestCloseDropsEverything(t *testing.T) {
	s, c := setup(t)
	do(t, c, esapi.IndexRequest{Index: "gone", DocumentID: "1", Body: strings.NewReader(`{}`)})
	s.Close()
	if len(s.Docs("gone")) != 0 {
		t.Error("Docs after Close")
	}
	if r := do(t, c, esapi.IndicesExistsRequest{Index: []string{"gone"}}); r.status != 404 {
		t.Errorf("index exists after Close: %d", r.status)
	}
}

func TestConcurrentClients(t *testing.T) {
	s, c := setup(t)
	const writers, perWriter = 4, 25
	done := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for i := 0; i < perWriter; i++ {
				res, err := c.Bulk(ndjson(fmt.Sprintf(`{"index":{"_index":"conc","_id":"%d-%d"}}`, w, i), `{"w":1}`,
					`{"update":{"_index":"conc","_id":"counter"}}`, `{"doc":{"n":1},"doc_as_upsert":true}`))
				if err != nil {
					done <- err
					return
				}
				res.Body.Close()
			}
			done <- nil
		}(w)
	}
	go func() {
		for i := 0; i < 20; i++ {
			res, err := c.Search(c.Search.WithIndex("conc"), c.Search.WithBody(strings.NewReader(`{"query":{"term":{"w":1}}}`)))
			if err != nil {
				done <- err
				return
			}
			res.Body.Close()
		}
		done <- nil
	}()
	for i := 0; i < writers+1; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	do(t, c, esapi.IndicesRefreshRequest{Index: []string{"conc"}})
	r := do(t, c, esapi.CountRequest{Index: []string{"conc"}, Body: strings.NewReader(`{"query":{"term":{"w":1}}}`)})
	if n := num(t, r.body["count"]); n != writers*perWriter {
		t.Errorf("count = %d, want %d", n, writers*perWriter)
	}
	// The first update created the counter; the others changed nothing.
	if d := s.Docs("conc")["counter"]; d.Version != 1 || string(d.Source) != `{"n":1}` {
		t.Errorf("counter %+v", d)
	}
	if s.BulkRequests() != writers*perWriter {
		t.Errorf("BulkRequests = %d", s.BulkRequests())
	}
}

func TestMappingLimits(t *testing.T) {
	_, c := setup(t)
	fields := func(prefix string, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"%s%d":%d`, prefix, i, i)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	// Objects nest 19 deep at most: a field of the root is at depth 1.
	deep := func(n int) string { return strings.Repeat(`{"o":`, n+1) + "1" + strings.Repeat("}", n+1) }
	tests := []struct {
		name, doc, reason string
	}{
		{"1000 fields", fields("a", 1000), ""},
		{"one more", fields("b", 1), "Limit of total fields [1000] has been exceeded while adding new fields [1]"},
		{"many more", fields("c", 5000), "Limit of total fields [1000] has been exceeded"},
		{"existing fields", fields("a", 1000), ""},
		{"depth 20", deep(19), ""},
		{"depth 21", deep(20), "Limit of mapping depth [20] has been exceeded due to object field [" + strings.Repeat("o.", 19) + "o]"},
	}
	for i, tt := range tests {
		index := "limits"
		if strings.HasPrefix(tt.name, "depth") {
			index = fmt.Sprint("deep", i)
		}
		r := do(t, c, esapi.IndexRequest{Index: index, Body: strings.NewReader(tt.doc)})
		reason, _ := get(r.body, "error.reason").(string)
		switch {
		case tt.reason == "" && r.status != 201:
			t.Errorf("%s: %d %.300s", tt.name, r.status, r.raw)
		case tt.reason != "" && (r.status != 400 || !strings.Contains(reason, tt.reason)):
			t.Errorf("%s: %d %.300s\nwant %q", tt.name, r.status, r.raw, tt.reason)
		}
	}
}
