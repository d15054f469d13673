package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

func TestInsert(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{0, 1, 2, 1000} {
		t.Run(fmt.Sprintf("batch_rows=%d", batch), func(t *testing.T) {
			t.Parallel()
			d := newDB(t, `CREATE TABLE orders (id bigint, item text, amount numeric(10,2))`)
			s := newSink(t, d, Config{Table: "orders", BatchRows: batch})
			if p := openTask(t, s, 0); p != nil {
				t.Fatalf("positions %v, want nil", p)
			}
			write(t, s, 0, rec(0, `{"id":1,"item":"apple","amount":1.5}`), rec(1, `{"id":2,"item":"pear"}`))
			write(t, s, 0, rec(2, `{"id":3,"item":"fig","amount":"2"}`))
			checkpoint(t, s, 3)
			write(t, s, 0, rec(3, `{"id":1,"item":"apple","amount":1.5}`))
			checkpoint(t, s, 4)
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, item, coalesce(amount::text, 'null')) FROM orders ORDER BY id, item`),
				[]string{"1|apple|1.50", "1|apple|1.50", "2|pear|null", "3|fig|2.00"})
		})
	}
}

// TestInsertMany writes more rows than a batch, in Writes that cross
// batches and stream chunks.
func TestInsertMany(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE n (id int)`)
	s := newSink(t, d, Config{Table: "n", BatchRows: 700})
	openTask(t, s, 0)
	const total = 3000
	for i := 0; i < total; {
		var recs []*connect.Record
		for range min(333, total-i) {
			recs = append(recs, rec(int64(i), fmt.Sprintf(`{"id":%d}`, i)))
			i++
		}
		write(t, s, 0, recs...)
		if i == 1998 {
			checkpoint(t, s, int64(i))
		}
	}
	checkpoint(t, s, total)
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', count(*), count(DISTINCT id), min(id), max(id)) FROM n`), []string{"3000|3000|0|2999"})
}

func TestUpsert(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{0, 1} {
		t.Run(fmt.Sprintf("batch_rows=%d", batch), func(t *testing.T) {
			t.Parallel()
			d := newDB(t, `CREATE TABLE stock (sku text, shop int, qty int NOT NULL, note text, PRIMARY KEY (sku, shop))`)
			s := newSink(t, d, Config{Table: "stock", Mode: ModeUpsert, Key: []string{"sku", "shop"}, BatchRows: batch})
			openTask(t, s, 0)
			write(t, s, 0,
				rec(0, `{"sku":"a","shop":1,"qty":1,"note":"first"}`),
				rec(1, `{"sku":"b","shop":1,"qty":5}`),
				rec(2, `{"sku":"a","shop":1,"qty":2}`), // same key twice in a batch: the last wins
				rec(3, `{"sku":"a","shop":2,"qty":7}`),
			)
			checkpoint(t, s, 4)
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', sku, shop, qty, coalesce(note, 'null')) FROM stock ORDER BY 1`),
				[]string{"a|1|2|null", "a|2|7|null", "b|1|5|null"})
			write(t, s, 0, rec(4, `{"sku":"b","shop":1,"qty":6,"note":"again"}`), rec(5, `{"sku":"b","shop":1,"qty":8,"note":"last"}`))
			checkpoint(t, s, 6)
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', sku, shop, qty, coalesce(note, 'null')) FROM stock ORDER BY 1`),
				[]string{"a|1|2|null", "a|2|7|null", "b|1|8|last"})
		})
	}
}

