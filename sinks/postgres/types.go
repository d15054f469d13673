package postgres

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// kind is how a JSON value becomes a column's value.
type kind uint8

const (
	kText kind = iota + 1 // text, varchar, char, name, enums
	kInt2
	kInt4
	kInt8
	kFloat4
	kFloat8
	kNumeric
	kBool
	kTimestamptz
	kTimestamp
	kDate
	kJSON // json, jsonb
	kUUID
	kBytea
	kOther // another type pgx knows: its text form, parsed by its codec
)

// kinds of the base types the sink converts itself.
var kinds = map[uint32]kind{
	pgtype.TextOID: kText, pgtype.VarcharOID: kText, pgtype.BPCharOID: kText, pgtype.NameOID: kText,
	pgtype.Int2OID: kInt2, pgtype.Int4OID: kInt4, pgtype.Int8OID: kInt8,
	pgtype.Float4OID: kFloat4, pgtype.Float8OID: kFloat8, pgtype.NumericOID: kNumeric,
	pgtype.BoolOID:        kBool,
	pgtype.TimestamptzOID: kTimestamptz, pgtype.TimestampOID: kTimestamp, pgtype.DateOID: kDate,
	pgtype.JSONOID: kJSON, pgtype.JSONBOID: kJSON,
	pgtype.UUIDOID:  kUUID,
	pgtype.ByteaOID: kBytea,
}

// pgType is a column's type and how to encode JSON for it.
type pgType struct {
	name    string // as format_type writes it: "character varying(5)", "text[]"
	oid     uint32 // the column's type (a domain, an enum, an array...)
	array   bool   // a one-dimensional array of the element described below
	elemOID uint32 // of an array: its element type, as the array's binary form names it
	kind    kind   // of the (element's) base type
	baseOID uint32 // the (element's) base type, domains resolved
	jsonb   bool   // kJSON: jsonb (its binary form starts with a version byte)
	maxLen  int    // varchar(n), char(n): n characters; 0: no limit
	bpchar  bool   // char(n): trailing spaces do not count
}

// appendField appends the field of a non-null JSON value raw (valid,
// trimmed) in a column of type t, as COPY's binary format has it: its
// length (int32), then its value in the type's binary form. tm parses
// the text of kOther types.
func (t *pgType) appendField(tm *pgtype.Map, buf, raw []byte) ([]byte, error) {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	var err error
	if t.array {
		buf, err = t.appendArray(tm, buf, raw)
	} else {
		buf, err = t.appendScalar(tm, buf, raw)
	}
	if err != nil {
		return buf[:start], err
	}
	binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))
	return buf, nil
}

// appendArray appends the binary form of a one-dimensional array:
//
//	| ndim int32 | has nulls int32 | element type oid | length int32 | lower bound int32 (1) | elements |
//
// each element a field (-1 for NULL); an empty array has ndim 0 and no
// dimension.
func (t *pgType) appendArray(tm *pgtype.Map, buf, raw []byte) ([]byte, error) {
	if raw[0] != '[' {
		return buf, fmt.Errorf("%s is not an array", excerpt(raw))
	}
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, t.elemOID)
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, 1)
	n, nulls := 0, false
	err := eachElem(raw, func(i int, v []byte) error {
		n++
		if v[0] == 'n' {
			nulls = true
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32) // -1
			return nil
		}
		var err error
		f := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		if buf, err = t.appendScalar(tm, buf, v); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		binary.BigEndian.PutUint32(buf[f:], uint32(len(buf)-f-4))
		return nil
	})
	if err != nil {
		return buf, err
	}
	if n == 0 {
		return append(buf[:start], 0, 0, 0, 0, 0, 0, 0, 0, byte(t.elemOID>>24), byte(t.elemOID>>16), byte(t.elemOID>>8), byte(t.elemOID)), nil
	}
	if nulls {
		binary.BigEndian.PutUint32(buf[start+4:], 1)
	}
	binary.BigEndian.PutUint32(buf[start+12:], uint32(n))
	return buf, nil
}

// pgEpoch is PostgreSQL's epoch for times and dates.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// PostgreSQL's range of timestamps, in microseconds from pgEpoch
// (MIN_TIMESTAMP, END_TIMESTAMP): 4714-11-24 BC to 294277-01-01.
const (
	pgMinTimestamp = -211813488000000000
	pgEndTimestamp = 9223371331200000000
)

