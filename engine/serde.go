package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Serde turns keys or values into bytes and back. A Decode error is handed
// to the pipeline's error policy (fail, skip, dead letter), never a panic.
type Serde[T any] interface {
	Encode(T) ([]byte, error)
	Decode([]byte) (T, error)
}

// Bytes is the identity serde.
func Bytes() Serde[[]byte] { return bytesSerde{} }

type bytesSerde struct{}

func (bytesSerde) Encode(b []byte) ([]byte, error) { return b, nil }
func (bytesSerde) Decode(b []byte) ([]byte, error) { return b, nil }

// String is the UTF-8 string serde; a null (nil) value decodes to "".
func String() Serde[string] { return stringSerde{} }

type stringSerde struct{}

func (stringSerde) Encode(s string) ([]byte, error) { return []byte(s), nil }
func (stringSerde) Decode(b []byte) (string, error) { return string(b), nil }

// Int64 encodes an int64 as decimal text, the way kcat and the console
// tools show it.
func Int64() Serde[int64] { return int64Serde{} }

type int64Serde struct{}

func (int64Serde) Encode(v int64) ([]byte, error) { return strconv.AppendInt(nil, v, 10), nil }
func (int64Serde) Decode(b []byte) (int64, error) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", truncate(b))
	}
	return v, nil
}

// JSON encodes values with encoding/json into T.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Encode(v T) ([]byte, error) { return json.Marshal(v) }
func (jsonSerde[T]) Decode(b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decoding JSON %q: %w", truncate(b), err)
	}
	return v, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
