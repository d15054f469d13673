package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
)

// BenchmarkPoll measures reading a table of 100k rows from the start to
// the end, BatchSize (1000) rows a Poll: an iteration is a whole table.
func BenchmarkPoll(b *testing.B) {
	const rows = 100_000
	url, _ := database(b,
		`CREATE TABLE orders (id bigserial PRIMARY KEY, updated_at timestamptz NOT NULL, customer text NOT NULL,
			amount numeric(10,2) NOT NULL, paid boolean NOT NULL, items jsonb NOT NULL)`,
		`CREATE INDEX ON orders (updated_at, id)`,
		// 10 rows per millisecond: timestamps are shared by several rows.
		`INSERT INTO orders (updated_at, customer, amount, paid, items)
			SELECT timestamptz '2026-11-21 09:00:00+00' + (i / 10) * interval '1 millisecond', 'cust-' || (i % 997), (i % 100000) / 100.0, i % 3 = 0,
				jsonb_build_object('sku', 'sku-' || (i % 50), 'qty', i % 5 + 1)
			FROM generate_series(1, 100000) i`,
		`ANALYZE orders`)
	for _, mode := range []string{ModeIncrementing, ModeTimestampIncrementing} {
		b.Run(mode, func(b *testing.B) {
			cfg := Config{URL: url, Table: "orders", Mode: mode, IncrementingColumn: "id", TimestampColumn: "updated_at"}
			ctx := context.Background()
			b.ReportAllocs()
			var recs, bytes int64
			for b.Loop() {
				s, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Open(ctx, &connecttest.Assignments{}); err != nil {
					b.Fatal(err)
				}
				s.StopAtEnd()
				n := 0
				for {
					bs, err := s.Poll(ctx)
					if errors.Is(err, connect.ErrEndOfInput) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range bs[0].Records {
						bytes += int64(len(r.Key) + len(r.Value))
					}
					n += len(bs[0].Records)
				}
				if n != rows {
					b.Fatalf("read %d rows, want %d", n, rows)
				}
				recs += int64(n)
				s.Close(ctx)
			}
			b.SetBytes(bytes / int64(b.N))
			b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(bytes)/float64(recs), "bytes/record")
			b.ReportMetric(float64(b.Elapsed())/float64(recs), "ns/record")
		})
	}
}
