package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/snappy"
)

func TestXXH32(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0x02cc5d05},
		{"a", 0x550d7456},
		{"abc", 0x32d153ff},
		{"Nobody inspects the spammish repetition", 0xe2293b2f},
	} {
		if got := xxh32([]byte(c.in)); got != c.want {
			t.Errorf("xxh32(%q) = %08x, want %08x", c.in, got, c.want)
		}
	}
}

// legacySet encodes msgs as a message set of magic, compressed in one
// wrapper with codec unless it is CodecNone. Inner offsets are relative.
func legacySet(t testing.TB, magic int8, codec int, msgs ...Message) []byte {
	t.Helper()
	var set []byte
	for i := range msgs {
		m := msgs[i]
		if codec != CodecNone {
			m.Offset = int64(i)
		}
		set = AppendLegacyMessage(set, magic, &m)
	}
	if codec == CodecNone {
		return set
	}
	out, err := AppendLegacyWrapper(nil, magic, codec, int64(len(msgs)-1), 0, set)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawSnappyWrapper is a wrapper whose value is raw (unframed) snappy, as
// librdkafka and older clients write it.
func rawSnappyWrapper(magic int8, inner []byte) []byte {
	return AppendLegacyMessage(nil, magic, &Message{Attributes: CodecSnappy, Value: snappy.Encode(nil, inner)})
}

var testMessages = []Message{
	{Key: []byte("k0"), Value: []byte("v0"), Timestamp: 1000},
	{Value: []byte("no key"), Timestamp: 999},
	{Key: []byte("tombstone"), Timestamp: -1},
	{Key: []byte{}, Value: []byte{}, Timestamp: 1500},
}

type upRecord struct {
	ts         int64
	key, value string
}

func (r upRecord) String() string { return fmt.Sprintf("%d/%s/%s", r.ts, r.key, r.value) }

func strOrNull(b []byte) string {
	if b == nil {
		return "<null>"
	}
	return string(b)
}

// upRecords checks the converted batch and returns its records.
func upRecords(t *testing.T, b []byte) (Header, []upRecord) {
	t.Helper()
	h, size, err := Check(b, 0)
	if err != nil || size != len(b) {
		t.Fatalf("converted batch: Check: %v (size %d of %d)", err, size, len(b))
	}
	recs, err := Records(b, &h)
	if err != nil {
		t.Fatal(err)
	}
	var out []upRecord
	for i, r := range recs {
		if int(r.OffsetDelta) != i || len(r.Headers) != 0 {
			t.Fatalf("record %d: offset delta %d, %d headers", i, r.OffsetDelta, len(r.Headers))
		}
		ts := h.FirstTimestamp + r.TimestampDelta
		if h.Attributes&AttrLogAppendTime != 0 {
			ts = h.MaxTimestamp
		}
		out = append(out, upRecord{ts, strOrNull(r.Key), strOrNull(r.Value)})
	}
	return h, out
}

func TestUpConvert(t *testing.T) {
	t.Parallel()
	const now = 5000
	for _, magic := range []int8{0, 1} {
		for codec := CodecNone; codec <= CodecLz4; codec++ {
			t.Run(fmt.Sprintf("magic=%d/codec=%d", magic, codec), func(t *testing.T) {
				set := legacySet(t, magic, codec, testMessages...)
				// Two sets back to back: plain messages, then the set
				// again (one more wrapper when compressed).
				set = append(legacySet(t, magic, CodecNone, testMessages[:2]...), set...)
				ms, err := DecodeMessageSet(set, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if ms.Magic != magic || ms.Codec != codec || len(ms.Messages) != 2+len(testMessages) {
					t.Fatalf("magic %d, codec %d, %d messages", ms.Magic, ms.Codec, len(ms.Messages))
				}
				b, err := UpConvert(set, now, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				h, got := upRecords(t, b)
				var want []upRecord
				for _, m := range append(testMessages[:2:2], testMessages...) {
					ts := m.Timestamp
					if magic == 0 || ts == -1 {
						ts = now
					}
					want = append(want, upRecord{ts, strOrNull(m.Key), strOrNull(m.Value)})
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("records\n got %v\nwant %v", got, want)
				}
				if h.Codec() != codec || h.ProducerID != -1 || h.BaseSequence != -1 || h.IsTransactional() {
					t.Fatalf("header %+v", h)
				}
				if lat := h.Attributes&AttrLogAppendTime != 0; lat != (magic == 0) {
					t.Fatalf("LogAppendTime %v for magic %d", lat, magic)
				}
				if magic == 1 && (h.FirstTimestamp != 1000 || h.MaxTimestamp != now) {
					t.Fatalf("first timestamp %d, max %d", h.FirstTimestamp, h.MaxTimestamp)
				}
				// Back down: the same keys and values.
				old, err := DownConvert(nil, b, magic)
				if err != nil {
					t.Fatal(err)
				}
				again, err := DecodeMessageSet(old, 0)
				if err != nil {
					t.Fatal(err)
				}
				for i, m := range again.Messages {
					if w := want[i]; strOrNull(m.Key) != w.key || strOrNull(m.Value) != w.value || (magic == 1 && m.Timestamp != w.ts) {
						t.Fatalf("down-converted message %d: %+v, want %v", i, m, w)
					}
				}
			})
		}
	}
}

func TestUpConvertRawSnappy(t *testing.T) {
	t.Parallel()
	for _, magic := range []int8{0, 1} {
		set := rawSnappyWrapper(magic, legacySet(t, magic, CodecNone, testMessages...))
		ms, err := DecodeMessageSet(set, 1<<20)
		if err != nil {
			t.Fatalf("magic %d: %v", magic, err)
		}
		if ms.Codec != CodecSnappy || len(ms.Messages) != len(testMessages) || string(ms.Messages[0].Value) != "v0" {
			t.Fatalf("magic %d: %+v", magic, ms)
		}
	}
}

// The LZ4 header checksum: magic 0 frames carry Kafka 0.8's (over the
// magic number too), which the decoder ignores; magic 1 frames must carry
// the right one, as the frame format and Kafka 0.10 want.
func TestUpConvertLZ4HeaderChecksum(t *testing.T) {
	t.Parallel()
	inner := legacySet(t, 1, CodecNone, testMessages...)
	good, err := AppendLegacyWrapper(nil, 1, CodecLz4, 0, 0, inner)
	if err != nil {
		t.Fatal(err)
	}
	frame := func(wrapper []byte) []byte { return wrapper[LegacyOverhead+4+1+1+8+4+4:] }
	if fixed := fixLZ4HeaderChecksum(frame(good)); !bytes.Equal(fixed, frame(good)) {
		t.Fatal("the writer's header checksum differs from xxh32's: xxh32 is wrong")
	}
	n := lz4DescriptorLen(frame(good))
	if n == 0 {
		t.Fatal("no LZ4 frame in the wrapper")
	}
	// The old checksum in a magic 1 wrapper: refused.
	bad := bytes.Clone(good)
	f := frame(bad)
	f[4+n] = byte(xxh32(f[:4+n]) >> 8)
	if f[4+n] == frame(good)[4+n] {
		t.Skip("the old and the right checksum happen to agree")
	}
	fixCRC(bad)
	if _, err := DecodeMessageSet(bad, 1<<20); !errors.Is(err, ErrBadRecords) {
		t.Fatalf("magic 1 with Kafka 0.8's header checksum: %v, want ErrBadRecords", err)
	}
	// Magic 0 wrappers with the old or the right checksum: both read.
	old, err := AppendLegacyWrapper(nil, 0, CodecLz4, 0, 0, legacySet(t, 0, CodecNone, testMessages...))
	if err != nil {
		t.Fatal(err)
	}
	f = frame0(old)
	if f[4+n] != byte(xxh32(f[:4+n])>>8) {
		t.Fatal("the magic 0 writer does not write Kafka 0.8's checksum")
	}
	right := bytes.Clone(old)
	f = frame0(right)
	f[4+n] = byte(xxh32(f[4:4+n]) >> 8)
	fixCRC(right)
	for _, set := range [][]byte{old, right} {
		if ms, err := DecodeMessageSet(set, 1<<20); err != nil || len(ms.Messages) != len(testMessages) {
			t.Fatalf("magic 0 lz4: %v, %d messages", err, len(ms.Messages))
		}
	}
}

func frame0(wrapper []byte) []byte { return wrapper[LegacyOverhead+4+1+1+4+4:] }

// fixCRC recomputes the CRC of the message at the start of b.
func fixCRC(b []byte) {
	size := int(binary.BigEndian.Uint32(b[8:]))
	binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:LegacyOverhead+size]))
}

