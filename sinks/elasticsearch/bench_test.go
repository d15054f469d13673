package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

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

// BenchmarkRawBulkIndexer adds the same documents to a plain
// esutil.BulkIndexer, with the Sink's settings: the floor of the Sink's
// cost. "close" makes an indexer per op and closes it, "flush" keeps one
// and flushes it at the end of each op (what the Sink does at Prepare);
// "scan" decodes responses with the Sink's bulkDecoder.
func BenchmarkRawBulkIndexer(b *testing.B) {
	url := discardServer(b)
	vals, size := benchValues(benchDocs)
	ids := make([]string, benchDocs)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	cl, err := es.NewClient(es.Config{Addresses: []string{url}})
	requireNoError(b, err)
	cfg := Config{}.withDefaults()
	newIndexer := func(dec esutil.BulkResponseJSONDecoder) esutil.BulkIndexer {
		bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
			NumWorkers: cfg.Workers, FlushBytes: cfg.FlushBytes, FlushInterval: cfg.FlushInterval,
			Client: cl, Refresh: "false", Decoder: dec,
		})
		requireNoError(b, err)
		return bi
	}
	add := func(bi esutil.BulkIndexer, off int64) {
		for i, v := range vals {
			version := off + int64(i) + 1
			err := bi.Add(context.Background(), esutil.BulkIndexerItem{
				Index: "bench", Action: "index", DocumentID: ids[i],
				Version: &version, VersionType: "external",
				Body: bytes.NewReader(v),
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("close", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for n := range b.N {
			bi := newIndexer(nil)
			add(bi, int64(n*benchDocs))
			if err := bi.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		reportThroughput(b, size)
	})
	for _, v := range []struct {
		name string
		dec  esutil.BulkResponseJSONDecoder
	}{{"flush", nil}, {"flush,scan", bulkDecoder{}}} {
		b.Run(v.name, func(b *testing.B) {
			bi := newIndexer(v.dec)
			defer bi.Close(context.Background())
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				add(bi, int64(n*benchDocs))
				if err := bi.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			reportThroughput(b, size)
		})
	}
}
