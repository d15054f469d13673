package batch

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds are batches from the builder, one per codec, plus variants.
func fuzzSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for codec := CodecNone; codec <= CodecZstd; codec++ {
		b := NewBuilder(codec).
			Add([]byte("k1"), []byte("value one"), 1000).
			Add(nil, []byte("no key"), 999, RecordHeader{Key: "h", Value: []byte("hv")}, RecordHeader{Key: "null"}).
			Add([]byte("tombstone"), nil, 1500)
		one, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		idem, err := NewBuilder(codec).SetProducer(7, 1, 42).SetTransactional(true).Add([]byte("k"), []byte("v"), 5).Build()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, one, idem, append(bytes.Clone(one), idem...))
	}
	return out
}

// FuzzCheck feeds arbitrary bytes to Check and the record decoders. None
// may panic, and when Check accepts a batch: its size fits the input, Check
// accepts exactly that prefix again with the same header, rejects every
// shorter prefix as ErrShort and a smaller maxSize as ErrBadLength, and the
// records decode to exactly the records section.
func FuzzCheck(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		// The fuzzer cannot easily produce a valid CRC: also check the
		// input with its CRC fixed, and wrapped as the compressed payload
		// of a valid batch of each codec.
		inputs := [][]byte{in}
		if _, err := Frame(in, 0); err == nil && len(in) >= HeaderSize {
			fixed := bytes.Clone(in)
			size, _ := Frame(fixed, 0)
			if size <= len(fixed) {
				fixed[offMagic] = Magic
				UpdateCRC(fixed[:size])
				inputs = append(inputs, fixed)
			}
		}
		for codec := CodecNone; codec <= CodecZstd; codec++ {
			n := int32(1 + len(in)%5)
			b, err := Assemble(Header{LastOffsetDelta: n - 1, RecordCount: n}, in)
			if err != nil {
				t.Fatal(err)
			}
			// Mark the (uncompressed) payload as compressed with codec.
			b[offAttributes+1] |= byte(codec)
			UpdateCRC(b)
			inputs = append(inputs, b)
		}
		for _, b := range inputs {
			checkOne(t, b)
		}
		// The decoder alone, on the raw bytes, for a few record counts.
		for _, n := range []int{-1, 0, 1, 2, 7, len(in)} {
			recs, err := DecodeRecords(in, n)
			if err == nil && len(recs) != n {
				t.Fatalf("DecodeRecords(%d) returned %d records", n, len(recs))
			}
			if err != nil && !errors.Is(err, ErrBadRecords) {
				t.Fatalf("DecodeRecords: %v, want ErrBadRecords", err)
			}
		}
		ParseHeader(in)
	})
}

func checkOne(t *testing.T, b []byte) {
	h, size, err := Check(b, 0)
	if err != nil {
		for _, sentinel := range []error{ErrShort, ErrBadLength, ErrUnknownMagic, ErrCRC, ErrBadHeader} {
			if errors.Is(err, sentinel) {
				return
			}
		}
		t.Fatalf("Check: %v matches no sentinel", err)
	}
	if size > len(b) || size < HeaderSize || size != h.Size() {
		t.Fatalf("Check accepted a batch of %d bytes (header says %d) in %d", size, h.Size(), len(b))
	}
	h2, size2, err := Check(b[:size], 0)
	if err != nil || h2 != h || size2 != size {
		t.Fatalf("Check of the accepted prefix: %+v, %d, %v; first %+v, %d", h2, size2, err, h, size)
	}
	if _, _, err := Check(b, size-1); !errors.Is(err, ErrBadLength) {
		t.Fatalf("Check with maxSize %d for a batch of %d: %v, want ErrBadLength", size-1, size, err)
	}
	for _, k := range []int{0, LogOverhead - 1, LogOverhead, HeaderSize - 1, HeaderSize, size / 2, size - 1} {
		if k >= size || k < 0 {
			continue
		}
		if _, _, err := Check(b[:k], 0); !errors.Is(err, ErrShort) {
			t.Fatalf("Check of %d bytes of a %d-byte batch: %v, want ErrShort", k, size, err)
		}
	}
	ph, err := ParseHeader(b)
	if err != nil || ph != h {
		t.Fatalf("ParseHeader %+v, %v; Check %+v", ph, err, h)
	}

	recs, err := Records(b, &h)
	if err != nil {
		if !errors.Is(err, ErrBadRecords) && !errors.Is(err, ErrShort) {
			t.Fatalf("Records: %v, want ErrBadRecords", err)
		}
		return
	}
	if len(recs) != int(h.RecordCount) {
		t.Fatalf("%d records decoded, header says %d", len(recs), h.RecordCount)
	}
	sec, err := RecordsSection(b, &h)
	if err != nil {
		t.Fatalf("RecordsSection failed after Records succeeded: %v", err)
	}
	var raw []byte
	for _, r := range recs {
		raw = append(raw, r.Raw...)
	}
	if !bytes.Equal(raw, sec) {
		t.Fatal("the records' Raw bytes do not make up the records section")
	}
	// Re-encoding each record gives its bytes back when they were
	// encoded minimally (as the builder does); at least it must decode
	// to the same record.
	for i := range recs {
		enc := AppendRecord(nil, &recs[i])
		again, err := DecodeRecords(enc, 1)
		if err != nil {
			t.Fatalf("record %d re-encoded does not decode: %v", i, err)
		}
		if !sameRecord(&again[0], &recs[i]) {
			t.Fatalf("record %d re-encoded decodes to %+v, was %+v", i, again[0], recs[i])
		}
	}
	if h.Codec() == CodecNone {
		// Assemble the header and section again: the same bytes.
		out, err := Assemble(h, sec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b[:size]) {
			t.Fatalf("Assemble(Check(b)) differs from b")
		}
	}
}

func sameRecord(a, b *Record) bool {
	if a.Attributes != b.Attributes || a.TimestampDelta != b.TimestampDelta || a.OffsetDelta != b.OffsetDelta ||
		!sameBytes(a.Key, b.Key) || !sameBytes(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !sameBytes(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

// sameBytes compares two nullable byte strings: nil and empty differ.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
