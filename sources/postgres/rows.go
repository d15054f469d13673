package postgres

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// A row becomes a JSON object, column name to value, in column order.
// Values of the types below are read in PostgreSQL's binary format and
// converted here; every other type is read in its text format and becomes
// a JSON string of that text (see "Values" in the package doc).

// encoder appends the JSON of a non-NULL value given in its column's
// format.
type encoder func(dst, src []byte) ([]byte, error)

// scalarEncoders are the types read in binary format.
var scalarEncoders = map[uint32]encoder{
	pgtype.BoolOID:        appendBool,
	pgtype.ByteaOID:       appendBytea,
	pgtype.Int2OID:        appendInt2,
	pgtype.Int4OID:        appendInt4,
	pgtype.Int8OID:        appendInt8,
	pgtype.OIDOID:         appendOID,
	pgtype.Float4OID:      appendFloat4,
	pgtype.Float8OID:      appendFloat8,
	pgtype.NumericOID:     appendNumeric,
	pgtype.TextOID:        appendText,
	pgtype.VarcharOID:     appendText,
	pgtype.BPCharOID:      appendText,
	pgtype.NameOID:        appendText,
	pgtype.JSONOID:        appendJSON,
	pgtype.JSONBOID:       appendJSONB,
	pgtype.UUIDOID:        appendUUID,
	pgtype.DateOID:        appendDate,
	pgtype.TimestampOID:   appendTimestamp,
	pgtype.TimestamptzOID: appendTimestamp,
}

// arrayOIDs are the array types read in binary format: arrays of the
// scalarEncoders types.
var arrayOIDs = []uint32{
	pgtype.BoolArrayOID, pgtype.ByteaArrayOID, pgtype.Int2ArrayOID, pgtype.Int4ArrayOID,
	pgtype.Int8ArrayOID, pgtype.OIDArrayOID, pgtype.Float4ArrayOID, pgtype.Float8ArrayOID,
	pgtype.NumericArrayOID, pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID,
	pgtype.NameArrayOID, pgtype.JSONArrayOID, pgtype.JSONBArrayOID, pgtype.UUIDArrayOID,
	pgtype.DateArrayOID, pgtype.TimestampArrayOID, pgtype.TimestamptzArrayOID,
}

// resultFormats asks for the binary format of the types converted here
// and the text format of the others.
var resultFormats = func() pgx.QueryResultFormatsByOID {
	f := pgx.QueryResultFormatsByOID{}
	for oid := range scalarEncoders {
		f[oid] = pgx.BinaryFormatCode
	}
	for _, oid := range arrayOIDs {
		f[oid] = pgx.BinaryFormatCode
	}
	return f
}()

// encoderFor returns the encoder of values of type oid in format.
func encoderFor(oid uint32, format int16) encoder {
	if format == pgx.TextFormatCode {
		return appendText
	}
	if e := scalarEncoders[oid]; e != nil {
		return e
	}
	for _, a := range arrayOIDs {
		if a == oid {
			return appendArray
		}
	}
	return nil
}

// Integer, timestamp and position column types.
var (
	intOIDs       = []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID}
	timestampOIDs = []uint32{pgtype.TimestampOID, pgtype.TimestamptzOID}
)

var errMalformed = errors.New("malformed binary value")

// appendText appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendText(dst, s []byte) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

const hexDigits = "0123456789abcdef"

func appendBool(dst, src []byte) ([]byte, error) {
	if len(src) != 1 {
		return dst, errMalformed
	}
	if src[0] != 0 {
		return append(dst, "true"...), nil
	}
	return append(dst, "false"...), nil
}

func appendBytea(dst, src []byte) ([]byte, error) {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, src)
	return append(dst, '"'), nil
}

func appendInt2(dst, src []byte) ([]byte, error) {
	if len(src) != 2 {
		return dst, errMalformed
	}
	return strconv.AppendInt(dst, int64(int16(binary.BigEndian.Uint16(src))), 10), nil
}