func TestUpConvertLogAppendTimeWrapper(t *testing.T) {
	t.Parallel()
	inner := legacySet(t, 1, CodecNone, testMessages...)
	w, err := AppendLegacyWrapper(nil, 1, CodecGzip, 3, 7777, inner)
	if err != nil {
		t.Fatal(err)
	}
	w[LegacyOverhead+5] |= AttrLogAppendTime
	fixCRC(w)
	ms, err := DecodeMessageSet(w, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms.Messages {
		if m.Timestamp != 7777 {
			t.Fatalf("inner message %d: timestamp %d, want the wrapper's 7777", i, m.Timestamp)
		}
	}
}

func TestDecodeMessageSetErrors(t *testing.T) {
	t.Parallel()
	plain := legacySet(t, 1, CodecNone, testMessages...)
	gz := legacySet(t, 1, CodecGzip, testMessages...)
	v2, err := NewBuilder(CodecNone).Add(nil, []byte("v"), 1).Build()
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		b[at] ^= 0x40
		return b
	}
	nested, err := AppendLegacyWrapper(nil, 1, CodecGzip, 0, 0, gz)
	if err != nil {
		t.Fatal(err)
	}
	mixedInner, err := AppendLegacyWrapper(nil, 1, CodecGzip, 0, 0, legacySet(t, 0, CodecNone, testMessages...))
	if err != nil {
		t.Fatal(err)
	}
	emptyWrapper, err := AppendLegacyWrapper(nil, 1, CodecGzip, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	zstd := AppendLegacyMessage(nil, 1, &Message{Attributes: CodecZstd, Value: []byte("x")})
	notGzip := AppendLegacyMessage(nil, 1, &Message{Attributes: CodecGzip, Value: []byte("not gzip")})
	noValue := AppendLegacyMessage(nil, 1, &Message{Attributes: CodecGzip})
	badSize := bytes.Clone(plain)
	binary.BigEndian.PutUint32(badSize[8:], 13)
	keyOverrun := bytes.Clone(plain[:LegacyOverhead+4+1+1+8+4])
	binary.BigEndian.PutUint32(keyOverrun[len(keyOverrun)-4:], 1000)
	binary.BigEndian.PutUint32(keyOverrun[8:], uint32(len(keyOverrun)-LegacyOverhead+4))
	keyOverrun = append(keyOverrun, 0, 0, 0, 0)
	fixCRC(keyOverrun)
	for _, c := range []struct {
		name string
		set  []byte
		max  int
		want error
	}{
		{"empty", nil, 1 << 20, ErrBadRecords},
		{"outer CRC", corrupt(plain, 30), 1 << 20, ErrCRC},
		{"CRC of a later message", corrupt(plain, len(plain)-1), 1 << 20, ErrCRC},
		{"inner CRC", mustWrap(t, corrupt(plain, 30)), 1 << 20, ErrCRC},
		{"cut in the size", plain[:10], 1 << 20, ErrShort},
		{"cut in a message", plain[:40], 1 << 20, ErrShort},
		{"cut in the last message", plain[:len(plain)-1], 1 << 20, ErrShort},
		{"size below the minimum", badSize, 1 << 20, ErrBadLength},
		{"magic 2 batch", v2, 1 << 20, ErrUnknownMagic},
		{"magic 0 then 1", append(legacySet(t, 0, CodecNone, testMessages[0]), plain...), 1 << 20, ErrUnknownMagic},
		{"inner magic differs", mixedInner, 1 << 20, ErrUnknownMagic},
		{"nested compression", nested, 1 << 20, ErrBadHeader},
		{"zstd in magic 1", zstd, 1 << 20, ErrBadHeader},
		{"not gzip", notGzip, 1 << 20, ErrBadRecords},
		{"wrapper without value", noValue, 1 << 20, ErrBadRecords},
		{"wrapper holding nothing", emptyWrapper, 1 << 20, ErrBadRecords},
		{"key overruns the message", keyOverrun, 1 << 20, ErrBadRecords},
		{"decompresses past the bound", gz, len(plain) - 1, ErrBadRecords},
		{"second wrapper past the bound", append(bytes.Clone(gz), gz...), len(plain) + 10, ErrBadRecords},
	} {
		ms, err := DecodeMessageSet(c.set, c.max)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v (%d messages), want %v", c.name, err, len(ms.Messages), c.want)
		}
		if _, err := UpConvert(c.set, 1, c.max); err == nil {
			t.Errorf("%s: UpConvert accepted it", c.name)
		}
	}
	if _, err := DecodeMessageSet(gz, len(plain)); err != nil {
		t.Errorf("a wrapper that decompresses to exactly the bound: %v", err)
	}
}

func mustWrap(t *testing.T, inner []byte) []byte {
	w, err := AppendLegacyWrapper(nil, 1, CodecGzip, 0, 0, inner)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
