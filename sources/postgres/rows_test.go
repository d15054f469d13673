package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestValues reads a row of every supported type, and one of NULLs, and
// checks the JSON of each column exactly.
func TestValues(t *testing.T) {
	t.Parallel()
	url, conn := database(t,
		`CREATE TYPE mood AS ENUM ('happy', 'sad')`,
		`CREATE TABLE v (
			id bigserial PRIMARY KEY,
			i2 smallint, i4 integer, i8 bigint, o oid,
			n numeric(12,4), nbig numeric, f4 real, f8 double precision, fnan double precision,
			b boolean, t text, vc varchar(10), c char(5),
			jb jsonb, j json, u uuid, by bytea,
			d date, tstz timestamptz, ts timestamp,
			ia integer[], ta text[], ia2 integer[], ea text[], tsa timestamptz[], na numeric[],
			iv interval, ip inet, m mood, "we""ird" text
		)`,
		`INSERT INTO v VALUES (DEFAULT,
			-32768, 2147483647, -9223372036854775808, 4294967295,
			12.5, 123456789012345678901234567890.000000000000000000001, 1.5, 0.1, 'NaN',
			true, E'a"b\\c\nd\u0001é', 'var', 'ab',
			'{"b": [1, 2.50, null], "a": "x y"}', E'{ "k" :\n 1 }', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff10',
			'2026-11-21', '2026-11-21 10:00:00.123456+01', '2026-11-21 09:00:00',
			'{1,NULL,3}', '{"x,y","q\"uote",NULL}', '{{1,2},{3,4}}', '{}', '{"2026-01-01 00:00:00+00"}', '{1.10,NaN}',
			'1 day 2 hours', '10.0.0.1/8', 'sad', 'w'
		)`,
		`INSERT INTO v (id) VALUES (DEFAULT)`,
		`INSERT INTO v (id, d, tstz, f4, nbig) VALUES (DEFAULT, 'infinity', '-infinity', '-Infinity', 'Infinity')`,
	)
	s := open(t, Config{URL: url, Table: "v", Mode: ModeIncrementing, IncrementingColumn: "id"}, nil)
	recs := readAll(t, s)
	if len(recs) != 3 {
		t.Fatalf("read %d rows, want 3", len(recs))
	}
	want := []string{
		`{"id":1,"i2":-32768,"i4":2147483647,"i8":-9223372036854775808,"o":4294967295,` +
			`"n":12.5000,"nbig":123456789012345678901234567890.000000000000000000001,"f4":1.5,"f8":0.1,"fnan":"NaN",` +
			`"b":true,"t":"a\"b\\c\nd\u0001é","vc":"var","c":"ab   ",` +
			`"jb":{"a":"x y","b":[1,2.50,null]},"j":{"k":1},"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","by":"AP8Q",` +
			`"d":"2026-11-21","tstz":"2026-11-21T09:00:00.123456Z","ts":"2026-11-21T09:00:00.000000Z",` +
			`"ia":[1,null,3],"ta":["x,y","q\"uote",null],"ia2":[[1,2],[3,4]],"ea":[],"tsa":["2026-01-01T00:00:00.000000Z"],"na":[1.10,"NaN"],` +
			`"iv":"P1DT2H","ip":"10.0.0.1/8","m":"sad","we\"ird":"w"}`,
		`{"id":2,"i2":null,"i4":null,"i8":null,"o":null,"n":null,"nbig":null,"f4":null,"f8":null,"fnan":null,` +
			`"b":null,"t":null,"vc":null,"c":null,"jb":null,"j":null,"u":null,"by":null,"d":null,"tstz":null,"ts":null,` +
			`"ia":null,"ta":null,"ia2":null,"ea":null,"tsa":null,"na":null,"iv":null,"ip":null,"m":null,"we\"ird":null}`,
	}
	for i, w := range want {
		if got := string(recs[i].Value); got != w {
			t.Errorf("row %d:\n got %s\nwant %s", i+1, got, w)
		}
		if !json.Valid(recs[i].Value) {
			t.Errorf("row %d: invalid JSON %s", i+1, recs[i].Value)
		}
	}
	for name, w := range map[string]string{"d": `"infinity"`, "tstz": `"-infinity"`, "f4": `"-Infinity"`, "nbig": `"Infinity"`} {
		if got := field(t, recs[2], name); got != w {
			t.Errorf("row 3: %s is %s, want %s", name, got, w)
		}
	}
	// A column added later is in the next rows: columns are read at
	// every query.
	exec(t, conn, "ALTER TABLE v ADD COLUMN extra int DEFAULT 7")
	exec(t, conn, "INSERT INTO v (id) VALUES (DEFAULT)")
	s = open(t, Config{URL: url, Table: "v", Mode: ModeIncrementing, IncrementingColumn: "id", Start: "4"}, nil)
	if recs := readAll(t, s); len(recs) != 1 || field(t, recs[0], "extra") != "7" {
		t.Fatalf("after ADD COLUMN: %d records, want one with extra 7", len(recs))
	}
}

