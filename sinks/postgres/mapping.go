package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/runnel-io/runnel/connect"
)

// maxOmittable bounds the columns with a default that a missing field
// leaves out (op.omit is a uint64). Further columns with a default take
// NULL when their field is missing.
const maxOmittable = 64

// column is a column written, and where its value comes from.
type column struct {
	name string
	from from
	typ  pgType
	omit int // bit in op.omit set when the field is missing: the column takes its default; -1: NULL
}

// mapping turns records into rows. It is built once, from the
// configuration and the table; read-only then.
type mapping struct {
	cols  []column
	names []string // column names, in order: the COPY column list

	top       map[string][]int // first field of the value → columns reading from it
	whole     []int            // columns reading the whole value
	needValue bool             // some column reads the value: it must be valid JSON
	needKey   bool             // some column reads the key
	keyCols   []int            // columns of Config.Key, in its order
	deletes   bool             // DeleteOnTombstone
	dedupe    bool             // upsert mode: ops compute their key
}

// newMapping maps cfg's columns (or all of the table's) onto the table's.
func newMapping(cfg *Config, table []tableColumn) (*mapping, error) {
	byName := map[string]*tableColumn{}
	for i := range table {
		byName[table[i].name] = &table[i]
	}
	m := &mapping{top: map[string][]int{}, deletes: cfg.DeleteOnTombstone, dedupe: cfg.Mode == ModeUpsert}
	add := func(tc *tableColumn, f from) {
		m.cols = append(m.cols, column{name: tc.name, from: f, typ: tc.typ, omit: -1})
		m.names = append(m.names, tc.name)
	}
	var errs []error
	if len(cfg.Columns) == 0 {
		for i := range table {
			if !table[i].generated {
				add(&table[i], from{src: fromValue, path: []string{table[i].name}})
			}
		}
	} else {
		for _, c := range cfg.Columns {
			tc := byName[c.Name]
			switch {
			case tc == nil:
				errs = append(errs, fmt.Errorf("%s: %q: no such column in %s", fieldColumns, c.Name, cfg.Table))
				continue
			case tc.generated:
				errs = append(errs, fmt.Errorf("%s: %q: a generated column cannot be written", fieldColumns, c.Name))
				continue
			}
			f := from{src: fromValue, path: []string{c.Name}}
			if c.From != "" {
				f, _ = parseFrom(c.From) // checked by Validate
			}
			add(tc, f)
		}
	}
	if len(m.cols) == 0 {
		errs = append(errs, errNoColumns)
	}
	omittable := 0
	for i := range m.cols {
		c := &m.cols[i]
		if tc := byName[c.name]; tc.hasDefault && omittable < maxOmittable {
			c.omit = omittable
			omittable++
		}
		switch c.from.src {
		case fromValue:
			m.needValue = true
			if len(c.from.path) == 0 {
				m.whole = append(m.whole, i)
			} else {
				m.top[c.from.path[0]] = append(m.top[c.from.path[0]], i)
			}
		case fromKey:
			m.needKey = true
		}
	}
	for _, k := range cfg.Key {
		i := m.index(k)
		if i < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a column written", fieldKey, k))
			continue
		}
		m.keyCols = append(m.keyCols, i)
	}
	return m, errors.Join(errs...)
}

