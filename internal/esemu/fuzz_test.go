package esemu_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/internal/esemu"
)

// FuzzBulk feeds arbitrary bodies to the bulk endpoint, then searches what
// was indexed: the emulator must answer every request with valid JSON and
// never fail internally (its handlers turn a panic into a 500, which this
// test reports).
func FuzzBulk(f *testing.F) {
	seeds := []string{
		"{\"index\":{\"_id\":\"1\"}}\n{\"a\":1}\n",
		"{\"create\":{\"_index\":\"g\",\"_id\":\"1\"}}\n{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]}}\n{\"delete\":{\"_id\":\"1\"}}\n",
		"{\"update\":{\"_id\":\"1\"}}\n{\"doc\":{\"a\":\"x\"},\"doc_as_upsert\":true}\n",
		"{\"index\":{\"_id\":\"2\",\"version\":3,\"version_type\":\"external_gte\"}}\n{\"t\":\"2024-01-01T00:00:00Z\",\"a.b\":true}\n",
		"{\"index\":{\"if_seq_no\":0,\"if_primary_term\":1,\"_id\":\"x\"}}\r\n{}\r\n",
		"{\"index\":{}}\n\"str\"\n{\"index\":{}}\n[1]\n{\"index\":{}}\n{\"a\":\n",
		"{\"delete\":{\"_id\":\"1\"}}\n{\"a\":1}\n",
		"{\"index\":{\"_id\":\"\\u0000\\ud800\"}}\n{\"\\u00e9\":1e400,\"n\":-0.0}\n",
		"\n\n{\"index\":{\"_index\":\"Bad\"}}\n{}\n",
		"{\"update\":{\"_id\":\"1\",\"_source\":true}}\n{\"doc\":{\"x\":{\"y\":null}},\"upsert\":{}}\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s := esemu.New()
		call := func(method, path, body string) string {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/x-ndjson")
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			out := rec.Body.String()
			if rec.Code >= 500 {
				t.Fatalf("%s %s: %d %s\nbody %q", method, path, rec.Code, out, body)
			}
			if rec.Header().Get("X-Elastic-Product") != "Elasticsearch" {
				t.Fatalf("%s %s: no product header", method, path)
			}
			if method != http.MethodHead && !json.Valid([]byte(out)) {
				t.Fatalf("%s %s: invalid JSON %q\nbody %q", method, path, out, body)
			}
			return out
		}
		out := call("POST", "/f/_bulk?refresh=true", body)
		var resp struct {
			Items []map[string]struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			}
		}
		_ = json.Unmarshal([]byte(out), &resp)
		call("GET", "/_search?size=100", "")
		call("POST", "/_search", `{"query":{"bool":{"should":[{"exists":{"field":"a"}},{"range":{"a":{"gte":0}}},{"term":{"a.b":"x"}}]}},"sort":[{"_doc":"desc"}]}`)
		call("GET", "/_mapping", "")
		for _, item := range resp.Items {
			for _, it := range item {
				if it.Index == "" || strings.ContainsAny(it.Index, "/?#%") || strings.ContainsAny(it.ID, "/?#%") {
					continue
				}
				call("GET", "/"+it.Index+"/_doc/"+urlSegment(it.ID), "")
			}
		}
	})
}

func urlSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}
