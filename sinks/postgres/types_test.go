package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestTypes writes a record with a value for a column of every type
// converted, and reads the columns back as PostgreSQL prints them.
func TestTypes(t *testing.T) {
	t.Parallel()
	cols := []struct{ name, typ, json, want string }{
		{"t", "text", `"héllo \"q\" \u00e9"`, `héllo "q" é`},
		{"vc", "varchar(5)", `"ab✓de"`, "ab✓de"},
		{"tnum", "text", `12.50`, "12.50"},
		{"i2", "int2", `-32768`, "-32768"},
		{"i4", "int4", `2147483647`, "2147483647"},
		{"i8", "int8", `-9223372036854775808`, "-9223372036854775808"},
		{"i8e", "int8", `1.5e3`, "1500"},
		{"n", "numeric", `12345678901234567890.123456789012345678901`, "12345678901234567890.123456789012345678901"},
		{"nstr", "numeric", `"-0.000100"`, "-0.000100"},
		{"nexp", "numeric", `1.25e-7`, "0.000000125"},
		{"nscale", "numeric(10,2)", `3.14159`, "3.14"},
		{"f4", "float4", `1.5`, "1.5"},
		{"f8", "float8", `-1.25e300`, "-1.25e+300"},
		{"b", "boolean", `true`, "true"},
		{"tsms", "timestamptz", `1714564800123`, "2024-05-01 12:00:00.123+00"},
		{"tsrfc", "timestamptz", `"2024-05-01T14:00:00.123456+02:00"`, "2024-05-01 12:00:00.123456+00"},
		{"tsnozone", "timestamptz", `"2024-05-01T12:00:00"`, "2024-05-01 12:00:00+00"},
		{"ts", "timestamp", `"2024-05-01T14:00:00+02:00"`, "2024-05-01 12:00:00"},
		{"d", "date", `"2024-05-01"`, "2024-05-01"},
		{"dms", "date", `1714608000000`, "2024-05-02"},
		{"j", "jsonb", `{"a": [1, 2.50, {"b": null}], "s": "x"}`, `{"a": [1, 2.50, {"b": null}], "s": "x"}`},
		{"js", "json", `{"z":1,  "a":2}`, `{"z":1,  "a":2}`},
		{"u", "uuid", `"6BA7B810-9DAD-11D1-80B4-00C04FD430C8"`, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{"ta", "text[]", `["a", null, "c d", "\"q\""]`, `{a,NULL,"c d","\"q\""}`},
		{"ia", "int8[]", `[1, -2, 3]`, "{1,-2,3}"},
		{"na", "numeric[]", `[1.10, "2"]`, "{1.10,2}"},
		{"ua", "uuid[]", `["6ba7b810-9dad-11d1-80b4-00c04fd430c8"]`, "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"},
		{"by", "bytea", `"aGVsbG8="`, `\x68656c6c6f`},
		{"inet", "inet", `"10.0.0.1/8"`, "10.0.0.1/8"},
		{"iv", "interval", `"1 day 02:00:00"`, "1 day 02:00:00"},
		{"col", "color", `"green"`, "green"},
		{"cols", "color[]", `["red", "green"]`, "{red,green}"},
		{"mood", `"Odd Schema"."Mood"`, `"meh"`, "meh"},
		{"moods", `"Odd Schema"."Mood"[]`, `["meh"]`, "{meh}"},
		{"pos", "posint", `7`, "7"},
		{"nul", "text", `null`, "<null>"},
		{"missing", "text", ``, "<null>"},
	}
	var ddl, fields, sel []string
	for _, c := range cols {
		ddl = append(ddl, c.name+" "+c.typ)
		if c.json != "" {
			fields = append(fields, fmt.Sprintf("%q: %s", c.name, c.json))
		}
		sel = append(sel, fmt.Sprintf("coalesce(%s::text, '<null>')", c.name))
	}
	d := newDB(t, `CREATE TYPE color AS ENUM ('red', 'green')`,
		`CREATE SCHEMA "Odd Schema"`, `CREATE TYPE "Odd Schema"."Mood" AS ENUM ('meh')`, `CREATE DOMAIN posint AS bigint CHECK (VALUE > 0)`,
		"CREATE TABLE types ("+strings.Join(ddl, ", ")+")", `SET TimeZone = 'UTC'`)
	s := newSink(t, d, Config{Table: "types"})
	openTask(t, s, 0)
	write(t, s, 0, rec(0, "{"+strings.Join(fields, ", ")+"}"))
	checkpoint(t, s, 1)
	rows, err := d.conn.Query(context.Background(), "SELECT "+strings.Join(sel, ", ")+" FROM types")
	requireNoError(t, err)
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	got := make([]string, len(cols))
	dst := make([]any, len(cols))
	for i := range got {
		dst[i] = &got[i]
	}
	requireNoError(t, rows.Scan(dst...))
	for i, c := range cols {
		if got[i] != c.want {
			t.Errorf("column %s (%s) from %s: got %q, want %q", c.name, c.typ, c.json, got[i], c.want)
		}
	}
}

// TestConvertErrors checks what a value its column cannot hold is refused
// with.
func TestConvertErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  pgType
		json string
		want string
	}{
		{pgType{kind: kInt4, name: "integer"}, `"12"`, `"12" is not a number`},
		{pgType{kind: kInt4, name: "integer"}, `12.5`, `12.5 is not a whole number`},
		{pgType{kind: kInt4, name: "integer"}, `2147483648`, `2147483648 is out of range for integer`},
		{pgType{kind: kInt2, name: "smallint"}, `40000`, `40000 is out of range for smallint`},
		{pgType{kind: kInt8, name: "bigint"}, `9223372036854775808`, `is out of range for bigint`},
		{pgType{kind: kInt8, name: "bigint"}, `true`, `true is not a number`},
		{pgType{kind: kNumeric, name: "numeric"}, `"abc"`, `"abc" is not a number`},
		{pgType{kind: kNumeric, name: "numeric"}, `"1e"`, `"1e" is not a number`},
		{pgType{kind: kNumeric, name: "numeric"}, `{}`, `{} is not a number`},
		{pgType{kind: kNumeric, name: "numeric"}, `1e200000`, `is out of range for numeric`},
		{pgType{kind: kFloat8, name: "double precision"}, `"1.5"`, `"1.5" is not a number`},
		{pgType{kind: kFloat4, name: "real"}, `1e39`, `1e39 is out of range for real`},
		{pgType{kind: kBool, name: "boolean"}, `"yes"`, `"yes" is not a boolean`},
		{pgType{kind: kTimestamptz, name: "timestamptz"}, `9223372036854775807`, `is out of range for Unix milliseconds`},
		{pgType{kind: kTimestamptz, name: "timestamptz"}, `-9000000000000000`, `is out of range for timestamptz`},
		{pgType{kind: kTimestamptz, name: "timestamptz"}, `"tomorrow"`, `"tomorrow" is not a time (RFC 3339 or Unix milliseconds)`},
		{pgType{kind: kUUID, name: "uuid"}, `"xyz"`, `"xyz" is not a UUID`},
		{pgType{kind: kUUID, name: "uuid"}, `12`, `12 is not a UUID`},
		{pgType{kind: kBytea, name: "bytea"}, `"!!"`, `"!!" is not a base64 string`},
		{pgType{kind: kText, name: "character varying(5)", maxLen: 5}, `"abcdef"`, `"abcdef" is longer than 5 characters (6)`},
		{pgType{kind: kText, name: "character(2)", maxLen: 2, bpchar: true}, `"abc"`, `"abc" is longer than 2 characters (3)`},
		{pgType{kind: kText, name: "text"}, `"a\u0000b"`, `holds a NUL character`},
		{pgType{kind: kInt8, name: "bigint[]", array: true}, `5`, `5 is not an array`},
		{pgType{kind: kInt8, name: "bigint[]", array: true}, `[1, "x"]`, `element 1: "x" is not a number`},
		{pgType{kind: kOther, name: "inet", baseOID: pgtype.InetOID}, `"not an address"`, `"not an address" is not a valid inet`},
		{pgType{kind: kText, name: "text"}, `"` + strings.Repeat("x", 100) + `"`, ``},
	}
	m := pgtype.NewMap()
	for _, tt := range tests {
		buf, err := tt.typ.appendField(m, []byte("x"), []byte(tt.json))
		if tt.want == "" {
			requireNoError(t, err)
			continue
		}
		requireErrorContains(t, err, tt.want)
		if string(buf) != "x" {
			t.Fatalf("%s: a refused value left %q in the buffer", tt.json, buf)
		}
	}
	// Long values are cut in messages.
	_, err := (&pgType{kind: kInt8}).appendField(m, nil, []byte(`"`+strings.Repeat("x", 100)+`"`))
	if len(err.Error()) > 80 || !strings.Contains(err.Error(), "…") {
		t.Fatalf("error %q: the value is not shortened", err)
	}
	// A bpchar's trailing spaces do not count.
	_, err = (&pgType{kind: kText, maxLen: 2, bpchar: true}).appendField(m, nil, []byte(`"ab   "`))
	requireNoError(t, err)
}

