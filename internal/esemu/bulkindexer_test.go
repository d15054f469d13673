package esemu_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/runnel-io/runnel/internal/esemu"
)

// indexAll adds n documents to a BulkIndexer on the client of url, flushed
// in one request, and returns the items' outcomes by id.
func indexAll(t *testing.T, url string, n int, prepare func(*esutil.BulkIndexerItem)) (ok, failed map[string]esutil.BulkIndexerResponseItem, stats esutil.BulkIndexerStats) {
	t.Helper()
	c := newClient(t, url)
	var flushErr atomic.Value
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     c,
		Index:      "bi",
		NumWorkers: 1,
		FlushBytes: 1 << 20,
		OnError:    func(_ context.Context, err error) { flushErr.Store(err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ok, failed = map[string]esutil.BulkIndexerResponseItem{}, map[string]esutil.BulkIndexerResponseItem{}
	for i := 0; i < n; i++ {
		item := esutil.BulkIndexerItem{
			Action:     "index",
			DocumentID: fmt.Sprint(i),
			Body:       strings.NewReader(fmt.Sprintf(`{"i":%d}`, i)),
			OnSuccess: func(_ context.Context, it esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem) {
				mu.Lock()
				defer mu.Unlock()
				ok[it.DocumentID] = res
			},
			OnFailure: func(_ context.Context, it esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				mu.Lock()
				defer mu.Unlock()
				failed[it.DocumentID] = res
			},
		}
		if prepare != nil {
			prepare(&item)
		}
		if err := bi.Add(context.Background(), item); err != nil {
			t.Fatal(err)
		}
	}
	if err := bi.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err, _ := flushErr.Load().(error); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return ok, failed, bi.Stats()
}

func TestBulkIndexerRetriesInjectedFailures(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := esemu.New()
			url := s.Start(t)
			s.FailNext(2, status)
			ok, failed, stats := indexAll(t, url, 50, nil)
			if len(ok) != 50 || len(failed) != 0 {
				t.Fatalf("%d succeeded, %d failed: %v", len(ok), len(failed), failed)
			}
			if got := s.BulkRequests(); got != 3 {
				t.Errorf("BulkRequests = %d, want 3 (2 failed, 1 retry that succeeded)", got)
			}
			if stats.NumIndexed != 50 || stats.NumFailed != 0 || stats.NumRequests != 1 {
				t.Errorf("stats %+v", stats)
			}
			if docs := s.Docs("bi"); len(docs) != 50 || docs["7"].Version != 1 {
				t.Errorf("%d documents stored, doc 7 %+v", len(docs), docs["7"])
			}
		})
	}
}

func TestBulkIndexerWithoutRetriesSeesTheInjectedFailure(t *testing.T) {
	s := esemu.New()
	url := s.Start(t)
	s.FailNext(1, 429)
	c := newClient(t, url)
	res, err := c.Bulk(strings.NewReader("{\"index\":{\"_index\":\"x\"}}\n{}\n"), c.Bulk.WithHeader(map[string]string{"X-Test": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, &http.Response{Body: res.Body})
	// The client retried the 429 once; the retry succeeded.
	if res.StatusCode != 200 || s.BulkRequests() != 2 {
		t.Fatalf("%d %s after %d requests", res.StatusCode, body, s.BulkRequests())
	}

	s.FailNext(1, 429)
	raw, err := http.DefaultClient.Do(mustRequest(t, "POST", url+"/_bulk", "application/json", "{\"index\":{\"_index\":\"x\"}}\n{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, raw)
	if raw.StatusCode != 429 || !strings.Contains(body, `"type":"es_rejected_execution_exception"`) || !strings.Contains(body, `"status":429`) {
		t.Errorf("%d %s", raw.StatusCode, body)
	}
	if n := len(s.Docs("x")); n != 1 {
		t.Errorf("the failed request applied something: %d documents", n)
	}
}

func TestBulkIndexerItemOutcomes(t *testing.T) {
	s := esemu.New()
	url := s.Start(t)
	ok, failed, _ := indexAll(t, url, 10, func(it *esutil.BulkIndexerItem) {
		switch it.DocumentID {
		case "3":
			it.Body = strings.NewReader(`{"i":"three"}`) // "i" is a long
		case "5":
			v := int64(1)
			it.Version, it.VersionType = &v, "external"
		}
	})
	if len(ok) != 9 || len(failed) != 1 {
		t.Fatalf("%d ok, %d failed", len(ok), len(failed))
	}
	if f := failed["3"]; f.Status != 400 || f.Error.Type != "document_parsing_exception" || f.Error.Cause.Type != "illegal_argument_exception" {
		t.Errorf("item 3: %+v", f)
	}
	if o := ok["5"]; o.Version != 1 || o.Result != "created" || o.Status != 201 {
		t.Errorf("item 5: %+v", o)
	}
}

func TestDiscardAnswersABulkIndexer(t *testing.T) {
	srv := httptest.NewServer(esemu.Discard())
	t.Cleanup(srv.Close)
	ok, failed, stats := indexAll(t, srv.URL, 200, func(it *esutil.BulkIndexerItem) {
		if it.DocumentID == "7" {
			it.Action = "delete"
			it.Body = nil
		}
	})
	if len(ok) != 200 || len(failed) != 0 {
		t.Fatalf("%d ok, %d failed", len(ok), len(failed))
	}
	if o := ok["1"]; o.Status != 201 || o.Result != "created" || o.Index != "bi" || o.DocumentID != "1" {
		t.Errorf("item 1: %+v", o)
	}
	if o := ok["7"]; o.Status != 200 || o.Result != "deleted" {
		t.Errorf("item 7: %+v", o)
	}
	if stats.NumIndexed != 199 || stats.NumDeleted != 1 {
		t.Errorf("stats %+v", stats)
	}
	c := newClient(t, srv.URL)
	r, err := c.Info()
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, &http.Response{Body: r.Body}); r.StatusCode != 200 || !strings.Contains(body, `"number":"`+esemu.Version+`"`) {
		t.Errorf("info: %d %s", r.StatusCode, body)
	}
}
