package kafkastate

import (
	"encoding/binary"
	"testing"
)

// FuzzParse: a damaged state record is an error, never a panic, and what
// parses has its parts inside the record.
func FuzzParse(f *testing.F) {
	good := []byte{2}
	good = binary.AppendVarint(good, 7)
	good = binary.BigEndian.AppendUint64(good, 42)
	good = binary.AppendUvarint(good, 1)
	pos := []byte(`[{"s":"in","p":0,"o":3}]`)
	good = binary.AppendUvarint(good, uint64(len(pos)))
	good = append(append(good, pos...), "state"...)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		c, err := parse(v)
		if err != nil {
			return
		}
		if c.n < 1 || len(c.pos)+len(c.state) > len(v) {
			t.Fatalf("parsed %+v from %d bytes", c, len(v))
		}
		decodePositions(c.pos) // must not panic either
	})
}
