package esemu

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNum
	kStr
	kArr
	kObj
)

// value is a parsed JSON value. Objects keep their members in document
// order, as Elasticsearch does when it re-serialises a source (after an
// update's merge, for instance). Numbers keep their literal text, so that
// a long is never rounded through a float64.
type value struct {
	kind kind
	b    bool
	s    string // a string's decoded text, or a number's literal
	arr  []value
	obj  []member
	off  int // offset of the value's first byte in the parsed input
}

type member struct {
	key string
	off int // offset of the key's opening quote
	val value
}

// get returns the member named key of an object.
func (v *value) get(key string) (*value, bool) {
	if v.kind != kObj {
		return nil, false
	}
	for i := range v.obj {
		if v.obj[i].key == key {
			return &v.obj[i].val, true
		}
	}
	return nil, false
}

// isInt reports whether a number's literal has no fraction or exponent.
func (v *value) isInt() bool {
	return v.kind == kNum && !isFloatLiteral(v.s)
}

func isFloatLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', 'e', 'E':
			return true
		}
	}
	return false
}

// jsonError is a syntax error, positioned like Jackson's: a 1-based line and
// column of the offending character in the parsed text.
type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return e.msg }

// maxDepth is Jackson's default maximum nesting depth
// (StreamReadConstraints.getMaxNestingDepth()).
const maxDepth = 1000

var parsers = sync.Pool{New: func() any { return new(parser) }}

type parser struct {
	data  []byte
	i     int
	depth int
	// Members and elements are gathered on these stacks while their
	// container is parsed, then copied into a slice of the exact size.
	mst []member
	vst []value
	// keys interns object keys, which repeat from document to document.
	keys map[string]string
}

// intern returns b as a string, shared with earlier equal keys.
func (p *parser) intern(b []byte) string {
	if s, ok := p.keys[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.keys == nil || len(p.keys) >= 4096 {
		p.keys = make(map[string]string, 64)
	}
	p.keys[s] = s
	return s
}

// parseJSON parses data, which must hold exactly one JSON value, with
// optional whitespace around it. Duplicate keys in an object are an error,
// as with Elasticsearch's strict duplicate detection.
func parseJSON(data []byte) (value, error) {
	p := parsers.Get().(*parser)
	defer func() {
		p.data, p.mst, p.vst = nil, p.mst[:0], p.vst[:0]
		parsers.Put(p)
	}()
	*p = parser{data: data, mst: p.mst, vst: p.vst, keys: p.keys}
	p.skipWS()
	if p.i >= len(p.data) {
		return value{}, p.errf("Unexpected end-of-input: expected a value")
	}
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	p.skipWS()
	if p.i < len(p.data) {
		return value{}, p.errf("Unexpected character (%s): expected end of input", p.charDesc())
	}
	return v, nil
}

// isBlank reports whether data holds only JSON whitespace.
func isBlank(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

func (p *parser) errf(format string, args ...any) error {
	return &jsonError{off: p.i, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) charDesc() string {
	if p.i >= len(p.data) {
		return "EOF"
	}
	c := p.data[p.i]
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("code %d", c)
	}
	return fmt.Sprintf("'%c' (code %d)", c, c)
}

func (p *parser) skipWS() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() (value, error) {
	if p.i >= len(p.data) {
		return value{}, p.errf("Unexpected end-of-input: expected a value")
	}
	start := p.i
	switch c := p.data[p.i]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		s, err := p.str()
		return value{kind: kStr, s: s, off: start}, err
	case 't':
		return p.literal("true", value{kind: kBool, b: true, off: start})
	case 'f':
		return p.literal("false", value{kind: kBool, off: start})
	case 'n':
		return p.literal("null", value{kind: kNull, off: start})
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.number()
		}
		return value{}, p.unrecognized()
	}
}

func (p *parser) unrecognized() error {
	end := p.i
	for end < len(p.data) && end-p.i < 256 {
		c := p.data[end]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':' || c == ']' || c == '}' || c == '{' || c == '[' || c == '"' {
			break
		}
		end++
	}
	tok := string(p.data[p.i:end])
	if tok == "" {
		return p.errf("Unexpected character (%s): expected a value", p.charDesc())
	}
	return p.errf("Unrecognized token '%s': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')", tok)
}

