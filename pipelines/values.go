package pipelines

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines/exprs"
)

// The records of YAML pipelines are dynamic: keys and values are what
// encoding/json decodes (nil, bool, float64, string, []any,
// map[string]any), or strings. These are the formats of their bytes.
const (
	formatJSON   = "json"   // JSON text; a number is a float64
	formatString = "string" // UTF-8 text, as is
)

var formats = []string{formatJSON, formatString}

// dynSerde encodes and decodes the dynamic keys and values of YAML
// pipelines. nil stands for absent bytes both ways (no key, a tombstone).
type dynSerde struct{ format string }

func (s dynSerde) Encode(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if s.format == formatString {
		switch t := v.(type) {
		case string:
			return []byte(t), nil
		case []byte:
			return t, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %T as JSON: %w", v, err)
	}
	return b, nil
}

func (s dynSerde) Decode(b []byte) (any, error) {
	if b == nil {
		return nil, nil
	}
	if s.format == formatString {
		return string(b), nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return decodeJSON(b)
}

// decodeJSON decodes JSON text with integers as int64 (so that an id
// above 2^53 keeps its digits, and value.n % 2 works) and other numbers
// as float64.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("not JSON: more than one value")
	}
	return numbers(v), nil
}

// numbers replaces the json.Numbers in v.
func numbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	}
	return v
}

// normalizeKey makes a key usable as a map key that survives a JSON round
// trip (a repartition topic, a state snapshot): numbers are int64 when
// integral, and lists and objects become their JSON text.
func normalizeKey(k any) any {
	switch t := k.(type) {
	case nil, string, bool, int64:
		return k
	case float64:
		// an integral float is the integer JSON decodes it to
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
		return k
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case float32:
		return normalizeKey(float64(t))
	case []byte:
		return string(t)
	}
	if v := reflect.ValueOf(k); v.Comparable() && v.Kind() != reflect.Struct && v.Kind() != reflect.Pointer {
		return k
	}
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Sprint(k)
	}
	return string(b)
}

// envOf is what an expression sees of a record.
func envOf(r *engine.Record[any, any], headers bool) *exprs.Env {
	e := &exprs.Env{Key: r.Key, Value: r.Value, Time: r.Time, Topic: r.Pos.Input.Stream, Partition: r.Pos.Input.Partition, Offset: r.Pos.Offset}
	if headers && len(r.Headers) > 0 {
		e.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			e.Headers[h.Key] = string(h.Value)
		}
	}
	return e
}

// compare orders two values of min and max: numbers by value, strings
// lexically, and values of different types by type (nil, false/true,
// numbers, strings, others).
func compare(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	if ra == 2 {
		x, _ := number(a)
		y, _ := number(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case string:
		y := b.(string)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return 0
}

func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case float64, int64, int, int32, float32:
		return 2
	case string:
		return 3
	}
	return 4
}

// number returns v as a float64 when it is a number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}

// winKey is the key of a YAML window: its JSON form (in state snapshots)
// decodes back to the same normalized key, where a plain any would come
// back as a float64.
type winKey struct{ V any }

func (k winKey) MarshalJSON() ([]byte, error) { return json.Marshal(k.V) }

func (k *winKey) UnmarshalJSON(b []byte) error {
	v, err := decodeJSON(b)
	if err != nil {
		return err
	}
	k.V = normalizeKey(v)
	return nil
}
