package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
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

// testCtx bounds a test's calls: a source that hangs fails the test
// instead of the run.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// database returns the URL of a fresh database and a connection to it,
// on which the statements are run.
func database(t testing.TB, stmts ...string) (string, *pgx.Conn) {
	t.Helper()
	url := pgtest.URL(t)
	conn := pgtest.Conn(t, url)
	for _, stmt := range stmts {
		exec(t, conn, stmt)
	}
	return url, conn
}

func exec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// at returns Assignments resuming the input of name at pos.
func at(name string, pos int64) *connecttest.Assignments {
	return &connecttest.Assignments{Pos: engine.Positions{{Stream: "postgres:" + name}: pos}}
}

// open returns an opened Source for cfg, closed at the end of the test.
func open(t testing.TB, cfg Config, a connect.Assignments) *Source {
	t.Helper()
	s, err := New(cfg)
	requireNoError(t, err)
	if a == nil {
		a = &connecttest.Assignments{}
	}
	requireNoError(t, s.Open(testCtx(t), a))
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// records flattens batches, checking they are all of task 0.
func records(t testing.TB, bs []connect.Batch) []*connect.Record {
	t.Helper()
	var out []*connect.Record
	for _, b := range bs {
		if b.Task != 0 {
			t.Fatalf("batch of task %d, want 0", b.Task)
		}
		out = append(out, b.Records...)
	}
	return out
}

// poll returns the records of one Poll.
func poll(t testing.TB, s *Source) []*connect.Record {
	t.Helper()
	bs, err := s.Poll(testCtx(t))
	requireNoError(t, err)
	return records(t, bs)
}

// readAll reads s to its end (StopAtEnd).
func readAll(t testing.TB, s *Source) []*connect.Record {
	t.Helper()
	s.StopAtEnd()
	ctx := testCtx(t)
	var out []*connect.Record
	for i := 0; ; i++ {
		if i > 100_000 {
			t.Fatal("bounded source never ended")
		}
		bs, err := s.Poll(ctx)
		if errors.Is(err, connect.ErrEndOfInput) {
			return out
		}
		requireNoError(t, err)
		out = append(out, records(t, bs)...)
	}
}

// field returns the value of a field of a record's JSON object, as its
// JSON text.
func field(t testing.TB, r *connect.Record, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Value, &m); err != nil {
		t.Fatalf("value %s: %v", r.Value, err)
	}
	v, ok := m[name]
	if !ok {
		t.Fatalf("value %s has no field %q", r.Value, name)
	}
	return string(v)
}

// offsets returns the Pos.Offset of each record.
func offsets(recs []*connect.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Pos.Offset
	}
	return out
}

// setClock makes s read the database's current time from the one-row
// table clock (created here) instead of now(), and returns a function
// setting it.
func setClock(t testing.TB, s *Source, conn *pgx.Conn) func(time.Time) {
	t.Helper()
	exec(t, conn, "CREATE TABLE IF NOT EXISTS clock (t timestamptz NOT NULL)")
	s.q.now = "(SELECT t FROM clock)"
	return func(now time.Time) {
		t.Helper()
		exec(t, conn, "DELETE FROM clock")
		exec(t, conn, "INSERT INTO clock VALUES ($1)", now)
	}
}