// TestNumericExact compares the JSON of numerics with PostgreSQL's own
// text of them, for edge cases and random values of many scales, and the
// JSON of floats with the float PostgreSQL sends.
func TestNumericExact(t *testing.T) {
	t.Parallel()
	url, conn := database(t, `CREATE TABLE n (id serial PRIMARY KEY, v numeric, f8 double precision, f4 real)`)
	edge := []string{"0", "0.0", "0.000", "-0.5", "1", "-1", "9999", "10000", "10001", "0.0001", "0.00001", "1e-20", "-1e-20",
		"12345678.87654321", "100000000.000000001", "1e30", "-123.4500", "99999999999999999999999999999999.99999", "0.1000",
		"1000000.0", "3.14159265358979323846264338327950288", "NaN", "Infinity", "-Infinity"}
	for _, v := range edge {
		exec(t, conn, "INSERT INTO n (v, f8, f4) VALUES ($1::numeric, CASE WHEN $1 IN ('NaN','Infinity','-Infinity') THEN $1::float8 ELSE $1::numeric::float8 END, CASE WHEN $1 IN ('NaN','Infinity','-Infinity') THEN $1::float4 ELSE $1::numeric::float4 END)", v)
	}
	// Random values: up to 30 integer digits and 30 decimals, both signs.
	exec(t, conn, `INSERT INTO n (v, f8, f4)
		SELECT x, x::float8, x::float4 FROM (
			SELECT round((random()::numeric * 10::numeric ^ (random() * 30)::int - 10::numeric ^ (random() * 15)::int) * random()::numeric,
				(random() * 30)::int) AS x
			FROM generate_series(1, 500)) r`)
	texts := map[int64][3]string{}
	rows, err := conn.Query(context.Background(), "SELECT id, v::text, f8::text, f4::text FROM n")
	requireNoError(t, err)
	for rows.Next() {
		var id int64
		var v [3]string
		requireNoError(t, rows.Scan(&id, &v[0], &v[1], &v[2]))
		texts[id] = v
	}
	requireNoError(t, rows.Err())

	s := open(t, Config{URL: url, Table: "n", Mode: ModeIncrementing, IncrementingColumn: "id", BatchSize: 100}, nil)
	recs := readAll(t, s)
	if len(recs) != len(texts) {
		t.Fatalf("read %d rows, want %d", len(recs), len(texts))
	}
	for _, r := range recs {
		pg := texts[r.Pos.Offset]
		got := field(t, r, "v")
		want := pg[0]
		if want == "NaN" || strings.Contains(want, "Infinity") {
			want = strconv.Quote(want)
		}
		if got != want {
			t.Errorf("numeric %s: JSON %s", pg[0], got)
		}
		for k, bits := range []int{64, 32} {
			got := field(t, r, []string{"f8", "f4"}[k])
			wantF, err := strconv.ParseFloat(pg[k+1], bits)
			requireNoError(t, err)
			var gotF float64
			if uq, err := strconv.Unquote(got); err == nil {
				gotF, err = strconv.ParseFloat(uq, bits)
				requireNoError(t, err)
			} else if gotF, err = strconv.ParseFloat(got, bits); err != nil {
				t.Fatalf("float%d %s: JSON %s", bits, pg[k+1], got)
			}
			if gotF != wantF && !(math.IsNaN(gotF) && math.IsNaN(wantF)) {
				t.Errorf("float%d %s: JSON %s", bits, pg[k+1], got)
			}
		}
	}
}

