package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Benchmark shape: checkpoints of benchCheckpoint rows, written in Writes
// of benchWrite records, into (bigint, text, numeric, timestamptz).
const (
	benchCheckpoint = 10_000
	benchWrite      = 500
	benchKeys       = 100_000 // upserts cycle over this many ids
)

var benchCols = []string{"id", "name", "amount", "at"}

const benchDDL = `CREATE TABLE bench (id bigint %s, name text, amount numeric(12,2), at timestamptz)`

// benchRecords returns a checkpoint's records, with ids from first.
func benchRecords(first int64) []*connect.Record {
	recs := make([]*connect.Record, benchCheckpoint)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	for i := range recs {
		id := first + int64(i)
		recs[i] = &connect.Record{
			Value: fmt.Appendf(nil, `{"id":%d,"name":"customer-%d","amount":%d.%02d,"at":%d}`, id, id%977, id%100000, id%100, at+id),
			Pos:   engine.Pos{Input: engine.Input{Stream: "orders"}, Offset: id, Next: id + 1},
		}
	}
	return recs
}

// benchRows returns the rows of recs as Go values, decoded as a program
// using pgx would: encoding/json into a struct, the numeric as pgx's
// pgtype.Numeric.
func benchRows(b *testing.B, recs []*connect.Record) [][]any {
	rows := make([][]any, len(recs))
	for i, r := range recs {
		var v struct {
			ID     int64
			Name   string
			Amount pgtype.Numeric
			At     int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			b.Fatal(err)
		}
		rows[i] = []any{v.ID, v.Name, v.Amount, time.UnixMilli(v.At)}
	}
	return rows
}

func reportRows(b *testing.B) {
	b.ReportMetric(float64(b.N)*benchCheckpoint/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSink writes checkpoints of 10k rows through the sink: Writes
// of 500, then Prepare and Commit.
// insert-nostream sends each batch when it is full, instead of streaming
// it as it fills.
func BenchmarkSink(b *testing.B) {
	for _, mode := range []string{ModeInsert, ModeInsert + "-nostream", ModeUpsert} {
		b.Run(mode, func(b *testing.B) {
			pk := ""
			cfg := Config{Table: "bench"}
			if mode == ModeUpsert {
				pk = "PRIMARY KEY"
				cfg.Mode, cfg.Key = ModeUpsert, []string{"id"}
			}
			d := newDB(b, fmt.Sprintf(benchDDL, pk))
			s := newSink(b, d, cfg)
			s.noStream = mode != ModeInsert
			ctx := context.Background()
			openTask(b, s, 0)
			var cps [benchKeys / benchCheckpoint][]*connect.Record
			for i := range cps {
				cps[i] = benchRecords(int64(i) * benchCheckpoint)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := range b.N {
				recs := cps[n%len(cps)]
				for i := 0; i < len(recs); i += benchWrite {
					if err := s.Write(ctx, 0, recs[i:i+benchWrite]); err != nil {
						b.Fatal(err)
					}
				}
				cp := connect.Checkpoint{0: engine.Positions{{Stream: "orders"}: int64(n+1) * benchCheckpoint}}
				if err := s.Prepare(ctx, cp); err != nil {
					b.Fatal(err)
				}
				if err := s.Commit(ctx, cp); err != nil {
					b.Fatal(err)
				}
			}
			reportRows(b)
		})
	}
}

// rawBench runs send once per checkpoint of rows, in a transaction with
// an offsets upsert, as the sink does.
func rawBench(b *testing.B, pk string, send func(ctx context.Context, tx pgx.Tx, rows [][]any) error) {
	d := newDB(b, fmt.Sprintf(benchDDL, pk), fmt.Sprintf(offsetsDDL, "runnel_offsets"))
	ctx := context.Background()
	var cps [benchKeys / benchCheckpoint][][]any
	for i := range cps {
		cps[i] = benchRows(b, benchRecords(int64(i)*benchCheckpoint))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		tx, err := d.conn.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := send(ctx, tx, cps[n%len(cps)]); err != nil {
			b.Fatal(err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO runnel_offsets (consumer, topic, partition, next_offset, task, generation) VALUES ($1, $2, $3, $4, 0, 1)
ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`, "bench", "orders", 0, int64(n+1)*benchCheckpoint)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportRows(b)
}

// BenchmarkRawCopy is the baseline: the rows, already decoded into Go
// values (outside the timer), by pgx's CopyFrom (upsert: into a temporary
// table, then INSERT ... ON CONFLICT from it), and the offsets upsert, in
// one transaction per checkpoint.
func BenchmarkRawCopy(b *testing.B) {
	b.Run(ModeInsert, func(b *testing.B) {
		rawBench(b, "", func(ctx context.Context, tx pgx.Tx, rows [][]any) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"bench"}, benchCols, pgx.CopyFromRows(rows))
			return err
		})
	})
	b.Run(ModeUpsert, func(b *testing.B) {
		rawBench(b, "PRIMARY KEY", func(ctx context.Context, tx pgx.Tx, rows [][]any) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS stage ON COMMIT DELETE ROWS AS SELECT * FROM bench WITH NO DATA`); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage"}, benchCols, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO bench SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, amount = EXCLUDED.amount, at = EXCLUDED.at`)
			return err
		})
	})
}

// BenchmarkRawPipelined is the other way to send rows: one prepared
// INSERT per row, pipelined in batches of 500.
func BenchmarkRawPipelined(b *testing.B) {
	for _, mode := range []string{ModeInsert, ModeUpsert} {
		b.Run(mode, func(b *testing.B) {
			q := `INSERT INTO bench (id, name, amount, at) VALUES ($1, $2, $3, $4)`
			pk := ""
			if mode == ModeUpsert {
				pk = "PRIMARY KEY"
				q += ` ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, amount = EXCLUDED.amount, at = EXCLUDED.at`
			}
			rawBench(b, pk, func(ctx context.Context, tx pgx.Tx, rows [][]any) error {
				for i := 0; i < len(rows); i += benchWrite {
					batch := &pgx.Batch{}
					for _, r := range rows[i : i+benchWrite] {
						batch.Queue(q, r...)
					}
					if err := tx.SendBatch(ctx, batch).Close(); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// BenchmarkConvert converts the benchmark's records to rows, without a
// database: the sink's own work per row.
func BenchmarkConvert(b *testing.B) {
	table := []tableColumn{
		{name: "id", typ: pgType{kind: kInt8, name: "bigint"}},
		{name: "name", typ: pgType{kind: kText, name: "text"}},
		{name: "amount", typ: pgType{kind: kNumeric, name: "numeric(12,2)"}},
		{name: "at", typ: pgType{kind: kTimestamptz, name: "timestamptz"}},
	}
	m, err := newMapping(&Config{}, table)
	if err != nil {
		b.Fatal(err)
	}
	recs := benchRecords(0)
	tm := pgtype.NewMap()
	sc := scratch{raws: make([][]byte, len(m.cols)), fields: make([]int, len(m.cols))}
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		var o op
		if err := m.convert(tm, &sc, recs[n%len(recs)], &o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
