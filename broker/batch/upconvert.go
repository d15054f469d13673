package batch

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

// Up-conversion, for producers pinned to an old api_version (Produce
// v0-v2, such as kafka-python with api_version=(0, 10)): they send message
// sets of magic 0 or 1 (see legacy.go for the message layout), which the
// broker turns into one RecordBatch v2 before appending it.
//
// A compressed message set is a single "wrapper" message whose attributes
// carry the codec (1 gzip, 2 snappy, 3 lz4) and whose value is the
// compressed bytes of an inner message set, itself uncompressed:
//
//	wrapper: offset | size | crc | magic | attributes=codec | [timestamp] | key=null | value=compress(
//	    inner: offset | size | crc | magic | attributes=0 | [timestamp] | key | value
//	    inner: ...
//	)
//
// The codecs are framed as Kafka's Java client writes them: gzip members,
// snappy either raw or in xerial's block framing (a 16-byte header
// 0x82 "SNAPPY" 0x00, version, compatible version, then blocks of
// big-endian length + raw snappy), lz4 as an LZ4 frame. With magic 0 the
// frame's header checksum is the one Kafka 0.8-0.9 wrote: a hash of the
// magic number and the descriptor instead of the descriptor alone; Kafka
// ignores that byte for magic 0, and so does DecodeMessageSet.
//
// Offsets: a producer's offsets mean nothing to the broker, which assigns
// its own. Inside a magic 1 wrapper they are relative (0, 1, 2...) and the
// wrapper's is the last inner one's; clients of old brokers wrote other
// values, which Kafka accepts too. They are kept in Message.Offset but
// never checked.

// Message is one message of a magic 0 or 1 message set.
type Message struct {
	// Offset is the offset field as the producer wrote it: for an inner
	// message of a wrapper, the inner offset.
	Offset int64
	// Attributes are the message's own; the codec bits of the messages
	// DecodeMessageSet returns are 0 (wrappers are unwrapped).
	Attributes int8
	// Timestamp is in milliseconds: -1 (none) for magic 0. An inner
	// message of a magic 1 wrapper marked LogAppendTime has the wrapper's
	// timestamp, as consumers read it.
	Timestamp int64
	// Key and Value are nil when null. They point into the input (or into
	// the decompressed inner set).
	Key, Value []byte
}

// MessageSet is a decoded magic 0 or 1 message set.
type MessageSet struct {
	// Magic is 0 or 1; every message of a set must have the same.
	Magic int8
	// Codec is the codec of the first compressed wrapper, CodecNone when
	// there is none.
	Codec int
	// Messages are the set's messages in order, each compressed wrapper
	// replaced by its inner messages.
	Messages []Message
}

// Sizes of the old message formats.
const (
	// LegacyOverhead is offset + size, the part of a message its size
	// field does not count.
	LegacyOverhead = 12
	// The smallest size field of a message: crc, magic, attributes,
	// [timestamp], key length, value length.
	minMessageSizeV0 = 4 + 1 + 1 + 4 + 4
	minMessageSizeV1 = minMessageSizeV0 + 8
)

