package postgres

import (
	"encoding/json"
	"unicode/utf8"
	"unsafe"
)

// The scanning functions below walk JSON that was validated before
// (validJSON): they look for the end of a value without checking it again,
// and never allocate.

// maxDepth bounds the nesting of the JSON the sink takes (PostgreSQL's
// jsonb refuses deeper documents anyway, through its stack limit).
const maxDepth = 1000

// validJSON reports whether b is one valid JSON value, as encoding/json
// reads it, in valid UTF-8 (which PostgreSQL requires), nested at most
// maxDepth deep.
func validJSON(b []byte) bool {
	p := parser{b: b}
	return p.valid()
}

// parser validates JSON by recursive descent. Its methods return the
// index after what they read, or -1 when it is invalid. With m set, the
// fields of a top-level object go to m.topField: one pass both checks a
// value and finds its fields.
type parser struct {
	b    []byte
	m    *mapping
	raws [][]byte
}

func (p *parser) valid() bool {
	i := p.value(skipSpace(p.b, 0), 0)
	return i >= 0 && skipSpace(p.b, i) == len(p.b)
}

func (p *parser) value(i, depth int) int {
	b := p.b
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := p.str(i)
		return end
	case c == '{':
		return p.object(i, depth+1)
	case c == '[':
		return p.array(i, depth+1)
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number(i)
	case c == 't':
		return p.literal(i, "true")
	case c == 'f':
		return p.literal(i, "false")
	case c == 'n':
		return p.literal(i, "null")
	}
	return -1
}

func (p *parser) literal(i int, lit string) int {
	if len(p.b)-i < len(lit) || string(p.b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func (p *parser) number(i int) int {
	b := p.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	return i
}

// str reads the string at b[i] ('"'); esc says whether it holds escapes.
func (p *parser) str(i int) (int, bool) {
	b := p.b
	esc := false
	for i++; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return -1, esc
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return -1, esc
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return -1, esc
					}
				}
				i += 6
			default:
				return -1, esc
			}
		case c < 0x20:
			return -1, esc
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return -1, esc
			}
			i += size
		}
	}
	return -1, esc
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (p *parser) object(i, depth int) int {
	if depth > maxDepth {
		return -1
	}
	b := p.b
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		kEnd, esc := p.str(i)
		if kEnd < 0 {
			return -1
		}
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		vStart := skipSpace(b, i+1)
		vEnd := p.value(vStart, depth)
		if vEnd < 0 {
			return -1
		}
		if depth == 1 && p.m != nil {
			p.m.topField(p.raws, key, esc, b[vStart:vEnd])
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func (p *parser) array(i, depth int) int {
	if depth > maxDepth {
		return -1
	}
	b := p.b
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		i = p.value(i, depth)
		if i < 0 {
			return -1
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimJSON returns b without surrounding white space.
func trimJSON(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// stringEnd returns the index after the string starting at b[i] (a '"'),
// and whether it holds escapes.
func stringEnd(b []byte, i int) (int, bool) {
	esc := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return i + 1, esc
		}
	}
	return len(b), esc
}

// valueEnd returns the index after the value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, _ := stringEnd(b, i)
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(b)
	}
}

// eachField calls fn with the key (its raw bytes, quotes removed) and the
// value of each field of the object obj, which must start with '{' (after
// white space), until fn returns false. escaped says whether the key holds
// escapes (then decode it with unquote).
func eachField(obj []byte, fn func(key []byte, escaped bool, val []byte) bool) {
	i := skipSpace(obj, 0) + 1 // '{'
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return // '}'
		}
		kEnd, esc := stringEnd(obj, i)
		key := obj[i+1 : kEnd-1]
		i = skipSpace(obj, kEnd) + 1 // ':'
		i = skipSpace(obj, i)
		vEnd := valueEnd(obj, i)
		if !fn(key, esc, obj[i:vEnd]) {
			return
		}
		i = skipSpace(obj, vEnd)
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
}

// eachElem calls fn with each element of the array arr, which must start
// with '[' (after white space).
func eachElem(arr []byte, fn func(i int, val []byte) error) error {
	i := skipSpace(arr, 0) + 1 // '['
	for n := 0; ; n++ {
		i = skipSpace(arr, i)
		if i >= len(arr) || arr[i] == ']' {
			return nil
		}
		end := valueEnd(arr, i)
		if err := fn(n, arr[i:end]); err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i++
		}
	}
}

// field returns the value of the last field of obj named name (as
// encoding/json, the last of duplicates wins), nil when obj is not an
// object or has no such field.
func field(obj []byte, name string) []byte {
	obj = trimJSON(obj)
	if len(obj) == 0 || obj[0] != '{' {
		return nil
	}
	var found []byte
	eachField(obj, func(key []byte, esc bool, val []byte) bool {
		if esc {
			if unquoteKey(key) == name {
				found = val
			}
		} else if string(key) == name {
			found = val
		}
		return true
	})
	return found
}

// unquoteKey decodes the escapes of a key's raw bytes (quotes removed).
func unquoteKey(key []byte) string {
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	var s string
	json.Unmarshal(q, &s) // valid: checked before
	return s
}

// unquote returns the string a JSON string literal holds. Without
// escapes, the string shares raw's memory: raw must never change (record
// values never do, once written).
func unquote(raw []byte) string {
	if end, esc := stringEnd(raw, 0); !esc && end == len(raw) {
		if len(raw) == 2 {
			return ""
		}
		return unsafe.String(&raw[1], len(raw)-2)
	}
	var s string
	json.Unmarshal(raw, &s) // valid: checked before
	return s
}

// quote returns s as a JSON string literal.
func quote(s []byte) []byte {
	b, _ := json.Marshal(string(s)) // a string cannot fail
	return b
}
