package esemu

import (
	"math"
	"sort"
	"strconv"
)

// obj is a JSON object for responses, with its keys in the order
// Elasticsearch writes them.
type obj []kv

type kv struct {
	k string
	v any
}

// raw is JSON already encoded (a stored _source, say), written as is.
type raw []byte

// appendAny appends v as compact JSON. It knows the types the emulator
// builds responses from; anything else is a programming error and is
// written as null.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return appendDouble(b, x)
	case float32:
		return appendDouble(b, float64(x))
	case raw:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		return append(b, x...)
	case obj:
		b = append(b, '{')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e.k)
			b = append(b, ':')
			b = appendAny(b, e.v)
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAny(b, e)
		}
		return append(b, ']')
	case []obj:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAny(b, e)
		}
		return append(b, ']')
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, e)
		}
		return append(b, ']')
	case *value:
		return appendValue(b, x)
	case value:
		return appendValue(b, &x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendAny(b, x[k])
		}
		return append(b, '}')
	case *esError:
		return appendAny(b, x.body())
	default:
		return append(b, "null"...)
	}
}

// appendDouble writes a double as Java does for the values Elasticsearch
// responses carry (a score of 1 is "1.0"). Non-finite values, which JSON
// cannot carry, are written as null.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(b, "null"...)
	case f == math.Trunc(f) && math.Abs(f) < 1e7:
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
		return append(b, '.', '0')
	case math.Abs(f) >= 1e-3 && math.Abs(f) < 1e7:
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	default:
		// Java's 1.0E10 style.
		s := strconv.FormatFloat(f, 'E', -1, 64)
		mant, exp := s, ""
		for i := 0; i < len(s); i++ {
			if s[i] == 'E' {
				mant, exp = s[:i], s[i+1:]
				break
			}
		}
		hasDot := false
		for i := 0; i < len(mant); i++ {
			if mant[i] == '.' {
				hasDot = true
			}
		}
		if !hasDot {
			mant += ".0"
		}
		if len(exp) > 0 && exp[0] == '+' {
			exp = exp[1:]
		}
		// strip leading zeros of the exponent ("E-05" → "E-5").
		neg := len(exp) > 0 && exp[0] == '-'
		if neg {
			exp = exp[1:]
		}
		for len(exp) > 1 && exp[0] == '0' {
			exp = exp[1:]
		}
		if neg {
			exp = "-" + exp
		}
		b = append(b, mant...)
		b = append(b, 'E')
		return append(b, exp...)
	}
}
