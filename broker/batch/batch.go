// Package batch reads, checks and writes Kafka RecordBatch v2 (magic 2), the
// unit that runnel's broker stores on disk byte for byte as producers sent it.
//
// A batch is a fixed 61-byte header followed by the records. All integers in
// the header are big-endian:
//
//	 0                   8          12                16     17            21           23
//	+-------------------+----------+-----------------+------+-------------+------------+
//	| baseOffset int64  | length   | partitionLeader | magic| crc uint32  | attributes |
//	|                   | int32    | Epoch int32     | =2   | (CRC-32C)   | int16      |
//	+-------------------+----------+-----------------+------+-------------+------------+
//	 23                27                    35                  43                51
//	+-----------------+---------------------+-------------------+-----------------+
//	| lastOffsetDelta | firstTimestamp      | maxTimestamp      | producerId      |
//	| int32           | int64 (ms)          | int64 (ms)        | int64           |
//	+-----------------+---------------------+-------------------+-----------------+
//	 51              53                 57             61
//	+---------------+------------------+--------------+------------------------------+
//	| producerEpoch | baseSequence     | recordCount  | records (compressed as a     |
//	| int16         | int32            | int32        | whole when attributes say so)|
//	+---------------+------------------+--------------+------------------------------+
//
// length counts the bytes after the length field (total size - 12). The CRC is
// a CRC-32C (Castagnoli) of everything from attributes to the end of the batch,
// so baseOffset and partitionLeaderEpoch can be rewritten without recomputing
// it; that is how the log assigns offsets to a stored batch.
//
// attributes: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4,
// 4 zstd), bit 3 timestamp type (1 = LogAppendTime), bit 4 transactional,
// bit 5 control batch, bit 6 delete horizon set.
//
// Each record inside is varint-encoded:
//
//	length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
//	keyLen varint | key | valueLen varint | value | headerCount varint |
//	[ headerKeyLen varint | headerKey | headerValueLen varint | headerValue ]...
//
// A key or value length of -1 is null; a null value is a tombstone.
//
// The message sets of the older formats (magic 0 and 1), which clients
// pinned to an old protocol version send and fetch, are converted from and
// to batches: DownConvert (legacy.go) for Fetch v0-v3, DecodeMessageSet
// and UpConvert (upconvert.go) for Produce v0-v2.
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Sizes and offsets of the fixed header fields.
const (
	// HeaderSize is the size of the fixed batch header, records excluded.
	HeaderSize = 61
	// LogOverhead is the size of baseOffset + length, the part of a batch
	// that the length field does not count.
	LogOverhead = 12
	// MinBatchLength is the smallest legal value of the length field.
	MinBatchLength = HeaderSize - LogOverhead

	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// Magic is the only record format version runnel stores.
	Magic = 2
)

// Attribute bits.
const (
	AttrCompressionMask  = 0x07
	AttrLogAppendTime    = 0x08
	AttrTransactional    = 0x10
	AttrControl          = 0x20
	AttrHasDeleteHorizon = 0x40
)