// DecodeMessageSet decodes a magic 0 or 1 message set, as a Produce v0-v2
// request carries for one partition, checking the CRC of every message,
// outer and inner, and unwrapping compressed wrappers. The inner sets of
// all wrappers together may decompress to at most maxDecompressed bytes.
// Either the whole set decodes or DecodeMessageSet fails: a set truncated
// inside a message is ErrShort, never a shorter set.
//
// Errors (wrapped with the position and the values seen): ErrShort,
// ErrBadLength (a size below the smallest message), ErrCRC,
// ErrUnknownMagic (not 0 or 1, or mixed in one set), ErrBadHeader (an
// unknown codec, a compressed inner message), ErrBadRecords (key and value
// that do not fill the message, a wrapper that does not decompress or
// holds nothing, more than maxDecompressed bytes, an empty set).
func DecodeMessageSet(set []byte, maxDecompressed int) (MessageSet, error) {
	ms := MessageSet{Magic: -1}
	if len(set) == 0 {
		return MessageSet{}, fmt.Errorf("%w: empty message set", ErrBadRecords)
	}
	budget := maxDecompressed
	for pos := 0; pos < len(set); {
		m, magic, size, err := readMessage(set[pos:])
		if err != nil {
			return MessageSet{}, fmt.Errorf("message at byte %d: %w", pos, err)
		}
		if ms.Magic < 0 {
			ms.Magic = magic
		} else if magic != ms.Magic {
			return MessageSet{}, fmt.Errorf("%w: message at byte %d has magic %d, the first had %d", ErrUnknownMagic, pos, magic, ms.Magic)
		}
		codec := int(m.Attributes & AttrCompressionMask)
		if codec == CodecNone {
			ms.Messages = append(ms.Messages, m)
			pos += size
			continue
		}
		if codec > CodecLz4 {
			return MessageSet{}, fmt.Errorf("%w: compression codec %d in a magic %d message at byte %d", ErrBadHeader, codec, magic, pos)
		}
		if ms.Codec == CodecNone {
			ms.Codec = codec
		}
		if m.Value == nil {
			return MessageSet{}, fmt.Errorf("%w: compressed message at byte %d has no value", ErrBadRecords, pos)
		}
		inner, err := decompressLegacy(codec, magic, m.Value, budget)
		if err != nil {
			return MessageSet{}, fmt.Errorf("compressed message at byte %d: %w", pos, err)
		}
		budget -= len(inner)
		n := 0
		for ipos := 0; ipos < len(inner); n++ {
			im, imagic, isize, err := readMessage(inner[ipos:])
			if err != nil {
				return MessageSet{}, fmt.Errorf("inner message at byte %d of the compressed message at byte %d: %w", ipos, pos, err)
			}
			if imagic != magic {
				return MessageSet{}, fmt.Errorf("%w: inner message at byte %d of the compressed message at byte %d has magic %d, its wrapper %d",
					ErrUnknownMagic, ipos, pos, imagic, magic)
			}
			if c := im.Attributes & AttrCompressionMask; c != CodecNone {
				return MessageSet{}, fmt.Errorf("%w: inner message at byte %d of the compressed message at byte %d is compressed (codec %d)",
					ErrBadHeader, ipos, pos, c)
			}
			if magic == 1 && m.Attributes&AttrLogAppendTime != 0 {
				im.Timestamp = m.Timestamp
			}
			ms.Messages = append(ms.Messages, im)
			ipos += isize
		}
		if n == 0 {
			return MessageSet{}, fmt.Errorf("%w: compressed message at byte %d holds no message", ErrBadRecords, pos)
		}
		pos += size
	}
	return ms, nil
}

// readMessage decodes the message at the start of b, checking its size,
// magic and CRC. It returns the message, its magic and its whole size.
func readMessage(b []byte) (Message, int8, int, error) {
	be := binary.BigEndian
	if len(b) < LegacyOverhead {
		return Message{}, 0, 0, fmt.Errorf("%w: %d bytes before the size field ends", ErrShort, len(b))
	}
	m := Message{Offset: int64(be.Uint64(b)), Timestamp: -1}
	size := int32(be.Uint32(b[8:]))
	if size < minMessageSizeV0 {
		return Message{}, 0, 0, fmt.Errorf("%w: message size %d < %d", ErrBadLength, size, minMessageSizeV0)
	}
	if int64(size) > int64(len(b)-LegacyOverhead) {
		return Message{}, 0, 0, fmt.Errorf("%w: message of %d bytes, %d present", ErrShort, size, len(b)-LegacyOverhead)
	}
	body := b[LegacyOverhead : LegacyOverhead+int(size)]
	magic := int8(body[4])
	if magic != 0 && magic != 1 {
		return Message{}, 0, 0, fmt.Errorf("%w: magic %d, want 0 or 1", ErrUnknownMagic, magic)
	}
	if magic == 1 && size < minMessageSizeV1 {
		return Message{}, 0, 0, fmt.Errorf("%w: magic 1 message size %d < %d", ErrBadLength, size, minMessageSizeV1)
	}
	if stored, got := be.Uint32(body), crc32.ChecksumIEEE(body[4:]); stored != got {
		return Message{}, 0, 0, fmt.Errorf("%w: stored %08x, computed %08x", ErrCRC, stored, got)
	}
	m.Attributes = int8(body[5])
	rest := body[6:]
	if magic == 1 {
		m.Timestamp = int64(be.Uint64(rest))
		rest = rest[8:]
	}
	var ok bool
	if m.Key, rest, ok = readBytes32(rest); ok {
		m.Value, rest, ok = readBytes32(rest)
	}
	if !ok || len(rest) != 0 {
		return Message{}, 0, 0, fmt.Errorf("%w: key and value do not fill the message of %d bytes", ErrBadRecords, size)
	}
	return m, magic, LegacyOverhead + int(size), nil
}