// maxMillis bounds the Unix milliseconds taken, so that microseconds fit
// an int64 (PostgreSQL's range ends before).
const maxMillis = 9_200_000_000_000_000

// appendScalar appends the binary form of a value of t's base type.
func (t *pgType) appendScalar(tm *pgtype.Map, buf, raw []byte) ([]byte, error) {
	switch t.kind {
	case kText:
		s := textOf(raw)
		if t.maxLen > 0 && len(s) > t.maxLen {
			c := s
			if t.bpchar {
				c = strings.TrimRight(c, " ")
			}
			if n := utf8.RuneCountInString(c); n > t.maxLen {
				return buf, fmt.Errorf("%s is longer than %d characters (%d)", excerpt(raw), t.maxLen, n)
			}
		}
		if strings.IndexByte(s, 0) >= 0 {
			return buf, fmt.Errorf("%s holds a NUL character", excerpt(raw))
		}
		return append(buf, s...), nil
	case kInt2, kInt4, kInt8:
		n, err := toInt(raw, t.kind)
		if err != nil {
			return buf, err
		}
		switch t.kind {
		case kInt2:
			return binary.BigEndian.AppendUint16(buf, uint16(n)), nil
		case kInt4:
			return binary.BigEndian.AppendUint32(buf, uint32(n)), nil
		}
		return binary.BigEndian.AppendUint64(buf, uint64(n)), nil
	case kFloat4, kFloat8:
		if !isNumber(raw) {
			return buf, notA(raw, "a number")
		}
		bits := 64
		if t.kind == kFloat4 {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(raw), bits)
		if err != nil {
			return buf, fmt.Errorf("%s is out of range for %s", excerpt(raw), t.name)
		}
		if bits == 32 {
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(f))), nil
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f)), nil
	case kNumeric:
		s := textOf(raw)
		if raw[0] != '"' && !isNumber(raw) || !numericText(s) {
			return buf, notA(raw, "a number")
		}
		out, ok := appendNumeric(buf, s)
		if !ok {
			return buf, fmt.Errorf("%s is out of range for numeric", excerpt(raw))
		}
		return out, nil
	case kBool:
		switch string(raw) {
		case "true":
			return append(buf, 1), nil
		case "false":
			return append(buf, 0), nil
		}
		return buf, notA(raw, "a boolean")
	case kTimestamptz, kTimestamp:
		ts, err := toTime(raw)
		if err != nil {
			return buf, err
		}
		// timestamp stores the wall clock: UTC's.
		us := ts.UnixMicro() - pgEpoch.UnixMicro()
		if us < pgMinTimestamp || us >= pgEndTimestamp {
			return buf, fmt.Errorf("%s is out of range for %s", excerpt(raw), t.name)
		}
		return binary.BigEndian.AppendUint64(buf, uint64(us)), nil
	case kDate:
		ts, err := toTime(raw)
		if err != nil {
			return buf, err
		}
		y, m, d := ts.Date() // the date as written, or UTC's for milliseconds
		days := (time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - pgEpoch.Unix()) / 86400
		return binary.BigEndian.AppendUint32(buf, uint32(int32(days))), nil
	case kJSON:
		if t.jsonb {
			buf = append(buf, 1)
		}
		return append(buf, raw...), nil
	case kUUID:
		var u pgtype.UUID
		if raw[0] != '"' || u.Scan(unquote(raw)) != nil {
			return buf, notA(raw, "a UUID")
		}
		return append(buf, u.Bytes[:]...), nil
	case kBytea:
		if raw[0] != '"' {
			return buf, notA(raw, "a base64 string")
		}
		s := unquote(raw)
		n := len(buf)
		buf = slices.Grow(buf, base64.StdEncoding.DecodedLen(len(s)))
		m, err := base64.StdEncoding.Decode(buf[n:n+base64.StdEncoding.DecodedLen(len(s))], []byte(s))
		if err != nil {
			return buf[:n], notA(raw, "a base64 string")
		}
		return buf[:n+m], nil
	case kOther:
		typ, ok := tm.TypeForOID(t.baseOID)
		if !ok {
			return buf, fmt.Errorf("type %s is not supported", t.name)
		}
		v, err := typ.Codec.DecodeValue(tm, t.baseOID, pgtype.TextFormatCode, []byte(textOf(raw)))
		if err != nil {
			return buf, fmt.Errorf("%s is not a valid %s: %w", excerpt(raw), typ.Name, err)
		}
		out, err := tm.Encode(t.baseOID, pgtype.BinaryFormatCode, v, buf)
		if err != nil || out == nil {
			return buf, fmt.Errorf("%s is not a valid %s: %v", excerpt(raw), typ.Name, err)
		}
		return out, nil
	}
	return buf, fmt.Errorf("type %s is not supported", t.name)
}

