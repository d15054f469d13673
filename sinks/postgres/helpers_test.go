package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func requireNoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireErrorContains(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, sub := range subs {
		if !strings.Contains(err.Error(), sub) {
			t.Fatalf("error %q does not contain %q", err, sub)
		}
	}
}

func requireEqual[T comparable](t testing.TB, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// db is a fresh database and a connection to it.
type db struct {
	url  string
	conn *pgx.Conn
}

func newDB(t testing.TB, ddl ...string) db {
	t.Helper()
	url := pgtest.URL(t)
	d := db{url: url, conn: pgtest.Conn(t, url)}
	for _, q := range ddl {
		d.exec(t, q)
	}
	return d
}

func (d db) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := d.conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// strings returns the first column of each row of sql, as text.
func (d db) strings(t testing.TB, sql string, args ...any) []string {
	t.Helper()
	rows, err := d.conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var s *string
		err := r.Scan(&s)
		if s == nil {
			return "<null>", err
		}
		return *s, err
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// newSink returns a Sink for cfg on d (URL and Consumer set when empty),
// closed at the end of the test.
func newSink(t testing.TB, d db, cfg Config) *Sink {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = d.url
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "orders/1/pg"
	}
	s, err := New(cfg)
	requireNoError(t, err)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// rec is a record read from orders[0] at offset.
func rec(offset int64, value string) *connect.Record {
	r := &connect.Record{Pos: engine.Pos{Input: engine.Input{Stream: "orders"}, Offset: offset, Next: offset + 1}}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// keyed is rec with a key; an empty value is a tombstone.
func keyed(offset int64, key, value string) *connect.Record {
	r := rec(offset, value)
	r.Key = []byte(key)
	return r
}

func openTask(t testing.TB, s *Sink, id connect.TaskID) engine.Positions {
	t.Helper()
	p, err := s.OpenTask(context.Background(), id)
	requireNoError(t, err)
	return p
}

func write(t testing.TB, s *Sink, id connect.TaskID, recs ...*connect.Record) {
	t.Helper()
	requireNoError(t, s.Write(context.Background(), id, recs))
}

// positions of orders[0] up to next.
func upTo(next int64) engine.Positions {
	return engine.Positions{{Stream: "orders"}: next}
}

// checkpoint prepares and commits task 0 at orders[0] next.
func checkpoint(t testing.TB, s *Sink, next int64) {
	t.Helper()
	cp := connect.Checkpoint{0: upTo(next)}
	requireNoError(t, s.Prepare(context.Background(), cp))
	requireNoError(t, s.Commit(context.Background(), cp))
}

// rejected returns the offsets and reasons of the records err rejects.
func rejected(t testing.TB, err error) (offsets []int64, reasons []string) {
	t.Helper()
	var rej *connect.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("error %v is not a *connect.RejectedError", err)
	}
	for _, r := range rej.Rejected {
		offsets = append(offsets, r.Record.Pos.Offset)
		reasons = append(reasons, r.Reason.Error())
	}
	return offsets, reasons
}