// readBytes32 reads an int32 length and that many bytes (-1: nil).
func readBytes32(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, b, false
	}
	n := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	switch {
	case n == -1:
		return nil, b, true
	case n < 0 || int64(n) > int64(len(b)):
		return nil, b, false
	}
	return b[:n:n], b[n:], true
}

// Batch converts the set to one RecordBatch v2 with offsets 0..n-1 (the log
// assigns the real ones), compressed with the set's codec, without
// producer id. now is the broker's clock in milliseconds.
//
// Timestamps: magic 1 messages keep theirs (CreateTime), except that a
// message without one (-1) is given now. Magic 0 messages have none; the
// batch is stamped with now and marked LogAppendTime, so that retention.ms
// counts from their arrival. (Kafka stores -1 and lets retention fall back
// on the segment file's modification time; runnel's retention goes by the
// records' timestamps, where -1 would expire them at the next check.)
func (ms *MessageSet) Batch(now int64) ([]byte, error) {
	n := len(ms.Messages)
	if n == 0 || n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d messages", ErrBadRecords, n)
	}
	ts := func(m *Message) int64 {
		if ms.Magic == 0 || m.Timestamp == -1 {
			return now
		}
		return m.Timestamp
	}
	h := Header{
		Attributes:      int16(ms.Codec & AttrCompressionMask),
		LastOffsetDelta: int32(n - 1),
		RecordCount:     int32(n),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		BaseSequence:    -1,
	}
	if ms.Magic == 0 {
		h.Attributes |= AttrLogAppendTime
	}
	h.FirstTimestamp = ts(&ms.Messages[0])
	h.MaxTimestamp = h.FirstTimestamp
	var recs []byte
	for i := range ms.Messages {
		m := &ms.Messages[i]
		t := ts(m)
		h.MaxTimestamp = max(h.MaxTimestamp, t)
		recs = AppendRecord(recs, &Record{TimestampDelta: t - h.FirstTimestamp, OffsetDelta: int32(i), Key: m.Key, Value: m.Value})
	}
	return Assemble(h, recs)
}

// UpConvert decodes a magic 0 or 1 message set (DecodeMessageSet) and
// converts it to one RecordBatch v2 (MessageSet.Batch).
func UpConvert(set []byte, now int64, maxDecompressed int) ([]byte, error) {
	ms, err := DecodeMessageSet(set, maxDecompressed)
	if err != nil {
		return nil, err
	}
	return ms.Batch(now)
}

// AppendLegacyMessage appends m as one uncompressed message of the given
// magic (0 or 1; a magic 0 message has no timestamp) to dst, computing its
// size and CRC. Producers of tests use it, and DownConvert.
func AppendLegacyMessage(dst []byte, magic int8, m *Message) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(m.Offset))
	sizeAt := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // size, crc
	crcFrom := len(dst)
	dst = append(dst, byte(magic), byte(m.Attributes))
	if magic == 1 {
		dst = be.AppendUint64(dst, uint64(m.Timestamp))
	}
	for _, b := range [][]byte{m.Key, m.Value} {
		if b == nil {
			dst = be.AppendUint32(dst, math.MaxUint32)
			continue
		}
		dst = be.AppendUint32(dst, uint32(len(b)))
		dst = append(dst, b...)
	}
	be.PutUint32(dst[sizeAt:], uint32(len(dst)-sizeAt-4))
	be.PutUint32(dst[sizeAt+4:], crc32.ChecksumIEEE(dst[crcFrom:]))
	return dst
}

