package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// setupLockKey is the advisory lock taken while the sink creates its
// tables, so that two workers starting together do not both create them.
const setupLockKey = 0x72756e6e656c // "runnel"

// stageTable is the temporary table of a task's connection: rows to
// upsert and keys to delete go through it.
var stageTable = pgx.Identifier{"pg_temp", "runnel_stage"}

// offsetsDDL and fencesDDL create the sink's tables; %s is the table.
const (
	offsetsDDL = `CREATE TABLE IF NOT EXISTS %s (
	consumer    text        NOT NULL,
	topic       text        NOT NULL,
	partition   integer     NOT NULL,
	next_offset bigint      NOT NULL,
	task        integer     NOT NULL,
	generation  bigint      NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer, topic, partition)
)`
	fencesDDL = `CREATE TABLE IF NOT EXISTS %s (
	consumer   text        NOT NULL,
	task       integer     NOT NULL,
	generation bigint      NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (consumer, task)
)`
)

// tables names the sink's tables, quoted.
type tables struct {
	target  pgx.Identifier
	offsets string
	fences  string
	relname string // the target's name without its schema, as COPY errors name it
}

func newTables(cfg *Config) tables {
	off := ident(cfg.OffsetsTable)
	fen := slices.Clone(off)
	fen[len(fen)-1] += fencesSuffix
	target := ident(cfg.Table)
	return tables{target: target, offsets: off.Sanitize(), fences: fen.Sanitize(), relname: target[len(target)-1]}
}

// createTables creates what is missing of the offsets and fence tables
// and, with AutoCreate, the target table. Existing tables are not
// touched, so that a role without CREATE on the schema can run against
// tables made for it.
func createTables(ctx context.Context, conn *pgx.Conn, cfg *Config, tb tables) error {
	ddl := map[string]string{
		tb.offsets: fmt.Sprintf(offsetsDDL, tb.offsets),
		tb.fences:  fmt.Sprintf(fencesDDL, tb.fences),
	}
	if cfg.AutoCreate {
		ddl[tb.target.Sanitize()] = createTableDDL(cfg, tb.target)
	}
	missing := func() ([]string, error) {
		var out []string
		for name := range ddl {
			var exists bool
			if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
				return nil, err
			}
			if !exists {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out, nil
	}
	names, err := missing()
	if err != nil || len(names) == 0 {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(setupLockKey)); err != nil {
			return err
		}
		for _, name := range names {
			if _, err := tx.Exec(ctx, ddl[name]); err != nil {
				return fmt.Errorf("creating %s: %w", name, err)
			}
		}
		return nil
	})
}

// createTableDDL is the CREATE TABLE of AutoCreate.
func createTableDDL(cfg *Config, target pgx.Identifier) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", target.Sanitize())
	for i, c := range cfg.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", pgx.Identifier{c.Name}.Sanitize(), c.Type)
	}
	if len(cfg.Key) > 0 {
		fmt.Fprintf(&b, ", PRIMARY KEY (%s)", quoteList(cfg.Key))
	}
	b.WriteString(")")
	return b.String()
}

// quoteList returns the quoted names, separated by commas.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// tableColumn is a column of the target table, as the catalog has it.
type tableColumn struct {
	num        int16
	name       string
	typ        pgType
	notNull    bool
	hasDefault bool // a DEFAULT or an identity: a missing field takes it
	generated  bool // GENERATED ALWAYS (stored or identity): not written
}

// readTable returns the columns of the table, in order.
func readTable(ctx context.Context, conn *pgx.Conn, target pgx.Identifier) ([]tableColumn, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, target.Sanitize()).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("table %s does not exist (create it, or set %s)", target.Sanitize(), fieldAutoCreate)
	}
	rows, err := conn.Query(ctx, `
SELECT a.attnum, a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod),
       a.attnotnull,
       a.atthasdef OR a.attidentity <> '', a.attgenerated <> '' OR a.attidentity = 'a'
FROM pg_attribute a
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, target.Sanitize())
	if err != nil {
		return nil, err
	}
	type raw struct {
		c      tableColumn
		oid    uint32
		typmod int32
	}
	var rs []raw
	for rows.Next() {
		var r raw
		if err := rows.Scan(&r.c.num, &r.c.name, &r.oid, &r.typmod, &r.c.typ.name, &r.c.notNull, &r.c.hasDefault, &r.c.generated); err != nil {
			rows.Close()
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cols := make([]tableColumn, len(rs))
	for i, r := range rs {
		name := r.c.typ.name
		if err := resolveType(ctx, conn, &r.c.typ, r.oid, r.typmod); err != nil {
			return nil, fmt.Errorf("column %q: %w", r.c.name, err)
		}
		r.c.typ.name = name
		cols[i] = r.c
	}
	return cols, nil
}

// resolveType fills t for a column of type oid: domains resolved to their
// base type, arrays to their element's.
func resolveType(ctx context.Context, conn *pgx.Conn, t *pgType, oid uint32, typmod int32) error {
	t.oid = oid
	cur := oid
	for depth := 0; ; depth++ {
		if depth > 16 {
			return fmt.Errorf("type %s: too many domains", t.name)
		}
		var typtype, category string
		var base, elem uint32
		var basemod int32
		err := conn.QueryRow(ctx, `SELECT typtype::text, typcategory::text, typbasetype, typtypmod, typelem FROM pg_type WHERE oid = $1`, cur).
			Scan(&typtype, &category, &base, &basemod, &elem)
		if err != nil {
			return err
		}
		switch {
		case typtype == "d":
			cur = base
			if basemod >= 0 {
				typmod = basemod
			}
			continue
		case category == "A" && elem != 0 && !t.array:
			t.array, t.elemOID = true, elem
			cur = elem
			continue
		case typtype == "e":
			t.kind = kText
		default:
			t.kind = kinds[cur]
			if t.kind == 0 {
				if _, ok := conn.TypeMap().TypeForOID(cur); !ok {
					return fmt.Errorf("type %s is not supported", t.name)
				}
				t.kind = kOther
			}
		}
		t.baseOID = cur
		break
	}
	t.jsonb = t.baseOID == pgtype.JSONBOID
	if (t.baseOID == pgtype.VarcharOID || t.baseOID == pgtype.BPCharOID) && typmod >= 4 {
		t.maxLen = int(typmod - 4)
		t.bpchar = t.baseOID == pgtype.BPCharOID
	}
	return nil
}

// checkConflictTarget reports an error unless a unique index (or primary
// key) of the table has exactly the key columns: what ON CONFLICT needs.
func checkConflictTarget(ctx context.Context, conn *pgx.Conn, target pgx.Identifier, cols []tableColumn, key []string) error {
	rows, err := conn.Query(ctx, `
SELECT i.indkey::int2[], i.indnkeyatts
FROM pg_index i
WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL`, target.Sanitize())
	if err != nil {
		return err
	}
	byNum := map[int16]string{}
	for _, c := range cols {
		byNum[c.num] = c.name
	}
	want := slices.Sorted(slices.Values(key))
	found := false
	for rows.Next() {
		var nums []int16
		var n int16
		if err := rows.Scan(&nums, &n); err != nil {
			rows.Close()
			return err
		}
		var names []string
		for _, num := range nums[:min(int(n), len(nums))] {
			names = append(names, byNum[num])
		}
		slices.Sort(names)
		found = found || slices.Equal(names, want)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s: no primary key or unique index of %s is on exactly (%s), as mode %q needs", fieldKey, target.Sanitize(), strings.Join(key, ", "), ModeUpsert)
	}
	return nil
}

var errNoColumns = errors.New("no column to write")