// TestEncodeNumeric checks the sink's numeric encoding against
// PostgreSQL's own parsing of the same text.
func TestEncodeNumeric(t *testing.T) {
	t.Parallel()
	d := newDB(t)
	texts := []string{"0", "-0", "0.000", "1", "-1", "10000", "9999", "12345.6789", "0.0001", "0.00001", "1e4", "1E-4",
		"123456789012345678901234567890", "-0.000000000000000000001", "1.10", "100.000", "5e-1", "+7", ".5", "5.", "-.25e2",
		"NaN", "Infinity", "-Infinity", "1e131071", "1e-16383"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		for range 1 + r.IntN(25) {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		if r.IntN(2) == 0 {
			b.WriteByte('.')
			for range r.IntN(25) {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "e%d", r.IntN(60)-30)
		}
		texts = append(texts, b.String())
	}
	ctx := context.Background()
	for _, text := range texts {
		if !numericText(text) {
			t.Fatalf("numericText(%q) = false", text)
		}
		n, ok := appendNumeric(nil, text)
		if !ok {
			t.Fatalf("appendNumeric(%q) failed", text)
		}
		res := d.conn.PgConn().ExecParams(ctx, `SELECT $1::numeric::text, $2::numeric::text`, [][]byte{n, []byte(text)},
			[]uint32{pgtype.NumericOID, pgtype.NumericOID}, []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode}, nil).Read()
		requireNoError(t, res.Err)
		got, want := string(res.Rows[0][0]), string(res.Rows[0][1])
		if got != want {
			t.Fatalf("%q: the sink's encoding reads %q, PostgreSQL reads %q", text, got, want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e", "e5", "1.2.3", "1e+", "0x10", "1_000", " 1", "nan"} {
		if numericText(bad) {
			t.Errorf("numericText(%q) = true", bad)
		}
	}
	if _, ok := appendNumeric(nil, "1e131072"); ok {
		t.Errorf("1e131072 encoded, beyond numeric's range")
	}
}
