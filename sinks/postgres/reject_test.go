package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connect"
)

// TestRejectAtWrite: records that do not fit the table are refused by
// Write with the reason; the others land.
func TestRejectAtWrite(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE r (id int, n int, s varchar(5), amount numeric)`)
	s := newSink(t, d, Config{Table: "r"})
	openTask(t, s, 0)
	recs := []*connect.Record{
		rec(0, `{"id":1,"n":1,"s":"ok","amount":1}`),
		rec(1, `{"id":2,`),
		rec(2, `{"id":3,"n":"x"}`),
		rec(3, `{"id":4,"s":"toolong"}`),
		rec(4, `[1,2]`),
		rec(5, ""), // a tombstone
		rec(6, `{"id":7,"amount":"abc"}`),
		rec(7, `{"id":8,"n":2.5}`),
		rec(8, `{"id":9,"s":"fine!"}`),
	}
	err := s.Write(context.Background(), 0, recs)
	offsets, reasons := rejected(t, err)
	requireEqual(t, offsets, []int64{1, 2, 3, 4, 5, 6, 7})
	requireEqual(t, reasons, []string{
		`value is not valid JSON: {"id":2,`,
		`column "n" (integer): "x" is not a number`,
		`column "s" (character varying(5)): "toolong" is longer than 5 characters (7)`,
		`value is not a JSON object: [1,2]`,
		`a tombstone (nil value) and delete_on_tombstone is off`,
		`column "amount" (numeric): "abc" is not a number`,
		`column "n" (integer): 2.5 is not a whole number`,
	})
	var rej *connect.RejectedError
	errors.As(err, &rej)
	for _, x := range rej.Rejected {
		if x.Task != 0 || x.Record == recs[x.Record.Pos.Offset] {
			t.Fatalf("rejection %+v: want task 0 and a copy of the record", x)
		}
	}
	checkpoint(t, s, 9)
	requireEqual(t, d.strings(t, `SELECT id::text FROM r ORDER BY id`), []string{"1", "9"})
	requireEqual(t, d.strings(t, `SELECT next_offset::text FROM runnel_offsets`), []string{"9"})
}

// TestRejectAtSend: rows the database refuses (NOT NULL, CHECK, UNIQUE,
// a domain's CHECK) are refused when the batch is sent, by Prepare or, for
// a full batch, by Write; the others land.
func TestRejectAtSend(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeInsert, ModeUpsert} {
		for _, batch := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/batch_rows=%d", mode, batch), func(t *testing.T) {
				t.Parallel()
				d := newDB(t, `CREATE DOMAIN small AS int CHECK (VALUE < 100)`, `CREATE TABLE r (
					id int PRIMARY KEY,
					name text NOT NULL,
					qty int CONSTRAINT qty_positive CHECK (qty >= 0),
					code text UNIQUE,
					sm small)`)
				s := newSink(t, d, Config{Table: "r", Mode: mode, Key: []string{"id"}, BatchRows: batch})
				openTask(t, s, 0)
				ctx := context.Background()
				recs := []*connect.Record{
					rec(0, `{"id":1,"name":"a","qty":1,"code":"A"}`),
					rec(1, `{"id":2,"qty":1}`),                       // NOT NULL
					rec(2, `{"id":3,"name":"c","qty":-1}`),           // CHECK
					rec(3, `{"id":4,"name":"d","code":"A"}`),         // UNIQUE (not the key)
					rec(4, `{"id":5,"name":"e","sm":100}`),           // the domain's CHECK
					rec(5, `{"id":6,"name":"f","qty":2,"code":"F"}`), // good
				}
				var offsets []int64
				var reasons []string
				for _, r := range recs {
					err := s.Write(ctx, 0, []*connect.Record{r})
					if err != nil {
						o, rs := rejected(t, err)
						offsets, reasons = append(offsets, o...), append(reasons, rs...)
					}
					*r = connect.Record{} // the runtime reuses it
				}
				if batch == 2 && len(offsets) == 0 {
					t.Fatalf("full batches sent by Write refused nothing")
				}
				cp := connect.Checkpoint{0: upTo(6)}
				if err := s.Prepare(ctx, cp); err != nil {
					o, rs := rejected(t, err)
					offsets, reasons = append(offsets, o...), append(reasons, rs...)
				}
				requireNoError(t, s.Commit(ctx, cp))
				requireEqual(t, offsets, []int64{1, 2, 3, 4})
				for i, want := range [][]string{
					{`null value in column "name" of relation "r" violates not-null constraint`, "(SQLSTATE 23502)"},
					{`violates check constraint "qty_positive"`, "(SQLSTATE 23514)"},
					{`duplicate key value violates unique constraint "r_code_key"`, "Key (code)=(A) already exists.", "(SQLSTATE 23505)"},
					{`value for domain small violates check constraint "small_check"`, "(SQLSTATE 23514)"},
				} {
					requireErrorContains(t, errors.New(reasons[i]), want...)
				}
				requireEqual(t, d.strings(t, `SELECT id::text FROM r ORDER BY id`), []string{"1", "6"})
				requireEqual(t, d.strings(t, `SELECT next_offset::text FROM runnel_offsets`), []string{"6"})
			})
		}
	}
}

// TestRejectMany: many bad rows among good ones, in batches after the
// first of the transaction (sent under savepoints).
func TestRejectMany(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeInsert, ModeUpsert} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			d := newDB(t, `CREATE TABLE r (id int PRIMARY KEY, qty int CHECK (qty >= 0))`)
			s := newSink(t, d, Config{Table: "r", Mode: mode, Key: []string{"id"}, BatchRows: 100})
			openTask(t, s, 0)
			ctx := context.Background()
			var recs []*connect.Record
			var wantBad []int64
			good := 0
			for i := range 1000 {
				qty := i
				if i%7 == 3 {
					qty, wantBad = -1, append(wantBad, int64(i))
				} else {
					good++
				}
				recs = append(recs, rec(int64(i), fmt.Sprintf(`{"id":%d,"qty":%d}`, i, qty)))
			}
			var bad []int64
			for i := 0; i < len(recs); i += 150 {
				if err := s.Write(ctx, 0, recs[i:min(i+150, len(recs))]); err != nil {
					o, _ := rejected(t, err)
					bad = append(bad, o...)
				}
			}
			cp := connect.Checkpoint{0: upTo(1000)}
			if err := s.Prepare(ctx, cp); err != nil {
				o, _ := rejected(t, err)
				bad = append(bad, o...)
			}
			requireNoError(t, s.Commit(ctx, cp))
			requireEqual(t, bad, wantBad)
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', count(*), min(qty)) FROM r`), []string{fmt.Sprintf("%d|0", good)})
		})
	}
}