func TestUpsertNeedsUniqueIndex(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE u (id int, x int)`, `CREATE UNIQUE INDEX ON u (id, x)`)
	s := newSink(t, d, Config{Table: "u", Mode: ModeUpsert, Key: []string{"id"}})
	_, err := s.OpenTask(context.Background(), 0)
	requireErrorContains(t, err, `key: no primary key or unique index of "u" is on exactly (id)`)
	// Every OpenTask says so; the others fail.
	_, err = s.OpenTask(context.Background(), 0)
	requireErrorContains(t, err, "no primary key or unique index")
	requireErrorContains(t, s.Write(context.Background(), 0, nil), "task 0 is not open")
}

// TestDeleteOnTombstone deletes by key in order with the other records of
// a batch.
func TestDeleteOnTombstone(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeUpsert, ModeInsert} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			d := newDB(t, `CREATE TABLE users (id int PRIMARY KEY, name text)`, `CREATE TABLE pairs (a int, b text, v text, PRIMARY KEY (a, b))`)
			s := newSink(t, d, Config{Table: "users", Mode: mode, Key: []string{"id"}, DeleteOnTombstone: true})
			openTask(t, s, 0)
			write(t, s, 0,
				keyed(0, "1", `{"id":1,"name":"ann"}`),
				keyed(1, "2", `{"id":2,"name":"bob"}`),
				keyed(2, "3", `{"id":3,"name":"cid"}`),
				keyed(3, "1", ""),                       // plain key
				keyed(4, `{"id":3}`, ""),                // JSON object key
				keyed(5, `"3"`, `{"id":3,"name":"cy"}`), // back after its delete
				keyed(6, "4", ""),                       // nothing to delete
			)
			checkpoint(t, s, 7)
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, name) FROM users ORDER BY id`), []string{"2|bob", "3|cy"})
			write(t, s, 0, keyed(7, "2", ""))
			checkpoint(t, s, 8)
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, name) FROM users ORDER BY id`), []string{"3|cy"})

			// A composite key: the key's fields by column name.
			s2 := newSink(t, d, Config{Table: "pairs", Mode: mode, Key: []string{"a", "b"}, DeleteOnTombstone: true, Consumer: "pairs"})
			openTask(t, s2, 0)
			write(t, s2, 0, keyed(0, "", `{"a":1,"b":"x","v":"1"}`), keyed(1, "", `{"a":1,"b":"y","v":"2"}`), keyed(2, `{"b":"x","a":1}`, ""))
			cp := connect.Checkpoint{0: upTo(3)}
			requireNoError(t, s2.Prepare(context.Background(), cp))
			requireNoError(t, s2.Commit(context.Background(), cp))
			requireEqual(t, d.strings(t, `SELECT concat_ws('|', a, b, v) FROM pairs`), []string{"1|y|2"})
		})
	}
}

// TestMapping maps columns from the value's nested fields, the key, the
// event time and the position.
func TestMapping(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE events (id bigint, customer text, city text, doc jsonb, k text, kid int,
		at timestamptz, topic text, part int, off bigint, ignored text DEFAULT 'd')`, `SET TimeZone = 'UTC'`)
	s := newSink(t, d, Config{Table: "events", Columns: []Column{
		{Name: "id"},
		{Name: "customer", From: "value.customer.name"},
		{Name: "city", From: "value.customer.address.city"},
		{Name: "doc", From: "value"},
		{Name: "k", From: "key"},
		{Name: "kid", From: "key.id"},
		{Name: "at", From: "time"},
		{Name: "topic", From: "topic"},
		{Name: "part", From: "partition"},
		{Name: "off", From: "offset"},
	}})
	openTask(t, s, 0)
	r := keyed(41, `{"id": 9}`, `{"id":1,"customer":{"name":"ann","address":{"city":"Oslo"}},"ignored":"x"}`)
	r.Time = 1714564800000
	r.Pos.Partition = 3
	r2 := keyed(42, `plain key`, `{"id":2,"customer":"not an object"}`)
	write(t, s, 0, r, r2)
	checkpoint(t, s, 43)
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, coalesce(customer, '-'), coalesce(city, '-'), doc, k, coalesce(kid, -1), at, topic, part, off, ignored)
		FROM events ORDER BY id`), []string{
		`1|ann|Oslo|{"id": 1, "ignored": "x", "customer": {"name": "ann", "address": {"city": "Oslo"}}}|{"id": 9}|9|2024-05-01 12:00:00+00|orders|3|41|d`,
		`2|-|-|{"id": 2, "customer": "not an object"}|plain key|-1|1970-01-01 00:00:00+00|orders|0|42|d`,
	})
}

func TestAutoCreate(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE SCHEMA shop`)
	cfg := Config{Table: "shop.orders", AutoCreate: true, Mode: ModeUpsert, Key: []string{"id"}, OffsetsTable: "shop.offsets", Columns: []Column{
		{Name: "id", Type: "bigint"},
		{Name: "Total", From: "value.total", Type: "numeric(12,2) NOT NULL"},
		{Name: "tags", Type: "text[]"},
	}}
	s := newSink(t, d, cfg)
	openTask(t, s, 0)
	write(t, s, 0, rec(0, `{"id":1,"total":3.5,"tags":["a","b"]}`), rec(1, `{"id":1,"total":4}`))
	checkpoint(t, s, 2)
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, "Total", coalesce(tags::text, 'null')) FROM shop.orders`), []string{"1|4.00|null"})
	requireEqual(t, d.strings(t, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.orders'::regclass`), []string{"PRIMARY KEY (id)"})
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', consumer, topic, partition, next_offset) FROM shop.offsets`), []string{"orders/1/pg|orders|0|2"})
	requireEqual(t, d.strings(t, `SELECT to_regclass('shop.offsets_fences')::text`), []string{"shop.offsets_fences"})
	// A second sink finds it all there.
	s2 := newSink(t, d, cfg)
	if p := openTask(t, s2, 0); !p.Equal(upTo(2)) {
		t.Fatalf("positions %v, want %v", p, upTo(2))
	}
}

