package batch

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type oldMessage struct {
	offset    int64
	timestamp int64 // -1 for magic 0
	key       string
	value     string
}

// decodeOld splits a message set and decodes each message with kmsg's
// MessageV0/MessageV1 (franz-go's reading of the old formats), checking
// each CRC.
func decodeOld(t *testing.T, set []byte, magic int8) []oldMessage {
	t.Helper()
	str := func(b []byte) string {
		if b == nil {
			return "<null>"
		}
		return string(b)
	}
	var out []oldMessage
	for len(set) > 0 {
		size := int(binary.BigEndian.Uint32(set[8:])) + 12
		one := set[:size]
		set = set[size:]
		if got, want := binary.BigEndian.Uint32(one[12:]), crc32.ChecksumIEEE(one[16:]); got != want {
			t.Fatalf("message at offset %d: CRC %08x, want %08x", binary.BigEndian.Uint64(one), got, want)
		}
		if magic == 0 {
			var m kmsg.MessageV0
			if err := m.ReadFrom(one); err != nil {
				t.Fatal(err)
			}
			out = append(out, oldMessage{m.Offset, -1, str(m.Key), str(m.Value)})
			continue
		}
		var m kmsg.MessageV1
		if err := m.ReadFrom(one); err != nil {
			t.Fatal(err)
		}
		out = append(out, oldMessage{m.Offset, m.Timestamp, str(m.Key), str(m.Value)})
	}
	return out
}

func TestDownConvert(t *testing.T) {
	t.Parallel()
	for codec := CodecNone; codec <= CodecZstd; codec++ {
		for _, magic := range []int8{0, 1} {
			t.Run(fmt.Sprintf("codec=%d/magic=%d", codec, magic), func(t *testing.T) {
				b := NewBuilder(codec)
				b.Add([]byte("k0"), []byte("v0"), 1000)
				b.Add(nil, []byte("v1"), 1001, RecordHeader{Key: "h", Value: []byte("dropped")})
				b.Add([]byte("k2"), nil, 1003)
				data, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				SetBaseOffset(data, 40)
				// A transaction marker after it: old clients never see one.
				marker, err := Assemble(Header{BaseOffset: 43, Attributes: AttrControl | AttrTransactional,
					ProducerID: 1, BaseSequence: -1, RecordCount: 1},
					AppendRecord(nil, &Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}))
				if err != nil {
					t.Fatal(err)
				}
				out, err := DownConvert(nil, append(data, marker...), magic)
				if err != nil {
					t.Fatal(err)
				}
				want := []oldMessage{{40, 1000, "k0", "v0"}, {41, 1001, "<null>", "v1"}, {42, 1003, "k2", "<null>"}}
				if magic == 0 {
					for i := range want {
						want[i].timestamp = -1
					}
				}
				got := decodeOld(t, out, magic)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("got %v\nwant %v", got, want)
				}
			})
		}
	}
	if _, err := DownConvert(nil, []byte{1, 2, 3}, 1); err == nil {
		t.Fatal("garbage converted without an error")
	}
}
