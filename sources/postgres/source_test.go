package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/pgtest"
)

func TestIncrementing(t *testing.T) {
	t.Parallel()
	url, conn := database(t,
		`CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, amount numeric(10,2))`,
		`INSERT INTO orders (customer, amount) SELECT 'c' || (i % 7), i * 1.25 FROM generate_series(1, 25) i`)
	cfg := Config{URL: url, Table: "orders", Mode: ModeIncrementing, IncrementingColumn: "id", BatchSize: 10, PollInterval: time.Millisecond}
	a := &connecttest.Assignments{}
	s := open(t, cfg, a)
	in := engine.Input{Stream: "postgres:orders"}
	next := int64(1)
	for _, n := range []int{10, 10, 5} {
		before := time.Now().UnixMilli()
		recs := poll(t, s)
		after := time.Now().UnixMilli()
		if len(recs) != n {
			t.Fatalf("Poll returned %d records, want %d", len(recs), n)
		}
		for _, r := range recs {
			id := strconv.FormatInt(next, 10)
			if want := (engine.Pos{Input: in, Offset: next, Next: next}); r.Pos != want {
				t.Fatalf("record at %+v, want %+v", r.Pos, want)
			}
			if string(r.Key) != id || field(t, r, "id") != id || r.Headers != nil {
				t.Fatalf("record %d: key %q, value %s, headers %v", next, r.Key, r.Value, r.Headers)
			}
			if want := fmt.Sprintf(`{"id":%d,"customer":"c%d","amount":%.2f}`, next, next%7, float64(next)*1.25); string(r.Value) != want {
				t.Fatalf("value %s, want %s", r.Value, want)
			}
			if r.Time < before || r.Time > after {
				t.Fatalf("time %d, want the time of the poll (no timestamp column), %d to %d", r.Time, before, after)
			}
			next++
		}
	}
	if calls := a.Calls(); len(calls) != 1 || !slices.Equal(calls[0], []connect.TaskID{0}) {
		t.Fatalf("Assigned calls %v, want one for task 0", calls)
	}
	if lag := s.Lag(); len(lag) != 1 || lag[0] != -1 {
		t.Fatalf("lag %v, want task 0 unknown", lag)
	}
	// New rows come in the following polls; bounded, the run then ends.
	exec(t, conn, "INSERT INTO orders (customer) VALUES ('x'), ('y'), ('z')")
	if got := offsets(readAll(t, s)); !slices.Equal(got, []int64{26, 27, 28}) {
		t.Fatalf("after the inserts: ids %v, want 26 to 28", got)
	}
	for range 2 {
		if _, err := s.Poll(testCtx(t)); !errors.Is(err, connect.ErrEndOfInput) {
			t.Fatalf("Poll after the end: %v, want ErrEndOfInput", err)
		}
	}

	for _, tc := range []struct {
		name string
		a    *connecttest.Assignments
		want []int64
	}{
		{"resumed", at("orders", 20), []int64{21, 22, 23, 24, 25, 26, 27, 28}},
		{"resumed at the end", at("orders", 28), nil},
		{"resumed beyond the end", at("orders", 1000), nil},
		{"position of another input", at("other", 20), seq(1, 28)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := offsets(readAll(t, open(t, cfg, tc.a))); !slices.Equal(got, tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("assign error", func(t *testing.T) {
		boom := errors.New("boom")
		s := open(t, cfg, &connecttest.Assignments{Err: boom})
		_, err := s.Poll(testCtx(t))
		if !errors.Is(err, boom) {
			t.Fatalf("Poll: %v, want the Assigned error", err)
		}
		requireErrorContains(t, err, "postgres source: assigning task 0")
	})
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestResumeAtEveryBatch reads rows sharing positions in groups larger
// and smaller than a batch, as a runtime that crashes after every batch
// would: each batch is read by a new source resumed at the position of
// the batch before (its last record's Pos.Next). Every row is read once.
func TestResumeAtEveryBatch(t *testing.T) {
	t.Parallel()
	sizes := []int{1, 3, 7, 12, 2, 25, 1, 1, 9, 6, 5, 4, 30, 1, 6, 7}
	url, conn := database(t, `CREATE TABLE ev (id bigint PRIMARY KEY, ts timestamptz NOT NULL, grp bigint NOT NULL)`)
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	var rows [][]any
	for g, n := range sizes {
		// Group g shares one timestamp, microseconds apart from the next.
		ts := base.Add(time.Duration(g) * (time.Second + time.Microsecond))
		for range n {
			rows = append(rows, []any{int64(0), ts, int64(g)})
		}
	}
	// Ids in another order than the timestamps.
	r := rand.New(rand.NewPCG(1, 2))
	for i, id := range r.Perm(len(rows)) {
		rows[i][0] = int64(id + 1)
	}
	_, err := conn.CopyFrom(context.Background(), pgx.Identifier{"ev"}, []string{"id", "ts", "grp"}, pgx.CopyFromRows(rows))
	requireNoError(t, err)

	for _, tc := range []struct {
		name  string
		cfg   Config
		group func(*connect.Record) int64 // the group of a record
	}{
		{"timestamp", Config{Table: "ev", Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts", BatchSize: 6},
			func(r *connect.Record) int64 { return int64(intField(t, r, "grp")) }},
		{"timestamp batch 1", Config{Table: "ev", Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts", BatchSize: 1},
			func(r *connect.Record) int64 { return int64(intField(t, r, "grp")) }},
		// An incrementing column that is not unique: the group number.
		{"incrementing groups", Config{Query: "SELECT grp, id AS row_id, ts FROM ev", Name: "evq", Mode: ModeIncrementing, IncrementingColumn: "grp",
			KeyColumn: "row_id", BatchSize: 6}, func(r *connect.Record) int64 { return r.Pos.Next }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.URL = url
			var got []int64
			a := &connecttest.Assignments{}
			lastGroup := int64(-1)
			for batches := 0; ; batches++ {
				if batches > len(rows)+1 {
					t.Fatal("the source never ended")
				}
				s := open(t, cfg, a)
				s.StopAtEnd()
				bs, err := s.Poll(testCtx(t))
				requireNoError(t, s.Close(testCtx(t)))
				if errors.Is(err, connect.ErrEndOfInput) {
					break
				}
				requireNoError(t, err)
				recs := records(t, bs)
				first, last := tc.group(recs[0]), tc.group(recs[len(recs)-1])
				if first <= lastGroup {
					t.Fatalf("batch %d starts with group %d, not after the last batch's %d", batches, first, lastGroup)
				}
				// Every group in the batch is whole; only a group larger
				// than the batch size makes the batch larger.
				count := map[int64]int{}
				for _, r := range recs {
					count[tc.group(r)]++
					got = append(got, int64(intField(t, r, "id", "row_id")))
				}
				for g, n := range count {
					if n != sizes[g] {
						t.Fatalf("batch %d holds %d rows of group %d, of %d", batches, n, g, sizes[g])
					}
				}
				if len(recs) > cfg.BatchSize && len(count) > 1 {
					t.Fatalf("batch %d holds %d rows, more than %d, of %d groups", batches, len(recs), cfg.BatchSize, len(count))
				}
				lastGroup = last
				a = &connecttest.Assignments{Pos: engine.Positions{s.Input(): recs[len(recs)-1].Pos.Next}}
			}
			slices.Sort(got)
			if !slices.Equal(got, seq(1, int64(len(rows)))) {
				t.Fatalf("read ids %v, want 1 to %d once each", got, len(rows))
			}
		})
	}
}

// intField returns the integer value of the first of names the record's JSON
// has.
func intField(t testing.TB, r *connect.Record, names ...string) int {
	t.Helper()
	for _, name := range names {
		if bytes.Contains(r.Value, []byte(`"`+name+`":`)) {
			n, err := strconv.Atoi(field(t, r, name))
			requireNoError(t, err)
			return n
		}
	}
	t.Fatalf("%s has none of %v", r.Value, names)
	return 0
}

// TestLateCommit: a transaction that commits after rows with later
// timestamps is read when it commits within SafeLag of its timestamp, and
// missed when it commits later, as the package doc says. The database's
// clock is a table the test sets, so nothing depends on timing.
func TestLateCommit(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }
	for _, tc := range []struct {
		name string
		lag  time.Duration
		want []string
	}{
		// late (ts 5) commits at 13: within 10s of its timestamp.
		{"within the lag", 10 * time.Second, []string{"r1", "r2", "late", "r4"}},
		// Beyond 3s: r4 (ts 8) is read at 13 before late commits.
		{"beyond the lag", 3 * time.Second, []string{"r1", "r2", "r4"}},
		{"no lag", 0, []string{"r1", "r2", "r4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, conn := database(t, `CREATE TABLE ev (id bigserial PRIMARY KEY, ts timestamptz NOT NULL, note text)`)
			ctx := testCtx(t)
			s := open(t, Config{URL: url, Table: "ev", Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts",
				SafeLag: new(tc.lag), PollInterval: time.Millisecond}, nil)
			setNow := setClock(t, s, conn)
			insert := "INSERT INTO ev (ts, note) VALUES ($1, $2)"
			exec(t, conn, insert, sec(1), "r1")
			exec(t, conn, insert, sec(2), "r2")
			tx, err := pgtest.Conn(t, url).Begin(ctx)
			requireNoError(t, err)
			_, err = tx.Exec(ctx, insert, sec(5), "late")
			requireNoError(t, err)
			exec(t, conn, insert, sec(8), "r4")

			setNow(sec(13))
			var got []string
			for _, r := range poll(t, s) {
				got = append(got, field(t, r, "note"))
			}
			requireNoError(t, tx.Commit(ctx))
			setNow(sec(30))
			for _, r := range readAll(t, s) {
				got = append(got, field(t, r, "note"))
			}
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = strconv.Quote(w)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("read %v, want %v", got, want)
			}
			// Missed rows are there: a source reading from the start
			// finds them.
			s2 := open(t, Config{URL: url, Table: "ev", Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts"}, nil)
			setClock(t, s2, conn)
			if n := len(readAll(t, s2)); n != 4 {
				t.Fatalf("a new source reads %d rows, want 4", n)
			}
		})
	}
}

// TestSafeLagClock: rows younger than SafeLag by the database's clock are
// not read, and a row is read once it is older.
func TestSafeLagClock(t *testing.T) {
	t.Parallel()
	url, conn := database(t,
		`CREATE TABLE ev (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO ev (ts) VALUES (now() - interval '2 hours'), (now())`,
		`CREATE TABLE ev2 (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now())`,
	)
	cfg := Config{URL: url, Table: "ev", Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts", SafeLag: new(time.Hour)}
	if got := offsets(readAll(t, open(t, cfg, nil))); !slices.Equal(got, []int64{1}) {
		t.Fatalf("ids %v, want the row older than an hour only", got)
	}

	const lag = 300 * time.Millisecond
	cfg = Config{URL: url, Table: "ev2", Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts",
		SafeLag: new(lag), PollInterval: 20 * time.Millisecond}
	s := open(t, cfg, nil)
	exec(t, conn, "INSERT INTO ev2 DEFAULT VALUES")
	recs := poll(t, s) // waits for the row to be old enough
	var now time.Time
	requireNoError(t, conn.QueryRow(context.Background(), "SELECT now()").Scan(&now))
	text, err := strconv.Unquote(field(t, recs[0], "ts"))
	requireNoError(t, err)
	ts, err := time.Parse(time.RFC3339Nano, text)
	requireNoError(t, err)
	if len(recs) != 1 || now.Before(ts.Add(lag)) {
		t.Fatalf("read %d rows at %v, of ts %v: before it was %v old", len(recs), now, ts, lag)
	}
	if recs[0].Time != ts.UnixMilli() {
		t.Fatalf("record time %d, want the timestamp %d", recs[0].Time, ts.UnixMilli())
	}
}

// TestBoundedEnd: a bounded run ends at the rows there were when it
// started, however many come in the meantime.
func TestBoundedEnd(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeIncrementing, ModeTimestampIncrementing} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			url, conn := database(t,
				`CREATE TABLE ev (id bigserial PRIMARY KEY, ts timestamptz NOT NULL)`,
				`INSERT INTO ev (ts) SELECT now() - interval '1 hour' FROM generate_series(1, 5)`)
			cfg := Config{URL: url, Table: "ev", Mode: mode, IncrementingColumn: "id", TimestampColumn: "ts", BatchSize: 2}
			s := open(t, cfg, nil)
			s.StopAtEnd()
			var got []int64
			for {
				bs, err := s.Poll(testCtx(t))
				if errors.Is(err, connect.ErrEndOfInput) {
					break
				}
				requireNoError(t, err)
				got = append(got, offsets(records(t, bs))...)
				exec(t, conn, "INSERT INTO ev (ts) VALUES (now())")
			}
			if !slices.Equal(got, seq(1, 5)) {
				t.Fatalf("ids %v, want the 5 there were at the start", got)
			}
		})
	}
	t.Run("stopped while waiting", func(t *testing.T) {
		t.Parallel()
		url, _ := database(t, `CREATE TABLE ev (id bigint PRIMARY KEY)`, `INSERT INTO ev VALUES (1)`)
		s := open(t, Config{URL: url, Table: "ev", Mode: ModeIncrementing, IncrementingColumn: "id", PollInterval: time.Hour}, nil)
		poll(t, s) // every row read: the next query is due in an hour
		done := make(chan error, 1)
		go func() {
			_, err := s.Poll(testCtx(t))
			done <- err
		}()
		s.StopAtEnd()
		if err := <-done; !errors.Is(err, connect.ErrEndOfInput) {
			t.Fatalf("Poll: %v, want ErrEndOfInput without waiting for the next query", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		url, _ := database(t, `CREATE TABLE ev (id bigint PRIMARY KEY)`)
		s := open(t, Config{URL: url, Table: "ev", Mode: ModeIncrementing, IncrementingColumn: "id"}, nil)
		if recs := readAll(t, s); len(recs) != 0 {
			t.Fatalf("read %d records from an empty table", len(recs))
		}
	})
}

func TestStart(t *testing.T) {
	t.Parallel()
	url, _ := database(t,
		`CREATE TABLE ev (id bigint PRIMARY KEY, ts timestamp NOT NULL)`,
		`INSERT INTO ev SELECT i, timestamp '2026-11-21 09:00:00' + i * interval '1 minute' FROM generate_series(1, 10) i`)
	for _, tc := range []struct {
		mode, start string
		want        []int64
	}{
		{ModeIncrementing, "7", []int64{7, 8, 9, 10}},
		{ModeIncrementing, "-3", seq(1, 10)},
		{ModeTimestampIncrementing, "2026-11-21T09:08:00Z", []int64{8, 9, 10}},
		{ModeTimestampIncrementing, "2026-11-21T10:07:59.9999999+01:00", []int64{8, 9, 10}},
		{ModeTimestampIncrementing, "2026-11-21T09:08:00.000001Z", []int64{9, 10}},
	} {
		cfg := Config{URL: url, Table: "ev", Mode: tc.mode, IncrementingColumn: "id", TimestampColumn: "ts", Start: tc.start}
		if got := offsets(readAll(t, open(t, cfg, nil))); !slices.Equal(got, tc.want) {
			t.Errorf("%s from %s: ids %v, want %v", tc.mode, tc.start, got, tc.want)
		}
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	url, _ := database(t,
		`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)`,
		`CREATE TABLE orders (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers, amount int NOT NULL)`,
		`INSERT INTO customers VALUES (1, 'ann'), (2, 'bob')`,
		`INSERT INTO orders (customer, amount) VALUES (1, 5), (2, 500), (1, 700), (2, 9)`)
	s := open(t, Config{URL: url, Name: "big_orders", Mode: ModeIncrementing, IncrementingColumn: "id", KeyColumn: "name",
		Query: "SELECT o.id, c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer WHERE o.amount > 100 -- big ones;"}, nil)
	recs := readAll(t, s)
	var got []string
	for _, r := range recs {
		got = append(got, r.Pos.Stream+" "+string(r.Key)+" "+string(r.Value))
	}
	want := []string{`postgres:big_orders bob {"id":2,"name":"bob","amount":500}`, `postgres:big_orders ann {"id":3,"name":"ann","amount":700}`}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	url, _ := database(t, `CREATE SCHEMA shop`, `CREATE TABLE shop."T" (id bigint, ts timestamptz, name text, d date)`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	requireNoError(t, err)
	closedPort := l.Addr().(*net.TCPAddr).Port
	requireNoError(t, l.Close())
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"valid", Config{Table: "shop.T"}, ""},
		{"no table", Config{Table: "nope"}, `postgres source: nope: reading the columns: ERROR: relation "nope" does not exist`},
		{"no column", Config{Table: "shop.T", IncrementingColumn: "ID"},
			`postgres source: incrementing_column: "ID" is not a column of shop.T (its columns: id, ts, name, d)`},
		{"text id", Config{Table: "shop.T", IncrementingColumn: "name"},
			`postgres source: incrementing_column: column "name" of shop.T is of type text, not smallint, integer or bigint`},
		{"date ts", Config{Table: "shop.T", Mode: ModeTimestampIncrementing, TimestampColumn: "d"},
			`postgres source: timestamp_column: column "d" of shop.T is of type date, not timestamptz or timestamp`},
		{"no ts", Config{Table: "shop.T", Mode: ModeTimestampIncrementing, TimestampColumn: "at"},
			`postgres source: timestamp_column: "at" is not a column of shop.T`},
		{"no key", Config{Table: "shop.T", KeyColumn: "k"}, `postgres source: key_column: "k" is not a column of shop.T`},
		{"same names", Config{Query: `SELECT t.id, u.id FROM shop."T" t, shop."T" u`, Name: "self"},
			`postgres source: self returns two columns named "id": rename one`},
		{"syntax", Config{Query: `SELEC 1`, Name: "bad"}, `postgres source: bad: reading the columns: ERROR: syntax error`},
		{"refused", Config{Table: "shop.T", URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?connect_timeout=5", closedPort)},
			"postgres source: shop.T: connecting:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.URL == "" {
				cfg.URL = url
			}
			if cfg.Mode == "" {
				cfg.Mode = ModeIncrementing
			}
			if cfg.IncrementingColumn == "" {
				cfg.IncrementingColumn = "id"
			}
			s, err := New(cfg)
			requireNoError(t, err)
			err = s.Open(testCtx(t), &connecttest.Assignments{})
			if tc.want == "" {
				requireNoError(t, err)
				requireNoError(t, s.Close(testCtx(t)))
				return
			}
			requireErrorContains(t, err, tc.want)
			if s.conn != nil {
				t.Fatal("a failed Open kept its connection")
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	url, _ := database(t, `CREATE TABLE t (id bigint PRIMARY KEY)`, `INSERT INTO t VALUES (1)`)
	ctx := testCtx(t)
	s, err := New(Config{URL: url, Table: "t", Mode: ModeIncrementing, IncrementingColumn: "id"})
	requireNoError(t, err)
	if _, err := s.Poll(ctx); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Poll before Open: %v", err)
	}
	requireErrorContains(t, s.Open(ctx, nil), "Assignments")
	requireNoError(t, s.Open(ctx, &connecttest.Assignments{}))
	requireErrorContains(t, s.Open(ctx, &connecttest.Assignments{}), "already open")
	if recs := poll(t, s); len(recs) != 1 {
		t.Fatalf("Poll returned %d records, want 1", len(recs))
	}
	s.StopAtEnd()
	s.StopAtEnd() // idempotent
	requireNoError(t, s.Close(ctx))
	requireNoError(t, s.Close(ctx))
	if _, err := s.Poll(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
	if err := s.Open(ctx, &connecttest.Assignments{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	// Without OffsetsFile, Commit has nothing to do, even canceled.
	s = open(t, Config{URL: url, Table: "t", Mode: ModeIncrementing, IncrementingColumn: "id"}, nil)
	requireNoError(t, s.Commit(canceled, connect.Checkpoint{0: {s.Input(): 1}}))
}