// Compression codecs as stored in the low three attribute bits.
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLz4    = 3
	CodecZstd   = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by Check and Parse. Each is wrapped with the detail (the
// position and the values seen), so match with errors.Is.
var (
	// ErrShort means fewer bytes are present than the header or the
	// length field promise: a torn write at the end of a file.
	ErrShort = errors.New("broker/batch: truncated batch")
	// ErrBadLength means the length field is impossible (smaller than
	// a header, or larger than the caller's limit).
	ErrBadLength = errors.New("broker/batch: invalid batch length")
	// ErrUnknownMagic means the magic byte is not 2.
	ErrUnknownMagic = errors.New("broker/batch: unknown magic")
	// ErrCRC means the stored CRC-32C does not match the batch bytes.
	ErrCRC = errors.New("broker/batch: CRC mismatch")
	// ErrBadHeader means a header field is out of range (negative
	// lastOffsetDelta or record count, unknown codec).
	ErrBadHeader = errors.New("broker/batch: invalid header field")
	// ErrBadRecords means the records section does not decode.
	ErrBadRecords = errors.New("broker/batch: invalid records")
)

// Header is the decoded fixed part of a batch.
type Header struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the total size of the batch in bytes, header included.
func (h *Header) Size() int { return int(h.Length) + LogOverhead }

// LastOffset is the offset of the last record the batch covers.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the compression codec (CodecNone..CodecZstd).
func (h *Header) Codec() int { return int(h.Attributes & AttrCompressionMask) }

// IsControl reports whether this is a transaction marker batch.
func (h *Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// ParseHeader decodes the fixed header at the start of b. It checks only that
// enough bytes for the header are present; use Check to validate a batch.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d header bytes of %d", ErrShort, len(b), HeaderSize)
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		RecordCount:          int32(be.Uint32(b[offRecordCount:])),
	}, nil
}

// Frame reads the length field at the start of b and returns the size of the
// whole batch. It returns ErrShort when b holds fewer than LogOverhead bytes
// and ErrBadLength when the length is below a header or above maxSize.
func Frame(b []byte, maxSize int) (int, error) {
	if len(b) < LogOverhead {
		return 0, fmt.Errorf("%w: %d bytes before the length field ends", ErrShort, len(b))
	}
	l := int32(binary.BigEndian.Uint32(b[offLength:]))
	if l < MinBatchLength {
		return 0, fmt.Errorf("%w: length %d < %d", ErrBadLength, l, MinBatchLength)
	}
	size := int(l) + LogOverhead
	if maxSize > 0 && size > maxSize {
		return 0, fmt.Errorf("%w: batch of %d bytes exceeds the limit of %d", ErrBadLength, size, maxSize)
	}
	return size, nil
}

// Check validates the batch at the start of b: length, magic, header fields
// and CRC. It returns the header and the batch's size. maxSize (when > 0)
// bounds the batch size. Check never reads past b and never panics.
func Check(b []byte, maxSize int) (Header, int, error) {
	size, err := Frame(b, maxSize)
	if err != nil {
		return Header{}, 0, err
	}
	if len(b) < HeaderSize {
		return Header{}, 0, fmt.Errorf("%w: %d header bytes of %d", ErrShort, len(b), HeaderSize)
	}
	if m := int8(b[offMagic]); m != Magic {
		return Header{}, 0, fmt.Errorf("%w: magic %d, want %d", ErrUnknownMagic, m, Magic)
	}
	if len(b) < size {
		return Header{}, 0, fmt.Errorf("%w: %d of %d bytes", ErrShort, len(b), size)
	}
	h, _ := ParseHeader(b)
	if h.LastOffsetDelta < 0 || h.RecordCount < 0 {
		return Header{}, 0, fmt.Errorf("%w: lastOffsetDelta %d, recordCount %d", ErrBadHeader, h.LastOffsetDelta, h.RecordCount)
	}
	if h.Codec() > CodecZstd {
		return Header{}, 0, fmt.Errorf("%w: compression codec %d", ErrBadHeader, h.Codec())
	}
	if got := crc32.Checksum(b[offAttributes:size], castagnoli); got != h.CRC {
		return Header{}, 0, fmt.Errorf("%w: stored %08x, computed %08x", ErrCRC, h.CRC, got)
	}
	return h, size, nil
}

// SetBaseOffset rewrites the base offset of the batch at the start of b. The
// CRC does not cover it, so the batch stays valid.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch rewrites the leader epoch (not covered by the CRC).
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime, sets its max timestamp
// to ts and recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime.
func SetLogAppendTime(b []byte, size int, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | AttrLogAppendTime
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	UpdateCRC(b[:size])
}

// UpdateCRC recomputes and stores the CRC of the whole batch b.
func UpdateCRC(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
