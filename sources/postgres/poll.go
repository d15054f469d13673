package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Query polling: the modes ModeIncrementing and ModeTimestampIncrementing.
//
// The position is one int64, the largest value read of the position
// column: the id, or the timestamp in Unix microseconds. Reading resumes
// at the rows whose value is above it. For that to lose nothing, a batch
// never ends in the middle of a group of rows sharing a value: a query
// reads BatchSize+1 rows in order; when the last two share a value, the
// rows of that value are dropped from the batch (read again by the next
// query), and when they are the whole batch, the group is read whole by a
// second query, without a limit.

// minPos stands for "before every row": a source without a position reads
// from the first row.
const minPos = math.MinInt64

// srcAlias names the subquery the polling queries select from.
const srcAlias = "runnel_src"

// queries builds the SQL of the polling modes. The query (or table) is a
// subquery, filtered and sorted on the position column, which PostgreSQL
// pulls up into the outer query when it is simple, so that an index on
// the column serves.
type queries struct {
	base  string // SELECT * FROM (<query>) AS runnel_src
	pos   string // the position column, quoted
	order string // ORDER BY list
	isTS  bool   // positions are timestamps
	now   string // SQL of the database's current time: now(); tests change it
}

func newQueries(cfg *Config) *queries {
	var from string
	if cfg.Table != "" {
		from = "SELECT * FROM " + pgx.Identifier(strings.Split(cfg.Table, ".")).Sanitize()
	} else {
		from = cfg.Query
	}
	q := &queries{
		// The newline ends a "--" comment closing the query.
		base: "SELECT * FROM (" + from + "\n) AS " + srcAlias,
		pos:  quote(cfg.IncrementingColumn),
		now:  "now()",
	}
	q.order = q.pos
	if cfg.Mode == ModeTimestampIncrementing {
		q.pos, q.isTS = quote(cfg.TimestampColumn), true
		q.order = q.pos + ", " + quote(cfg.IncrementingColumn)
	}
	return q
}

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

// arg returns a position as a query argument.
func (q *queries) arg(pos int64) any {
	if q.isTS {
		return time.UnixMicro(pos).UTC()
	}
	return pos
}

// cast is the type of a position argument.
func (q *queries) cast() string {
	if q.isTS {
		return "timestamptz"
	}
	return "bigint"
}

// probe returns the columns, and no row.
func (q *queries) probe() string { return q.base + " LIMIT 0" }

// next returns the query of at most limit rows after pos (from the first
// row when pos is minPos), in order. In timestamp mode only rows older
// than lag are read; with an end (a bounded run, end.set), only rows up
// to it.
func (q *queries) next(pos int64, lag time.Duration, end bound, limit int) (string, []any) {
	var where []string
	var args []any
	param := func(v any, cast string) string {
		args = append(args, v)
		return fmt.Sprintf("$%d::%s", len(args), cast)
	}
	switch {
	case pos != minPos:
		where = append(where, q.pos+" > "+param(q.arg(pos), q.cast()))
	case q.isTS:
		where = append(where, q.pos+" > '-infinity'")
	default:
		where = append(where, q.pos+" IS NOT NULL")
	}
	switch {
	case end.set && q.isTS:
		where = append(where, q.pos+" < "+param(q.arg(end.pos), q.cast()))
	case end.set:
		where = append(where, q.pos+" <= "+param(q.arg(end.pos), q.cast()))
	case q.isTS:
		where = append(where, q.pos+" < "+q.now+" - "+param(interval(lag), "interval"))
	}
	return fmt.Sprintf("%s WHERE %s ORDER BY %s LIMIT %d", q.base, strings.Join(where, " AND "), q.order, limit), args
}

// group returns the query of every row whose position is pos.
func (q *queries) group(pos int64) (string, []any) {
	return fmt.Sprintf("%s WHERE %s = $1::%s ORDER BY %s", q.base, q.pos, q.cast(), q.order), []any{q.arg(pos)}
}

// end returns the query of where a bounded run ends: the largest id, or
// the timestamp the rows must be older than (now minus the lag). Its
// single result is NULL for an empty table in incrementing mode.
func (q *queries) end(lag time.Duration) (string, []any) {
	if q.isTS {
		return "SELECT (" + q.now + " - $1::interval)::timestamptz", []any{interval(lag)}
	}
	return fmt.Sprintf("SELECT max(%s)::bigint FROM (%s) AS %s", q.pos, q.base, srcAlias+"_end"), nil
}

func interval(d time.Duration) pgtype.Interval {
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: true}
}