func (p *parser) literal(word string, v value) (value, error) {
	if !bytes.HasPrefix(p.data[p.i:], []byte(word)) {
		return value{}, p.unrecognized()
	}
	p.i += len(word)
	if p.i < len(p.data) && isIdentByte(p.data[p.i]) {
		p.i -= len(word)
		return value{}, p.unrecognized()
	}
	return v, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *parser) number() (value, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if digits() == 0 {
		return value{}, p.errf("Unexpected character (%s) in numeric value: expected digit (0-9) to follow minus sign, for valid numeric value", p.charDesc())
	}
	if p.data[intStart] == '0' && p.i-intStart > 1 {
		p.i = intStart
		return value{}, p.errf("Invalid numeric value: Leading zeroes not allowed")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return value{}, p.errf("Unexpected character (%s) in numeric value: Decimal point not followed by a digit", p.charDesc())
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return value{}, p.errf("Unexpected character (%s) in numeric value: Exponent indicator not followed by a digit", p.charDesc())
		}
	}
	if p.i < len(p.data) && isIdentByte(p.data[p.i]) {
		return value{}, p.errf("Unexpected character (%s) in numeric value: expected digit, '.', 'e' or 'E'", p.charDesc())
	}
	return value{kind: kNum, s: string(p.data[start:p.i]), off: start}, nil
}

// str parses a string; p.i is on the opening quote. Keys are interned.
func (p *parser) str(key ...bool) (string, error) {
	p.i++ // opening quote
	start := p.i
	ascii := true
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			s := p.data[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				p.i = start
				return "", p.errf("Invalid UTF-8 middle byte")
			}
			if len(key) > 0 {
				return p.intern(s), nil
			}
			return string(s), nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.errf("Illegal unquoted character ((CTRL-CHAR, code %d)): has to be escaped using backslash to be included in string value", c)
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	return "", p.errf("Unexpected end-of-input: was expecting closing quote for a string value")
}

// strSlow decodes a string with escapes, starting over at start (just
// after the opening quote).
func (p *parser) strSlow(start int) (string, error) {
	p.i = start
	buf := make([]byte, 0, 32)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				return "", p.errf("Invalid UTF-8 middle byte")
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errf("Illegal unquoted character ((CTRL-CHAR, code %d)): has to be escaped using backslash to be included in string value", c)
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.data) {
			break
		}
		e := p.data[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errf("Unexpected character (%s): expected a hex-digit for character escape sequence", p.charDesc())
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate must be followed by \uDC00-\uDFFF.
				if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					r2, ok := p.hex4()
					if ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							buf = utf8.AppendRune(buf, d)
							continue
						}
					}
					p.i = save
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.i--
			return "", p.errf("Unrecognized character escape (%s)", p.charDesc())
		}
	}
	return "", p.errf("Unexpected end-of-input: was expecting closing quote for a string value")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for k := 0; k < 4; k++ {
		c := p.data[p.i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
		p.i++
	}
	return r, true
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf("Document nesting depth (%d) exceeds the maximum allowed (%d, from `StreamReadConstraints.getMaxNestingDepth()`)", p.depth, maxDepth)
	}
	return nil
}

func (p *parser) object() (value, error) {
	v := value{kind: kObj, off: p.i}
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.i++ // {
	base := len(p.mst)
	defer func() { p.mst = p.mst[:base] }()
	var seen map[string]struct{}
	p.skipWS()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		p.depth--
		v.obj = []member{}
		return v, nil
	}
	for {
		p.skipWS()
		if p.i >= len(p.data) {
			return value{}, p.errf("Unexpected end-of-input: expected close marker for Object")
		}
		if p.data[p.i] != '"' {
			return value{}, p.errf("Unexpected character (%s): was expecting double-quote to start field name", p.charDesc())
		}
		koff := p.i
		key, err := p.str(true)
		if err != nil {
			return value{}, err
		}
		members := p.mst[base:]
		if seen != nil {
			if _, dup := seen[key]; dup {
				p.i = koff
				return value{}, p.errf("Duplicate field '%s'", key)
			}
			seen[key] = struct{}{}
		} else {
			for i := range members {
				if members[i].key == key {
					p.i = koff
					return value{}, p.errf("Duplicate field '%s'", key)
				}
			}
			if len(members) == 16 {
				seen = make(map[string]struct{}, 32)
				for i := range members {
					seen[members[i].key] = struct{}{}
				}
				seen[key] = struct{}{}
			}
		}
		p.skipWS()
		if p.i >= len(p.data) {
			return value{}, p.errf("Unexpected end-of-input: was expecting a colon to separate field name and value")
		}
		if p.data[p.i] != ':' {
			return value{}, p.errf("Unexpected character (%s): was expecting a colon to separate field name and value", p.charDesc())
		}
		p.i++
		p.skipWS()
		val, err := p.value()
		if err != nil {
			return value{}, err
		}
		p.mst = append(p.mst, member{key: key, off: koff, val: val})
		p.skipWS()
		if p.i >= len(p.data) {
			return value{}, p.errf("Unexpected end-of-input: expected close marker for Object")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			v.obj = make([]member, len(p.mst)-base)
			copy(v.obj, p.mst[base:])
			return v, nil
		default:
			return value{}, p.errf("Unexpected character (%s): was expecting comma to separate Object entries", p.charDesc())
		}
	}
}