// TestRejectedKeyKeepsEarlier: in upsert mode, when the last version of a
// key in a batch is refused, the one before it lands, as if applied in
// order.
func TestRejectedKeyKeepsEarlier(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE r (id int PRIMARY KEY, qty int CHECK (qty >= 0))`)
	s := newSink(t, d, Config{Table: "r", Mode: ModeUpsert, Key: []string{"id"}})
	openTask(t, s, 0)
	write(t, s, 0, rec(0, `{"id":1,"qty":5}`), rec(1, `{"id":1,"qty":6}`), rec(2, `{"id":1,"qty":-1}`), rec(3, `{"id":2,"qty":1}`))
	err := s.Prepare(context.Background(), connect.Checkpoint{0: upTo(4)})
	offsets, reasons := rejected(t, err)
	requireEqual(t, offsets, []int64{2})
	if !strings.Contains(reasons[0], "r_qty_check") {
		t.Fatalf("reason %q", reasons[0])
	}
	requireNoError(t, s.Commit(context.Background(), connect.Checkpoint{0: upTo(4)}))
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, qty) FROM r ORDER BY id`), []string{"1|6", "2|1"})
}

// TestCommitWithoutPrepare: Commit sends what was not; a row refused then
// fails the commit, and nothing of the task is committed.
func TestCommitWithoutPrepare(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE r (id int NOT NULL)`)
	s := newSink(t, d, Config{Table: "r"})
	openTask(t, s, 0)
	ctx := context.Background()
	write(t, s, 0, rec(0, `{"id":1}`))
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{0: upTo(1)}))
	write(t, s, 0, rec(1, `{"id":2}`), rec(2, `{}`))
	err := s.Commit(ctx, connect.Checkpoint{0: upTo(3)})
	requireErrorContains(t, err, "rows refused at commit", "nothing committed", `null value in column "id"`)
	requireErrorContains(t, s.Write(ctx, 0, nil), "in doubt, open it again")
	requireEqual(t, d.strings(t, `SELECT id::text FROM r`), []string{"1"})
	if p := openTask(t, s, 0); !p.Equal(upTo(1)) {
		t.Fatalf("positions %v, want %v", p, upTo(1))
	}
}