// TestKeys: the key is the key column's value as text, nil for NULL.
func TestKeys(t *testing.T) {
	t.Parallel()
	url, _ := database(t,
		`CREATE TABLE k (id int PRIMARY KEY, name text, u uuid, at timestamptz, doc jsonb, n numeric)`,
		`INSERT INTO k VALUES (1, 'a "quoted" name', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-11-21 09:00:00+00', '{"x": "y\"z"}', 1.50),
			(2, NULL, NULL, NULL, NULL, NULL), (3, '', NULL, NULL, '"s"', NULL)`,
	)
	for _, tc := range []struct {
		col  string
		want []string // "<nil>" for a nil key
	}{
		{"", []string{"1", "2", "3"}},
		{"name", []string{`a "quoted" name`, "<nil>", ""}},
		{"u", []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "<nil>", "<nil>"}},
		{"at", []string{"2026-11-21T09:00:00.000000Z", "<nil>", "<nil>"}},
		{"doc", []string{`{"x":"y\"z"}`, "<nil>", "s"}},
		{"n", []string{"1.50", "<nil>", "<nil>"}},
	} {
		s := open(t, Config{URL: url, Table: "k", Mode: ModeIncrementing, IncrementingColumn: "id", KeyColumn: tc.col}, nil)
		recs := readAll(t, s)
		for i, r := range recs {
			got := string(r.Key)
			if r.Key == nil {
				got = "<nil>"
			}
			if got != tc.want[i] {
				t.Errorf("key_column %q, row %d: key %q, want %q", tc.col, i+1, got, tc.want[i])
			}
		}
	}
}

func TestAppendText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain é ✓ 😀", `"plain é ✓ 😀"`},
		{"\"\\\n\r\t\x00\x1f\x7f", `"\"\\\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"bad \xff utf8 \xe2\x82", `"bad \ufffd utf8 \ufffd\ufffd"`},
	} {
		got, _ := appendText([]byte("x"), []byte(tc.in))
		if string(got) != "x"+tc.want {
			t.Errorf("appendText(%q) = %s, want %s", tc.in, got[1:], tc.want)
		}
		var back string
		if err := json.Unmarshal(got[1:], &back); err != nil {
			t.Errorf("appendText(%q) = %s: invalid JSON: %v", tc.in, got[1:], err)
		}
	}
}

// Malformed binary values are errors, never panics or bad JSON.
func TestMalformedBinary(t *testing.T) {
	t.Parallel()
	arr := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	be := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	for name, tc := range map[string]struct {
		enc encoder
		src []byte
	}{
		"short int4":         {appendInt4, []byte{1, 2}},
		"short numeric":      {appendNumeric, []byte{0, 1, 0, 0, 0, 0, 0}},
		"numeric digits":     {appendNumeric, []byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 1}},
		"numeric sign":       {appendNumeric, []byte{0, 0, 0, 0, 0x12, 0x34, 0, 0}},
		"jsonb version":      {appendJSONB, []byte{2, '{', '}'}},
		"json in a string":   {appendJSON, []byte(`{"a\":1}`)},
		"empty json":         {appendJSON, nil},
		"uuid":               {appendUUID, make([]byte, 15)},
		"array header":       {appendArray, []byte{0, 0, 0, 1}},
		"array elem type":    {appendArray, arr(be(1), be(0), be(600), be(1), be(1), be(0xffffffff))},
		"array dims":         {appendArray, arr(be(7), be(0), be(23))},
		"array short elem":   {appendArray, arr(be(1), be(0), be(23), be(2), be(1), be(4), be(1))},
		"array trailing":     {appendArray, arr(be(1), be(0), be(23), be(1), be(1), be(4), be(1), []byte{9})},
		"array elem length":  {appendArray, arr(be(1), be(0), be(23), be(1), be(1), be(9), be(1))},
		"array zero dim":     {appendArray, arr(be(1), be(0), be(23), be(0), be(1))},
		"timestamp length":   {appendTimestamp, make([]byte, 7)},
		"date length":        {appendDate, make([]byte, 3)},
		"bool length":        {appendBool, nil},
		"float8 length":      {appendFloat8, make([]byte, 4)},
		"array bad int elem": {appendArray, arr(be(1), be(0), be(23), be(1), be(1), be(2), []byte{0, 1})},
	} {
		if _, err := tc.enc(nil, tc.src); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