func (m *mapping) index(name string) int {
	for i, c := range m.cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

// op is a record turned into a row to write, or a key to delete.
type op struct {
	rec  connect.Record // a copy of the record, for a rejection
	row  []byte         // the row as COPY's binary format has it (see convert)
	key  []byte         // the key columns' fields, to find a key twice; nil if one is NULL or left out
	omit uint64         // columns left out: they take their default
	del  bool           // a tombstone: row holds the key columns only
}

// scratch is the per-task memory convert reuses.
type scratch struct {
	raws   [][]byte // per column: its JSON value in the record, nil if missing
	fields []int    // per column: where its field starts in row, -1 if left out
	row    []byte
	key    []byte // the row's key (see keyOf), nil if none
	keyBuf []byte
}

// convert turns rec into o.omit, o.del and the row and key in sc: the row
// as COPY's binary format has it,
//
//	| field count int16 | fields |
//
// each field an int32 length (-1: NULL) and the value in its type's
// binary form, for the columns written: every column in order but those
// left out (missing fields of columns with a default), or for a
// tombstone the key columns (in Key's order). An error is why rec is
// refused.
func (m *mapping) convert(tm *pgtype.Map, sc *scratch, rec *connect.Record, o *op) error {
	raws := sc.raws
	clear(raws)
	sc.key = nil
	if rec.Value == nil {
		return m.tombstone(tm, sc, rec, o)
	}
	if m.needValue {
		p := parser{b: rec.Value}
		if len(m.top) > 0 {
			p.m, p.raws = m, raws
		}
		if !p.valid() {
			return fmt.Errorf("value is not valid JSON: %s", excerpt(rec.Value))
		}
		v := trimJSON(rec.Value)
		if len(m.top) > 0 && v[0] != '{' {
			return fmt.Errorf("value is not a JSON object: %s", excerpt(v))
		}
		for _, i := range m.whole {
			raws[i] = v
		}
	}
	var key []byte
	if m.needKey && rec.Key != nil {
		key = keyJSON(rec.Key)
	}
	row := append(sc.row[:0], 0, 0)
	n := 0
	for i := range m.cols {
		c := &m.cols[i]
		switch c.from.src {
		case fromKey:
			if key != nil {
				raws[i] = walk(key, c.from.path)
			}
		case fromTime:
			raws[i] = strconv.AppendInt(nil, rec.Time, 10)
		case fromTopic:
			raws[i] = quote([]byte(rec.Pos.Stream))
		case fromPartition:
			raws[i] = strconv.AppendInt(nil, int64(rec.Pos.Partition), 10)
		case fromOffset:
			raws[i] = strconv.AppendInt(nil, rec.Pos.Offset, 10)
		}
		raw := raws[i]
		sc.fields[i] = len(row)
		switch {
		case raw == nil && c.omit >= 0:
			o.omit |= 1 << c.omit
			sc.fields[i] = -1
			continue
		case raw == nil || raw[0] == 'n': // missing without a default, or null
			row = append(row, 0xff, 0xff, 0xff, 0xff)
		default:
			var err error
			if row, err = c.typ.appendField(tm, row, raw); err != nil {
				sc.row = row
				return fmt.Errorf("column %q (%s): %w", c.name, c.typ.name, err)
			}
		}
		n++
	}
	binary.BigEndian.PutUint16(row, uint16(n))
	sc.row = row
	m.keyOf(sc)
	return nil
}

// keyOf sets sc.key to the key columns' fields in sc.row, numeric scales
// left out (1.5 and 1.50 are one key), or to nil when one is NULL or left
// out (NULLs never conflict), or when the mode does not need keys. Two
// values PostgreSQL finds equal may still give different keys (a date
// from two times of the same day): they then go to the same statement,
// which fails (cardinality violation) and is split by sendIsolated.
func (m *mapping) keyOf(sc *scratch) {
	key := sc.keyBuf[:0]
	sc.key = nil
	if !m.dedupe {
		return
	}
	for _, i := range m.keyCols {
		at := sc.fields[i]
		if at < 0 {
			return
		}
		n := int32(binary.BigEndian.Uint32(sc.row[at:]))
		if n < 0 {
			return
		}
		f := sc.row[at : at+4+int(n)]
		if m.cols[i].typ.kind == kNumeric && !m.cols[i].typ.array && n >= 8 {
			key = append(append(key, f[:4+6]...), f[4+8:]...)
			continue
		}
		key = append(key, f...)
	}
	sc.key, sc.keyBuf = key, key
}

// topField notes, in raws, the value of a field of the value for the
// columns that read it.
func (m *mapping) topField(raws [][]byte, key []byte, esc bool, val []byte) {
	var cols []int
	if esc {
		cols = m.top[unquoteKey(key)]
	} else {
		cols = m.top[string(key)]
	}
	for _, i := range cols {
		raws[i] = walk(val, m.cols[i].from.path[1:])
	}
}

// tombstone makes o a delete by the key columns of a record with a nil
// value.
func (m *mapping) tombstone(tm *pgtype.Map, sc *scratch, rec *connect.Record, o *op) error {
	if !m.deletes {
		return fmt.Errorf("a tombstone (nil value) and %s is off", fieldDeleteOnTombstone)
	}
	if rec.Key == nil {
		return errors.New("a tombstone (nil value) without a key")
	}
	key := keyJSON(rec.Key)
	row := binary.BigEndian.AppendUint16(sc.row[:0], uint16(len(m.keyCols)))
	for i := range sc.fields {
		sc.fields[i] = -1
	}
	for _, i := range m.keyCols {
		c := &m.cols[i]
		var raw []byte
		switch {
		case c.from.src == fromKey:
			raw = walk(key, c.from.path)
		case key[0] == '{':
			raw = field(key, c.name)
		case len(m.keyCols) == 1 && key[0] != '[':
			raw = key
		}
		if raw == nil || raw[0] == 'n' {
			sc.row = row
			return fmt.Errorf("tombstone: the key %s has no value for column %q", excerpt(key), c.name)
		}
		sc.fields[i] = len(row)
		var err error
		if row, err = c.typ.appendField(tm, row, raw); err != nil {
			sc.row = row
			return fmt.Errorf("tombstone: column %q (%s): %w", c.name, c.typ.name, err)
		}
	}
	sc.row = row
	o.del = true
	m.keyOf(sc)
	return nil
}

// rowFields returns the fields (with their length) of a row, by column,
// nil for the columns the row leaves out.
func (m *mapping) rowFields(o *op) [][]byte {
	out := make([][]byte, len(m.cols))
	at := 2
	next := func() []byte {
		n := int32(binary.BigEndian.Uint32(o.row[at:]))
		f := o.row[at : at+4+max(int(n), 0)]
		at += len(f)
		return f
	}
	if o.del {
		for _, i := range m.keyCols {
			out[i] = next()
		}
		return out
	}
	for i, c := range m.cols {
		if c.omit < 0 || o.omit&(1<<c.omit) == 0 {
			out[i] = next()
		}
	}
	return out
}

// keyJSON returns a record key as JSON: itself when it is valid JSON, else
// a JSON string of its bytes.
func keyJSON(k []byte) []byte {
	if t := trimJSON(k); len(t) > 0 && validJSON(k) {
		return t
	}
	return quote(k)
}

// walk returns the value at path in the JSON value v, nil if missing.
func walk(v []byte, path []string) []byte {
	for _, p := range path {
		if v = field(v, p); v == nil {
			return nil
		}
	}
	return v
}
