package esemu_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/runnel-io/runnel/internal/esemu"
)

// bulkBody is a bulk request indexing n documents of about 200 bytes.
func bulkBody(n, round int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"index":{"_index":"bench","_id":"%d"}}`+"\n", i)
		fmt.Fprintf(&b, `{"seq":%d,"round":%d,"user":"user-%d","msg":"a log line of moderate length for the benchmark","ts":"2024-05-01T10:00:%02dZ","tags":["a","b"],"nested":{"x":%d.5,"ok":true}}`+"\n", i, round, i%100, i%60, i)
	}
	return b.Bytes()
}

func serveBulk(b *testing.B, h http.Handler, body []byte) {
	req := httptest.NewRequest("POST", "/_bulk", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || bytes.Contains(rec.Body.Bytes(), []byte(`"errors":true`)) {
		b.Fatalf("%d %.300s", rec.Code, rec.Body.String())
	}
}

// BenchmarkBulk1000 indexes (then updates, as the ids repeat) 1000
// documents per bulk request.
func BenchmarkBulk1000(b *testing.B) {
	s := esemu.New()
	body := bulkBody(1000, 0)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serveBulk(b, s, body)
	}
}

func BenchmarkDiscardBulk1000(b *testing.B) {
	h := esemu.Discard()
	body := bulkBody(1000, 0)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serveBulk(b, h, body)
	}
}