func appendInt4(dst, src []byte) ([]byte, error) {
	if len(src) != 4 {
		return dst, errMalformed
	}
	return strconv.AppendInt(dst, int64(int32(binary.BigEndian.Uint32(src))), 10), nil
}

func appendInt8(dst, src []byte) ([]byte, error) {
	if len(src) != 8 {
		return dst, errMalformed
	}
	return strconv.AppendInt(dst, int64(binary.BigEndian.Uint64(src)), 10), nil
}

func appendOID(dst, src []byte) ([]byte, error) {
	if len(src) != 4 {
		return dst, errMalformed
	}
	return strconv.AppendUint(dst, uint64(binary.BigEndian.Uint32(src)), 10), nil
}

func appendFloat4(dst, src []byte) ([]byte, error) {
	if len(src) != 4 {
		return dst, errMalformed
	}
	return appendFloat(dst, float64(math.Float32frombits(binary.BigEndian.Uint32(src))), 32), nil
}

func appendFloat8(dst, src []byte) ([]byte, error) {
	if len(src) != 8 {
		return dst, errMalformed
	}
	return appendFloat(dst, math.Float64frombits(binary.BigEndian.Uint64(src)), 64), nil
}

// appendFloat appends f as the shortest JSON number that reads back as
// it (as PostgreSQL prints it), or as the string "NaN", "Infinity" or
// "-Infinity", which JSON has no number for.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, bits)
}

// Signs of the binary numeric format.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// appendNumeric appends a numeric as the JSON number PostgreSQL prints,
// digit for digit with its scale ("12.50" stays 12.50), or as the string
// "NaN", "Infinity" or "-Infinity". The binary format is ndigits, weight,
// sign and dscale (int16 each), then ndigits base-10000 digits; the value
// is the sum of digit[i] * 10000^(weight-i).
func appendNumeric(dst, src []byte) ([]byte, error) {
	if len(src) < 8 {
		return dst, errMalformed
	}
	ndigits := int(binary.BigEndian.Uint16(src))
	weight := int(int16(binary.BigEndian.Uint16(src[2:])))
	sign := binary.BigEndian.Uint16(src[4:])
	dscale := int(binary.BigEndian.Uint16(src[6:]) & 0x3fff)
	if len(src) != 8+2*ndigits {
		return dst, errMalformed
	}
	switch sign {
	case numericNaN:
		return append(dst, `"NaN"`...), nil
	case numericPInf:
		return append(dst, `"Infinity"`...), nil
	case numericNInf:
		return append(dst, `"-Infinity"`...), nil
	case numericNeg:
		dst = append(dst, '-')
	case numericPos:
	default:
		return dst, errMalformed
	}
	digit := func(i int) uint16 {
		if i < 0 || i >= ndigits {
			return 0
		}
		return binary.BigEndian.Uint16(src[8+2*i:])
	}
	if weight < 0 {
		dst = append(dst, '0')
	} else {
		dst = strconv.AppendUint(dst, uint64(digit(0)), 10)
		for i := 1; i <= weight; i++ {
			dst = append4(dst, digit(i))
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		frac := len(dst)
		for i := weight + 1; len(dst)-frac < dscale; i++ {
			dst = append4(dst, digit(i))
		}
		dst = dst[:frac+dscale]
	}
	return dst, nil
}

// append4 appends d (< 10000) as four decimal digits.
func append4(dst []byte, d uint16) []byte {
	return append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
}

// appendJSON appends a json value compacted: the text PostgreSQL stored,
// without the spaces and newlines outside strings. PostgreSQL checked it
// is JSON when it was stored; a value that ends inside a string is an
// error.
func appendJSON(dst, src []byte) ([]byte, error) {
	inString := false
	start := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	if inString || len(src) == 0 {
		return dst, fmt.Errorf("invalid json %q", src)
	}
	return append(dst, src[start:]...), nil
}

// appendJSONB appends a jsonb value: a version byte (1), then its text.
func appendJSONB(dst, src []byte) ([]byte, error) {
	if len(src) < 1 || src[0] != 1 {
		return dst, errMalformed
	}
	return appendJSON(dst, src[1:])
}

func appendUUID(dst, src []byte) ([]byte, error) {
	if len(src) != 16 {
		return dst, errMalformed
	}
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, src[:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, src[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, src[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, src[8:10])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, src[10:])
	return append(dst, '"'), nil
}

// pgEpoch is 2000-01-01T00:00:00Z, the zero of PostgreSQL's dates and
// timestamps, in Unix microseconds and days.
const (
	pgEpochMicros = 946684800 * 1000000
	pgEpochDays   = 10957
)

// appendDate appends a date (int32 days since 2000-01-01) as a JSON
// string "2006-01-02", or "infinity" or "-infinity".
func appendDate(dst, src []byte) ([]byte, error) {
	if len(src) != 4 {
		return dst, errMalformed
	}
	switch d := int32(binary.BigEndian.Uint32(src)); d {
	case math.MaxInt32:
		return append(dst, `"infinity"`...), nil
	case math.MinInt32:
		return append(dst, `"-infinity"`...), nil
	default:
		t := time.Unix((int64(d)+pgEpochDays)*86400, 0).UTC()
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.DateOnly)
		return append(dst, '"'), nil
	}
}

// appendTimestamp appends a timestamp or timestamptz (int64 microseconds
// since 2000-01-01, UTC for timestamptz, the wall time for timestamp) as
// a JSON string in RFC 3339, UTC, with microseconds
// ("2026-11-21T09:00:00.000000Z"), or "infinity" or "-infinity".
func appendTimestamp(dst, src []byte) ([]byte, error) {
	us, inf, err := readTimestamp(src)
	switch {
	case err != nil:
		return dst, err
	case inf > 0:
		return append(dst, `"infinity"`...), nil
	case inf < 0:
		return append(dst, `"-infinity"`...), nil
	}
	t := time.UnixMicro(us).UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		// Outside RFC 3339: time's own format, a sign or a fifth digit.
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
		return append(dst, '"'), nil
	}
	hour, min, sec := t.Clock()
	dst = append(dst, '"')
	dst = append4(dst, uint16(year))
	dst = append(dst, '-', byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10),
		'T', byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':', byte('0'+sec/10), byte('0'+sec%10), '.')
	frac := t.Nanosecond() / 1000
	dst = append(dst, byte('0'+frac/100000), byte('0'+frac/10000%10))
	dst = append4(dst, uint16(frac%10000))
	return append(dst, 'Z', '"'), nil
}