// bound is the end of a bounded run: the last id read (inclusive), or the
// timestamp rows must be older than (exclusive).
type bound struct {
	set bool
	pos int64
}

// batch collects the records of a poll. Their keys and values share buf,
// which is never written to again where a kept record lies.
type batch struct {
	buf  []byte
	recs []connect.Record
	pos  []int64 // the position of each record
	off  []int   // len(buf) before each record, to drop records
}

// truncate drops the records from the n-th on.
func (b *batch) truncate(n int) {
	if n >= len(b.recs) {
		return
	}
	b.buf = b.buf[:b.off[n]]
	b.recs, b.pos, b.off = b.recs[:n], b.pos[:n], b.off[:n]
}

// records returns pointers to the records.
func (b *batch) records() []*connect.Record {
	out := make([]*connect.Record, len(b.recs))
	for i := range b.recs {
		out[i] = &b.recs[i]
	}
	return out
}

// fetch reads the next batch after s.pos: at most BatchSize rows, ending
// on a whole group of rows sharing a position, or the one whole group
// that follows when it is larger. more reports that rows were left
// unread.
func (s *Source) fetch(ctx context.Context) (_ *batch, more bool, _ error) {
	n := s.cfg.BatchSize
	// Room for as many records as the last batch, and some.
	m := min(s.hint.recs+1, n+1)
	b := &batch{buf: make([]byte, 0, s.hint.bytes+s.hint.bytes/8), recs: make([]connect.Record, 0, m), pos: make([]int64, 0, m), off: make([]int, 0, m)}
	sql, args := s.q.next(s.pos, s.lag, s.end, n+1)
	if err := s.query(ctx, sql, args, b); err != nil {
		return nil, false, err
	}
	if len(b.recs) <= n {
		return b, false, nil
	}
	last := b.pos[n]
	k := n
	for k > 0 && b.pos[k-1] == last {
		k--
	}
	b.truncate(k)
	if k > 0 {
		return b, true, nil
	}
	// The BatchSize+1 rows share one position: read all of its rows.
	sql, args = s.q.group(last)
	if err := s.query(ctx, sql, args, b); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// query runs sql and appends its rows to b as records, reconnecting (see
// withConn) when the connection is lost; a query that failed half way is
// run again whole.
func (s *Source) query(ctx context.Context, sql string, args []any, b *batch) error {
	mark := len(b.recs)
	return s.withConn(ctx, func(conn *pgx.Conn) error {
		b.truncate(mark)
		return s.read(ctx, conn, sql, args, b)
	})
}

// read runs sql on conn and appends its rows to b.
func (s *Source) read(ctx context.Context, conn *pgx.Conn, sql string, args []any, b *batch) error {
	// DescribeExec: the columns of the result are described again on
	// every query, so that a column added to or dropped from the table
	// between two polls changes the records, and never breaks a cached
	// statement.
	rows, err := conn.Query(ctx, sql, append([]any{pgx.QueryExecModeDescribeExec, resultFormats}, args...)...)
	if err != nil {
		return fmt.Errorf("postgres source: %s: polling: %w", s.cfg.Name, err)
	}
	defer rows.Close()
	lay, err := newLayout(rows.FieldDescriptions(), &s.cfg)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	for rows.Next() {
		row := rows.RawValues()
		if err := s.appendRecord(b, lay, row, now); err != nil {
			return fmt.Errorf("postgres source: %s: %w", s.cfg.Name, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres source: %s: polling: %w", s.cfg.Name, err)
	}
	return nil
}

// appendRecord appends the record of row to b.
func (s *Source) appendRecord(b *batch, lay *layout, row [][]byte, now int64) error {
	pos, err := lay.position(row)
	if err != nil {
		return err
	}
	off, err := lay.offset(row)
	if err != nil {
		return err
	}
	start := len(b.buf)
	if b.buf, err = lay.appendValue(b.buf, row); err != nil {
		return err
	}
	valEnd := len(b.buf)
	var hasKey bool
	if b.buf, hasKey, err = lay.appendKey(b.buf, row); err != nil {
		return err
	}
	r := connect.Record{
		Value: b.buf[start:valEnd:valEnd],
		Time:  lay.timeMs(row, now),
		Pos:   engine.Pos{Input: s.in, Offset: off, Next: pos},
	}
	if hasKey {
		r.Key = b.buf[valEnd:len(b.buf):len(b.buf)]
	}
	b.recs = append(b.recs, r)
	b.pos = append(b.pos, pos)
	b.off = append(b.off, start)
	return nil
}