// textOf returns what a text column holds for a JSON value: a string's
// content, the JSON text of anything else.
func textOf(raw []byte) string {
	if raw[0] == '"' {
		return unquote(raw)
	}
	return string(raw)
}

func isNumber(raw []byte) bool {
	return raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9')
}

// numericText reports whether s is a decimal number, an exponent allowed,
// or NaN or [-]Infinity: what a numeric column takes from a string.
func numericText(s string) bool {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

var intRanges = map[kind]struct {
	min, max int64
	name     string
}{
	kInt2: {math.MinInt16, math.MaxInt16, "smallint"},
	kInt4: {math.MinInt32, math.MaxInt32, "integer"},
	kInt8: {math.MinInt64, math.MaxInt64, "bigint"},
}

// toInt converts a JSON number holding an integer ("12", "1.2e3", "5.0")
// in k's range.
func toInt(raw []byte, k kind) (int64, error) {
	if !isNumber(raw) {
		return 0, notA(raw, "a number")
	}
	r := intRanges[k]
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s is out of range for %s", excerpt(raw), r.name)
		}
		f, ferr := strconv.ParseFloat(string(raw), 64)
		switch {
		case ferr != nil || f != math.Trunc(f):
			return 0, notA(raw, "a whole number")
		case f < -(1<<63) || f >= 1<<63:
			return 0, fmt.Errorf("%s is out of range for %s", excerpt(raw), r.name)
		}
		n = int64(f)
	}
	if n < r.min || n > r.max {
		return 0, fmt.Errorf("%s is out of range for %s", excerpt(raw), r.name)
	}
	return n, nil
}

// Layouts of a time in a JSON string, after RFC 3339: without a zone
// (UTC), and a bare date.
const (
	layoutNoZone = "2006-01-02T15:04:05.999999999"
	layoutDate   = time.DateOnly
)

// toTime converts a JSON number of Unix milliseconds or a string in RFC
// 3339 (or without a zone, taken as UTC, or a bare date).
func toTime(raw []byte) (time.Time, error) {
	if isNumber(raw) {
		if ms, err := strconv.ParseInt(string(raw), 10, 64); err == nil && ms > -maxMillis && ms < maxMillis {
			return time.UnixMilli(ms).UTC(), nil
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.Abs(f) > 1<<53 {
			return time.Time{}, fmt.Errorf("%s is out of range for Unix milliseconds", excerpt(raw))
		}
		return time.UnixMicro(int64(math.Round(f * 1000))).UTC(), nil
	}
	if raw[0] == '"' {
		s := unquote(raw)
		for _, layout := range []string{time.RFC3339Nano, layoutNoZone, layoutDate} {
			if ts, err := time.Parse(layout, s); err == nil {
				return ts, nil
			}
		}
	}
	return time.Time{}, notA(raw, "a time (RFC 3339 or Unix milliseconds)")
}

// notA returns "<raw> is not <what>".
func notA(raw []byte, what string) error {
	return fmt.Errorf("%s is not %s", excerpt(raw), what)
}

// excerptLen bounds the bytes of a value quoted in an error.
const excerptLen = 40

// excerpt returns raw, shortened to about excerptLen bytes.
func excerpt(raw []byte) string {
	if len(raw) <= excerptLen {
		return string(raw)
	}
	i := excerptLen
	for i > 0 && !utf8.RuneStart(raw[i]) {
		i--
	}
	return string(raw[:i]) + "…"
}