// readTimestamp returns the Unix microseconds of a binary timestamp or
// timestamptz, or its sign when it is infinite.
func readTimestamp(src []byte) (us int64, inf int, _ error) {
	if len(src) != 8 {
		return 0, 0, errMalformed
	}
	switch v := int64(binary.BigEndian.Uint64(src)); v {
	case math.MaxInt64:
		return 0, 1, nil
	case math.MinInt64:
		return 0, -1, nil
	default:
		return v + pgEpochMicros, 0, nil
	}
}

// readInt returns the value of a binary smallint, integer or bigint.
func readInt(src []byte) (int64, error) {
	switch len(src) {
	case 2:
		return int64(int16(binary.BigEndian.Uint16(src))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(src))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(src)), nil
	}
	return 0, errMalformed
}

// maxArrayDims is the most dimensions PostgreSQL allows an array.
const maxArrayDims = 6

// appendArray appends an array as nested JSON arrays, NULL elements as
// null. The binary format is ndim, a has-nulls flag and the element type
// (int32 each), then ndim (size, lower bound) pairs, then the elements in
// row-major order, each an int32 length (-1 for NULL) and its bytes.
func appendArray(dst, src []byte) ([]byte, error) {
	if len(src) < 12 {
		return dst, errMalformed
	}
	ndim := int(int32(binary.BigEndian.Uint32(src)))
	elem := scalarEncoders[binary.BigEndian.Uint32(src[8:])]
	switch {
	case ndim == 0:
		return append(dst, '[', ']'), nil
	case ndim < 0 || ndim > maxArrayDims || len(src) < 12+8*ndim:
		return dst, errMalformed
	case elem == nil:
		return dst, fmt.Errorf("array of unsupported element type %d", binary.BigEndian.Uint32(src[8:]))
	}
	var dims [maxArrayDims]int
	for i := range ndim {
		dims[i] = int(int32(binary.BigEndian.Uint32(src[12+8*i:])))
		if dims[i] <= 0 {
			return dst, errMalformed
		}
	}
	rest := src[12+8*ndim:]
	var walk func(level int) error
	walk = func(level int) error {
		dst = append(dst, '[')
		for i := range dims[level] {
			if i > 0 {
				dst = append(dst, ',')
			}
			if level+1 < ndim {
				if err := walk(level + 1); err != nil {
					return err
				}
				continue
			}
			if len(rest) < 4 {
				return errMalformed
			}
			n := int(int32(binary.BigEndian.Uint32(rest)))
			rest = rest[4:]
			if n < 0 {
				dst = append(dst, "null"...)
				continue
			}
			if n > len(rest) {
				return errMalformed
			}
			var err error
			if dst, err = elem(dst, rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		dst = append(dst, ']')
		return nil
	}
	if err := walk(0); err != nil {
		return dst, err
	}
	if len(rest) != 0 {
		return dst, errMalformed
	}
	return dst, nil
}

// column is one column of a result.
type column struct {
	name   string
	prefix []byte // `"name":`, and a comma before it but for the first
	enc    encoder
	// raw: the column's text is its bytes (a string type, or a type read
	// in text format).
	raw bool
}

// layout is how the rows of a result become records: the columns'
// encoders, and which columns give the position, the time and the key.
// A layout is made for every result, as the columns of a table can
// change between two polls.
type layout struct {
	cols []column
	id   int  // IncrementingColumn
	ts   int  // TimestampColumn; -1 when none
	key  int  // KeyColumn
	pos  int  // the position's column: id or ts
	isTS bool // the position is ts's, in Unix microseconds
}

// newLayout checks the columns of a result against the configuration:
// every column named exists, with a type fit for its role. Its errors
// name the configuration field and list the columns.
func newLayout(fds []pgconn.FieldDescription, cfg *Config) (*layout, error) {
	l := &layout{cols: make([]column, len(fds)), id: -1, ts: -1, key: -1}
	seen := make(map[string]bool, len(fds))
	for i, fd := range fds {
		if seen[fd.Name] {
			return nil, fmt.Errorf("postgres source: %s returns two columns named %q: rename one", cfg.Name, fd.Name)
		}
		seen[fd.Name] = true
		enc := encoderFor(fd.DataTypeOID, fd.Format)
		if enc == nil {
			return nil, fmt.Errorf("postgres source: %s: column %q of type %d came in binary format", cfg.Name, fd.Name, fd.DataTypeOID)
		}
		c := column{name: fd.Name, enc: enc, raw: fd.Format == pgx.TextFormatCode}
		switch fd.DataTypeOID {
		case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
			c.raw = true
		}
		if i > 0 {
			c.prefix = append(c.prefix, ',')
		}
		c.prefix, _ = appendText(c.prefix, []byte(fd.Name))
		c.prefix = append(c.prefix, ':')
		l.cols[i] = c
		if fd.Name == cfg.IncrementingColumn {
			l.id = i
		}
		if fd.Name == cfg.TimestampColumn {
			l.ts = i
		}
		if fd.Name == cfg.KeyColumn {
			l.key = i
		}
	}
	columns := func() string {
		var b []byte
		for i, c := range l.cols {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, c.name...)
		}
		return string(b)
	}
	find := func(field, name string, idx int, oids []uint32, want string) error {
		if idx < 0 {
			return fmt.Errorf("postgres source: %s: %q is not a column of %s (its columns: %s)", field, name, cfg.Name, columns())
		}
		if oids == nil {
			return nil
		}
		for _, oid := range oids {
			if fds[idx].DataTypeOID == oid {
				return nil
			}
		}
		return fmt.Errorf("postgres source: %s: column %q of %s is of type %s, not %s", field, name, cfg.Name, typeName(fds[idx].DataTypeOID), want)
	}
	if err := find(fieldIncrementingColumn, cfg.IncrementingColumn, l.id, intOIDs, "smallint, integer or bigint"); err != nil {
		return nil, err
	}
	if cfg.TimestampColumn != "" {
		if err := find(fieldTimestampColumn, cfg.TimestampColumn, l.ts, timestampOIDs, "timestamptz or timestamp"); err != nil {
			return nil, err
		}
	}
	if err := find(fieldKeyColumn, cfg.KeyColumn, l.key, nil, ""); err != nil {
		return nil, err
	}
	l.pos = l.id
	if cfg.Mode == ModeTimestampIncrementing {
		l.pos, l.isTS = l.ts, true
	}
	return l, nil
}

// typeName names the common types, for errors.
func typeName(oid uint32) string {
	if t, ok := pgtype.NewMap().TypeForOID(oid); ok {
		return t.Name
	}
	return "oid " + strconv.FormatUint(uint64(oid), 10)
}

// appendValue appends the row as a JSON object.
func (l *layout) appendValue(dst []byte, row [][]byte) ([]byte, error) {
	dst = append(dst, '{')
	for i := range l.cols {
		c := &l.cols[i]
		dst = append(dst, c.prefix...)
		if row[i] == nil {
			dst = append(dst, "null"...)
			continue
		}
		var err error
		if dst, err = c.enc(dst, row[i]); err != nil {
			return dst, fmt.Errorf("column %q: %w", c.name, err)
		}
	}
	return append(dst, '}'), nil
}

// appendKey appends the key column's value as text: a string's
// characters, anything else as its JSON, unquoted when that is a string
// without escapes (a uuid, a timestamp). ok is false for NULL.
func (l *layout) appendKey(dst []byte, row [][]byte) (_ []byte, ok bool, _ error) {
	v := row[l.key]
	if v == nil {
		return dst, false, nil
	}
	c := &l.cols[l.key]
	if c.raw {
		return append(dst, v...), true, nil
	}
	start := len(dst)
	dst, err := c.enc(dst, v)
	if err != nil {
		return dst, false, fmt.Errorf("column %q: %w", c.name, err)
	}
	if s := dst[start:]; len(s) >= 2 && s[0] == '"' && bytes.IndexByte(s, '\\') < 0 {
		copy(s, s[1:len(s)-1])
		dst = dst[:len(dst)-2]
	}
	return dst, true, nil
}

// position returns the row's position: its id, or its timestamp in Unix
// microseconds. NULL and infinite values are excluded by the queries.
func (l *layout) position(row [][]byte) (int64, error) {
	v := row[l.pos]
	if v == nil {
		return 0, fmt.Errorf("column %q is NULL", l.cols[l.pos].name)
	}
	if !l.isTS {
		return readInt(v)
	}
	us, inf, err := readTimestamp(v)
	if err == nil && inf != 0 {
		err = fmt.Errorf("column %q is infinite", l.cols[l.pos].name)
	}
	return us, err
}

// offset returns the row's id, for Pos.Offset: 0 when it is NULL (in
// timestamp+incrementing mode).
func (l *layout) offset(row [][]byte) (int64, error) {
	if row[l.id] == nil {
		return 0, nil
	}
	return readInt(row[l.id])
}

// timeMs returns the row's timestamp in Unix milliseconds, or def when it
// has none (no TimestampColumn, NULL, infinite).
func (l *layout) timeMs(row [][]byte, def int64) int64 {
	if l.ts < 0 || row[l.ts] == nil {
		return def
	}
	us, inf, err := readTimestamp(row[l.ts])
	if err != nil || inf != 0 {
		return def
	}
	return floorDiv(us, 1000)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