func TestMissingTable(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	s := newSink(t, d, Config{Table: "nope"})
	_, err := s.OpenTask(context.Background(), 0)
	requireErrorContains(t, err, `table "nope" does not exist (create it, or set auto_create)`)
}

func TestMappingErrors(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE g (id int, twice int GENERATED ALWAYS AS (id * 2) STORED, p point)`)
	for _, tt := range []struct {
		cfg  Config
		want []string
	}{
		{Config{Table: "g", Columns: []Column{{Name: "x"}, {Name: "twice"}}}, []string{`columns: "x": no such column in g`, `columns: "twice": a generated column cannot be written`}},
		{Config{Table: "g", Key: []string{"twice"}, DeleteOnTombstone: true}, []string{`key: "twice" is not a column written`}},
	} {
		s := newSink(t, d, tt.cfg)
		_, err := s.OpenTask(context.Background(), 0)
		requireErrorContains(t, err, tt.want...)
	}
}

// TestDefaults: a missing field takes the column's default (an explicit
// null is NULL, as is a missing field of a column without a default); an
// upsert updating a row leaves the columns with a default whose field is
// missing as they are.
func TestDefaults(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE items (
		seq bigint GENERATED ALWAYS AS IDENTITY,
		id int PRIMARY KEY,
		name text,
		status text NOT NULL DEFAULT 'new',
		note text DEFAULT 'none')`)
	s := newSink(t, d, Config{Table: "items", Mode: ModeUpsert, Key: []string{"id"}})
	openTask(t, s, 0)
	write(t, s, 0,
		rec(0, `{"id":1,"name":"a"}`),
		rec(1, `{"id":2,"name":"b","status":"done","note":null}`),
		rec(2, `{"id":3,"name":"c","status":"x"}`),
		rec(3, `{"id":3,"name":"c2"}`), // merged with the previous: status stays x
	)
	checkpoint(t, s, 4)
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', seq, id, name, status, coalesce(note, 'null')) FROM items ORDER BY id`),
		[]string{"1|1|a|new|none", "2|2|b|done|null", "3|3|c2|x|none"})
	write(t, s, 0, rec(4, `{"id":2,"name":"b2"}`), rec(5, `{"id":1,"status":"old","note":"n"}`))
	checkpoint(t, s, 6)
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', seq, id, coalesce(name, 'null'), status, coalesce(note, 'null')) FROM items ORDER BY id`),
		[]string{"1|1|null|old|n", "2|2|b2|done|null", "3|3|c2|x|none"})
}

// TestMixedBatch: in insert mode, a batch whose rows leave out different
// columns, with a tombstone among them, lands in order.
func TestMixedBatch(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE m (id int, v text DEFAULT 'dflt')`)
	s := newSink(t, d, Config{Table: "m", Key: []string{"id"}, DeleteOnTombstone: true})
	openTask(t, s, 0)
	write(t, s, 0, keyed(0, "1", `{"id":1,"v":"a"}`), keyed(1, "2", `{"id":2}`), keyed(2, "1", ""), keyed(3, "1", `{"id":1}`), keyed(4, "3", `{"id":3,"v":"c"}`))
	checkpoint(t, s, 5)
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', id, v) FROM m ORDER BY id`), []string{"1|dflt", "2|dflt", "3|c"})
}

// TestTasks writes two tasks in parallel; each commits its own positions.
func TestTasks(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (task int, n int)`)
	s := newSink(t, d, Config{Table: "t"})
	openTask(t, s, 0)
	openTask(t, s, 1)
	write(t, s, 0, rec(0, `{"task":0,"n":0}`))
	r := rec(5, `{"task":1,"n":5}`)
	r.Pos.Partition = 1
	write(t, s, 1, r)
	cp := connect.Checkpoint{0: upTo(1), 1: {{Stream: "orders", Partition: 1}: 6}}
	requireNoError(t, s.Prepare(context.Background(), cp))
	requireNoError(t, s.Commit(context.Background(), cp))
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', task, n) FROM t ORDER BY 1`), []string{"0|0", "1|5"})
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', task, topic, partition, next_offset) FROM runnel_offsets ORDER BY 1`),
		[]string{"0|orders|0|1", "1|orders|1|6"})
	s2 := newSink(t, d, Config{Table: "t"})
	if p := openTask(t, s2, 1); !p.Equal(engine.Positions{{Stream: "orders", Partition: 1}: 6}) {
		t.Fatalf("task 1 positions %v", p)
	}
}
