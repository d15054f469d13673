package elasticsearch

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/esemu"
)

// A benchmark op is a checkpoint of benchDocs documents of ~200 bytes,
// written in batches of benchBatch records.
const (
	benchDocs  = 10_000
	benchBatch = 500
)

// discardServer serves bulk requests with esemu.Discard, and the rest
// (the _mget of OpenTask) with an empty emulator.
func discardServer(b *testing.B) string {
	emu, discard := esemu.New(), esemu.Discard()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			discard.ServeHTTP(w, r)
			return
		}
		emu.ServeHTTP(w, r)
	}))
	b.Cleanup(ts.Close)
	return ts.URL
}

// benchValues returns n JSON objects of about 200 bytes, and their size.
func benchValues(n int) ([][]byte, int64) {
	vals := make([][]byte, n)
	var size int64
	for i := range vals {
		v := fmt.Sprintf(`{"user":"user-%06d","event":"page_view","path":"/products/%d","ts":1767225600000,"ua":"Mozilla/5.0 (X11; Linux x86_64)","pad":"%s"}`,
			i, i%977, strings.Repeat("x", 60))
		vals[i] = []byte(v)
		size += int64(len(v))
	}
	return vals, size
}

func reportThroughput(b *testing.B, size int64) {
	b.ReportMetric(float64(b.N*benchDocs)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(int64(b.N)*size)/1e6/b.Elapsed().Seconds(), "MB/s")
}

// BenchmarkSink writes through Write, Prepare and Commit.
func BenchmarkSink(b *testing.B) {
	url := discardServer(b)
	vals, size := benchValues(benchDocs)
	for _, id := range []string{IDKey, IDPosition} {
		b.Run("id="+id, func(b *testing.B) {
			s, err := New(Config{Addresses: []string{url}, Consumer: "bench", Index: "bench", ID: id, FlushInterval: 50 * time.Millisecond})
			requireNoError(b, err)
			defer s.Close(context.Background())
			_, err = s.OpenTask(context.Background(), 0)
			requireNoError(b, err)
			in := engine.Input{Stream: "events"}
			recs := make([]connect.Record, benchDocs)
			ptrs := make([]*connect.Record, benchDocs)
			for i := range recs {
				recs[i].Key = []byte("user-" + strconv.Itoa(i))
				recs[i].Value = vals[i]
				recs[i].Pos.Input = in
				ptrs[i] = &recs[i]
			}
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			var off int64
			for range b.N {
				for i := range recs {
					recs[i].Pos.Offset, recs[i].Pos.Next = off, off+1
					off++
				}
				for i := 0; i < len(ptrs); i += benchBatch {
					if err := s.Write(context.Background(), 0, ptrs[i:i+benchBatch]); err != nil {
						b.Fatal(err)
					}
				}
				ck := connect.Checkpoint{0: {in: off}}
				if err := s.Prepare(context.Background(), ck); err != nil {
					b.Fatal(err)
				}
				if err := s.Commit(context.Background(), ck); err != nil {
					b.Fatal(err)
				}
			}
			reportThroughput(b, size)
		})
	}
}

// BenchmarkRawBulkIndexer adds the same documents to the Sink's indexer,
// with the Sink's settings, and no bookkeeping: the floor of the Sink's
// cost. "close" makes an indexer per op and closes it, "flush" keeps one
// and flushes it at the end of each op (what the Sink does at Prepare).
func BenchmarkRawBulkIndexer(b *testing.B) {
	url := discardServer(b)
	vals, size := benchValues(benchDocs)
	cfg := Config{Addresses: []string{url}}.withDefaults()
	cl, err := newClient(cfg, func(int) time.Duration { return time.Millisecond })
	requireNoError(b, err)
	defer cl.Close(context.Background())
	var failed atomic.Int64
	done := func(_ *item, res *bulkItemResult, err error) {
		if res != nil || err != nil {
			failed.Add(1)
		}
	}
	items := make([]item, benchDocs)
	for i := range items {
		items[i] = item{action: actionIndex, index: "bench", id: "user-" + strconv.Itoa(i), vtype: versionExternal, body: vals[i]}
	}
	add := func(ix *indexer, off int64) {
		for i := range items {
			items[i].version = off + int64(i) + 1
			if err := ix.Add(context.Background(), &items[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("close", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for n := range b.N {
			ix := newIndexer(cl, cfg, done)
			add(ix, int64(n*benchDocs))
			if err := ix.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		reportThroughput(b, size)
	})
	b.Run("flush", func(b *testing.B) {
		ix := newIndexer(cl, cfg, done)
		defer ix.Close(context.Background())
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		for n := range b.N {
			add(ix, int64(n*benchDocs))
			if err := ix.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		reportThroughput(b, size)
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d documents failed", n)
	}
}
