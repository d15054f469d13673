package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzDecodeMessageSet feeds arbitrary bytes to the decoder of magic 0/1
// message sets (Produce v0-v2) and to the up-conversion. None may panic,
// every error matches a sentinel, and when a set decodes:
//   - its messages re-encoded uncompressed decode to the same messages;
//   - UpConvert gives one valid v2 batch holding the same records;
//   - every cut inside a top-level message is ErrShort (a torn request is
//     refused, never appended in part), and every cut between two
//     top-level messages decodes to a prefix of the messages.
func FuzzDecodeMessageSet(f *testing.F) {
	for _, magic := range []int8{0, 1} {
		for codec := CodecNone; codec <= CodecLz4; codec++ {
			f.Add(legacySet(f, magic, codec, testMessages...))
		}
		plain := legacySet(f, magic, CodecNone, testMessages...)
		f.Add(rawSnappyWrapper(magic, plain))
		f.Add(append(bytes.Clone(plain), legacySet(f, magic, CodecGzip, testMessages[1:]...)...))
	}
	f.Add([]byte{})
	f.Add(make([]byte, LegacyOverhead+minMessageSizeV1))
	f.Fuzz(func(t *testing.T, in []byte) {
		// The fuzzer can hardly get a CRC right: also try the input with
		// the CRCs of its top-level messages fixed, and as the
		// compressed inner set of a wrapper of each codec.
		inputs := [][]byte{in, fixCRCs(in)}
		for _, magic := range []int8{0, 1} {
			for codec := CodecGzip; codec <= CodecLz4; codec++ {
				w, err := AppendLegacyWrapper(nil, magic, codec, 0, 0, fixCRCs(in))
				if err != nil {
					t.Fatal(err)
				}
				inputs = append(inputs, w)
			}
			inputs = append(inputs, rawSnappyWrapper(magic, fixCRCs(in)))
		}
		for _, b := range inputs {
			checkMessageSet(t, b)
		}
	})
}

// fixCRCs returns b with the CRC of each top-level message recomputed, as
// far as the sizes lead.
func fixCRCs(b []byte) []byte {
	b = bytes.Clone(b)
	for pos := 0; len(b)-pos >= LegacyOverhead+4; {
		size := int(int32(binary.BigEndian.Uint32(b[pos+8:])))
		if size < 4 || size > len(b)-pos-LegacyOverhead {
			break
		}
		fixCRC(b[pos:])
		pos += LegacyOverhead + size
	}
	return b
}

func checkMessageSet(t *testing.T, b []byte) {
	const max = 1 << 20
	ms, err := DecodeMessageSet(b, max)
	if err != nil {
		for _, sentinel := range []error{ErrShort, ErrBadLength, ErrCRC, ErrUnknownMagic, ErrBadHeader, ErrBadRecords} {
			if errors.Is(err, sentinel) {
				if _, uerr := UpConvert(b, 1, max); uerr == nil {
					t.Fatalf("UpConvert accepted a set DecodeMessageSet refused (%v)", err)
				}
				return
			}
		}
		t.Fatalf("DecodeMessageSet: %v matches no sentinel", err)
	}
	if (ms.Magic != 0 && ms.Magic != 1) || len(ms.Messages) == 0 || ms.Codec < CodecNone || ms.Codec > CodecLz4 {
		t.Fatalf("decoded magic %d, codec %d, %d messages", ms.Magic, ms.Codec, len(ms.Messages))
	}

	// Re-encoded uncompressed: the same messages.
	var again []byte
	for i := range ms.Messages {
		m := &ms.Messages[i]
		if m.Attributes&AttrCompressionMask != 0 {
			t.Fatalf("message %d still has codec bits: %+v", i, m)
		}
		if ms.Magic == 0 && m.Timestamp != -1 {
			t.Fatalf("magic 0 message %d has timestamp %d", i, m.Timestamp)
		}
		again = AppendLegacyMessage(again, ms.Magic, m)
	}
	ms2, err := DecodeMessageSet(again, max)
	if err != nil {
		t.Fatalf("re-encoded messages do not decode: %v", err)
	}
	if !sameMessages(ms2.Messages, ms.Messages) || ms2.Magic != ms.Magic || ms2.Codec != CodecNone {
		t.Fatalf("re-encoded messages decode to %+v, were %+v", ms2, ms)
	}

	// Up-converted: one v2 batch with the same records.
	const now = 123456
	v2, err := UpConvert(b, now, max)
	if err != nil {
		t.Fatalf("UpConvert of a set that decodes: %v", err)
	}
	h, size, err := Check(v2, 0)
	if err != nil || size != len(v2) {
		t.Fatalf("UpConvert made an invalid batch: %v", err)
	}
	recs, err := Records(v2, &h)
	if err != nil || len(recs) != len(ms.Messages) || h.Codec() != ms.Codec || int(h.RecordCount) != len(recs) {
		t.Fatalf("UpConvert: %d records of %d, codec %d of %d: %v", len(recs), len(ms.Messages), h.Codec(), ms.Codec, err)
	}
	for i, r := range recs {
		m := &ms.Messages[i]
		ts := h.FirstTimestamp + r.TimestampDelta
		if h.Attributes&AttrLogAppendTime != 0 {
			ts = h.MaxTimestamp
		}
		want := m.Timestamp
		if ms.Magic == 0 || want == -1 {
			want = now
		}
		if !bytes.Equal(r.Key, m.Key) || (r.Key == nil) != (m.Key == nil) ||
			!bytes.Equal(r.Value, m.Value) || (r.Value == nil) != (m.Value == nil) ||
			ts != want || int(r.OffsetDelta) != i {
			t.Fatalf("record %d: %+v (timestamp %d), message %+v", i, r, ts, m)
		}
	}

	// Cuts: inside a top-level message, ErrShort; between two, a prefix.
	boundaries := map[int]bool{}
	for pos := 0; pos < len(b); {
		boundaries[pos] = true
		pos += LegacyOverhead + int(binary.BigEndian.Uint32(b[pos+8:]))
	}
	step := 1
	if len(b) > 512 {
		step = len(b) / 256
	}
	for k := len(b) - 1; k >= 0; k -= step {
		pre, err := DecodeMessageSet(b[:k], max)
		switch {
		case k == 0:
			if err == nil {
				t.Fatal("the empty set decoded")
			}
		case boundaries[k]:
			if err != nil || len(pre.Messages) >= len(ms.Messages) || !sameMessages(pre.Messages, ms.Messages[:len(pre.Messages)]) {
				t.Fatalf("cut at message boundary %d of %d: %v, %d messages of %d", k, len(b), err, len(pre.Messages), len(ms.Messages))
			}
		default:
			if !errors.Is(err, ErrShort) {
				t.Fatalf("cut at byte %d of %d, inside a message: %v (%d messages), want ErrShort", k, len(b), err, len(pre.Messages))
			}
		}
	}
}

func sameMessages(a, b []Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Offset != y.Offset || x.Attributes != y.Attributes || x.Timestamp != y.Timestamp ||
			!bytes.Equal(x.Key, y.Key) || (x.Key == nil) != (y.Key == nil) ||
			!bytes.Equal(x.Value, y.Value) || (x.Value == nil) != (y.Value == nil) {
			return false
		}
	}
	return true
}