// AppendLegacyWrapper appends to dst a wrapper message of the given magic
// holding the message set inner compressed with codec (gzip, snappy in
// xerial framing, or lz4; for magic 0 with the header checksum Kafka 0.8
// wrote), as old producers send compressed sets.
func AppendLegacyWrapper(dst []byte, magic int8, codec int, offset, timestamp int64, inner []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch codec {
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(inner); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CodecSnappy:
		buf.Write(xerialHeader)
		for rest := inner; len(rest) > 0; {
			n := min(len(rest), xerialBlockSize)
			block := snappy.Encode(nil, rest[:n])
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(block))))
			buf.Write(block)
			rest = rest[n:]
		}
	case CodecLz4:
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			return nil, err
		}
		if _, err := w.Write(inner); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if magic == 0 {
			// Kafka 0.8's header checksum: over the magic number too.
			if n := lz4DescriptorLen(buf.Bytes()); n > 0 {
				buf.Bytes()[4+n] = byte(xxh32(buf.Bytes()[:4+n]) >> 8)
			}
		}
	default:
		return nil, fmt.Errorf("%w: compression codec %d for magic %d", ErrBadHeader, codec, magic)
	}
	return AppendLegacyMessage(dst, magic, &Message{Offset: offset, Attributes: int8(codec), Timestamp: timestamp,
		Value: buf.Bytes()}), nil
}

const xerialBlockSize = 32 << 10

// xerialHeader starts a snappy stream of xerial's SnappyOutputStream (which
// Kafka's Java client used): a marker, "SNAPPY", a NUL, then version 1 and
// compatible version 1.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}

// decompressLegacy decompresses a wrapper's value, to at most max bytes.
func decompressLegacy(codec int, magic int8, src []byte, max int) ([]byte, error) {
	var r io.Reader
	switch codec {
	case CodecGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrBadRecords, err)
		}
		r = zr
	case CodecSnappy:
		return unsnappy(src, max)
	case CodecLz4:
		if magic == 0 {
			src = fixLZ4HeaderChecksum(src)
		}
		r = lz4.NewReader(bytes.NewReader(src))
	default:
		return nil, fmt.Errorf("%w: compression codec %d", ErrBadHeader, codec)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: codec %d: %w", ErrBadRecords, codec, err)
	}
	if len(out) > max {
		return nil, fmt.Errorf("%w: decompresses to more than %d bytes", ErrBadRecords, max)
	}
	return out, nil
}

// unsnappy decodes raw snappy or xerial-framed snappy blocks.
func unsnappy(src []byte, max int) ([]byte, error) {
	var blocks [][]byte
	if len(src) >= len(xerialHeader) && bytes.HasPrefix(src, xerialHeader[:8]) {
		for rest := src[len(xerialHeader):]; len(rest) > 0; {
			if len(rest) < 4 {
				return nil, fmt.Errorf("%w: snappy: xerial block length cut short", ErrBadRecords)
			}
			n := binary.BigEndian.Uint32(rest)
			rest = rest[4:]
			if int64(n) > int64(len(rest)) {
				return nil, fmt.Errorf("%w: snappy: xerial block of %d bytes, %d present", ErrBadRecords, n, len(rest))
			}
			blocks, rest = append(blocks, rest[:n]), rest[n:]
		}
	} else {
		blocks = [][]byte{src}
	}
	var out []byte
	for _, b := range blocks {
		n, err := snappy.DecodedLen(b)
		if err != nil {
			return nil, fmt.Errorf("%w: snappy: %w", ErrBadRecords, err)
		}
		if n > max-len(out) {
			return nil, fmt.Errorf("%w: decompresses to more than %d bytes", ErrBadRecords, max)
		}
		at := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := snappy.Decode(out[at:], b); err != nil {
			return nil, fmt.Errorf("%w: snappy: %w", ErrBadRecords, err)
		}
	}
	return out, nil
}

// lz4DescriptorLen is the length of an LZ4 frame descriptor's fields
// before its header checksum (FLG, BD, optional content size and
// dictionary id), or 0 when b is not the start of an LZ4 frame.
func lz4DescriptorLen(b []byte) int {
	if len(b) < 7 || binary.LittleEndian.Uint32(b) != 0x184D2204 {
		return 0
	}
	n := 2
	if b[4]&0x08 != 0 {
		n += 8
	}
	if b[4]&0x01 != 0 {
		n += 4
	}
	if len(b) < 4+n+1 {
		return 0
	}
	return n
}

// fixLZ4HeaderChecksum returns the LZ4 frame b with the header checksum
// that the frame format specifies, whatever b holds there, as Kafka reads
// magic 0 sets (Kafka 0.8-0.9 wrote a wrong one).
func fixLZ4HeaderChecksum(b []byte) []byte {
	n := lz4DescriptorLen(b)
	if n == 0 {
		return b
	}
	b = bytes.Clone(b)
	b[4+n] = byte(xxh32(b[4:4+n]) >> 8)
	return b
}