func (p *parser) array() (value, error) {
	v := value{kind: kArr, off: p.i}
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.i++ // [
	base := len(p.vst)
	defer func() { p.vst = p.vst[:base] }()
	p.skipWS()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		p.depth--
		v.arr = []value{}
		return v, nil
	}
	for {
		p.skipWS()
		val, err := p.value()
		if err != nil {
			return value{}, err
		}
		p.vst = append(p.vst, val)
		p.skipWS()
		if p.i >= len(p.data) {
			return value{}, p.errf("Unexpected end-of-input: expected close marker for Array")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			v.arr = make([]value, len(p.vst)-base)
			copy(v.arr, p.vst[base:])
			return v, nil
		default:
			return value{}, p.errf("Unexpected character (%s): was expecting comma to separate Array entries", p.charDesc())
		}
	}
}

// lineCol converts an offset in data to Jackson's 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// appendValue appends v as compact JSON.
func appendValue(b []byte, v *value) []byte {
	switch v.kind {
	case kNull:
		return append(b, "null"...)
	case kBool:
		return strconv.AppendBool(b, v.b)
	case kNum:
		return append(b, v.s...)
	case kStr:
		return appendString(b, v.s)
	case kArr:
		b = append(b, '[')
		for i := range v.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, &v.arr[i])
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i := range v.obj {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v.obj[i].key)
			b = append(b, ':')
			b = appendValue(b, &v.obj[i].val)
		}
		return append(b, '}')
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping only what JSON requires
// (Elasticsearch does not escape HTML characters).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			// Invalid UTF-8 (from a percent-encoded path) becomes U+FFFD.
			if r, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				start = i + 1
			} else {
				i += size - 1
			}
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// equalValues compares two JSON values the way Elasticsearch compares the
// Java objects it parses them into: an integer and a float are never
// equal, two integers or two floats are equal when their numbers are.
func equalValues(a, b *value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kNull:
		return true
	case kBool:
		return a.b == b.b
	case kStr:
		return a.s == b.s
	case kNum:
		if a.s == b.s {
			return true
		}
		af, bf := isFloatLiteral(a.s), isFloatLiteral(b.s)
		if af != bf {
			return false
		}
		if !af {
			ai, aerr := strconv.ParseInt(a.s, 10, 64)
			bi, berr := strconv.ParseInt(b.s, 10, 64)
			return aerr == nil && berr == nil && ai == bi
		}
		x, _ := strconv.ParseFloat(a.s, 64)
		y, _ := strconv.ParseFloat(b.s, 64)
		return x == y
	case kArr:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !equalValues(&a.arr[i], &b.arr[i]) {
				return false
			}
		}
		return true
	default:
		if len(a.obj) != len(b.obj) {
			return false
		}
		for i := range a.obj {
			bv, ok := b.get(a.obj[i].key)
			if !ok || !equalValues(&a.obj[i].val, bv) {
				return false
			}
		}
		return true
	}
}

// javaString renders a value the way Java's toString renders the object
// Elasticsearch parsed it into; the "Preview of field's value" of a mapping
// error uses it.
func javaString(v *value) string {
	switch v.kind {
	case kNull:
		return "null"
	case kBool:
		return strconv.FormatBool(v.b)
	case kNum, kStr:
		return v.s
	case kArr:
		var b []byte
		b = append(b, '[')
		for i := range v.arr {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, javaString(&v.arr[i])...)
		}
		return string(append(b, ']'))
	default:
		var b []byte
		b = append(b, '{')
		for i := range v.obj {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, v.obj[i].key...)
			b = append(b, '=')
			b = append(b, javaString(&v.obj[i].val)...)
		}
		return string(append(b, '}'))
	}
}

// tokenName names a value's first token as Jackson does.
func tokenName(v *value) string {
	switch v.kind {
	case kNull:
		return "VALUE_NULL"
	case kBool:
		if v.b {
			return "VALUE_TRUE"
		}
		return "VALUE_FALSE"
	case kNum:
		if v.isInt() {
			return "VALUE_NUMBER_INT"
		}
		return "VALUE_NUMBER_FLOAT"
	case kStr:
		return "VALUE_STRING"
	case kArr:
		return "START_ARRAY"
	default:
		return "START_OBJECT"
	}
}
