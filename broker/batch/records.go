package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one decoded record of a batch. Key and Value are nil when null
// (a nil Value is a tombstone). Slices point into the batch (or into its
// decompressed records) and are valid as long as that buffer is.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
	// Raw is the whole encoded record, length prefix included, so that a
	// record can be copied into another batch without re-encoding.
	Raw []byte
}

// RecordHeader is a record header; Value is nil when null.
type RecordHeader struct {
	Key   string
	Value []byte
}

var decompressor = kgo.DefaultDecompressor()

// RecordsSection returns the records bytes of a checked batch, decompressed
// when the batch is compressed. The result aliases b when not compressed.
func RecordsSection(b []byte, h *Header) ([]byte, error) {
	if len(b) < h.Size() {
		return nil, fmt.Errorf("%w: %d of %d bytes", ErrShort, len(b), h.Size())
	}
	raw := b[HeaderSize:h.Size()]
	if h.Codec() == CodecNone {
		return raw, nil
	}
	out, err := decompressor.Decompress(raw, kgo.CompressionCodecType(h.Codec()))
	if err != nil {
		return nil, fmt.Errorf("%w: decompress codec %d: %w", ErrBadRecords, h.Codec(), err)
	}
	return out, nil
}

// Records decodes every record of the checked batch b. Control batches decode
// like any other (their key and value carry the marker).
func Records(b []byte, h *Header) ([]Record, error) {
	sec, err := RecordsSection(b, h)
	if err != nil {
		return nil, err
	}
	return DecodeRecords(sec, int(h.RecordCount))
}

// DecodeRecords decodes n records from the (uncompressed) records section.
// It never panics on malformed input and reports where decoding failed.
func DecodeRecords(sec []byte, n int) ([]Record, error) {
	if n < 0 || n > len(sec) {
		// Every record takes at least 7 bytes; this bounds the allocation.
		return nil, fmt.Errorf("%w: %d records claimed in %d bytes", ErrBadRecords, n, len(sec))
	}
	recs := make([]Record, 0, n)
	rd := kbin.Reader{Src: sec}
	for i := 0; i < n; i++ {
		start := rd.Src
		l := rd.Varint()
		body := rd.Span(int(l))
		if !rd.Ok() {
			return nil, fmt.Errorf("%w: record %d: length %d overruns the batch", ErrBadRecords, i, l)
		}
		r := Record{Raw: start[:len(start)-len(rd.Src)]}
		br := kbin.Reader{Src: body}
		r.Attributes = br.Int8()
		r.TimestampDelta = br.Varlong()
		r.OffsetDelta = br.Varint()
		r.Key = br.VarintBytes()
		r.Value = br.VarintBytes()
		nh := br.Varint()
		if nh < 0 || int(nh) > len(br.Src) {
			return nil, fmt.Errorf("%w: record %d: %d headers", ErrBadRecords, i, nh)
		}
		if nh > 0 {
			r.Headers = make([]RecordHeader, nh)
			for j := range r.Headers {
				r.Headers[j].Key = br.VarintString()
				r.Headers[j].Value = br.VarintBytes()
			}
		}
		if err := br.Complete(); err != nil || len(br.Src) != 0 {
			return nil, fmt.Errorf("%w: record %d does not decode to its length %d", ErrBadRecords, i, l)
		}
		recs = append(recs, r)
	}
	if len(rd.Src) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after %d records", ErrBadRecords, len(rd.Src), n)
	}
	return recs, nil
}

// AppendRecord appends the encoding of one record to dst.
func AppendRecord(dst []byte, r *Record) []byte {
	var body []byte
	body = append(body, byte(r.Attributes))
	body = kbin.AppendVarlong(body, r.TimestampDelta)
	body = kbin.AppendVarint(body, r.OffsetDelta)
	body = appendVarintBytes(body, r.Key)
	body = appendVarintBytes(body, r.Value)
	body = kbin.AppendVarint(body, int32(len(r.Headers)))
	for _, h := range r.Headers {
		body = kbin.AppendVarintString(body, h.Key)
		body = appendVarintBytes(body, h.Value)
	}
	dst = kbin.AppendVarint(dst, int32(len(body)))
	return append(dst, body...)
}

func appendVarintBytes(dst, b []byte) []byte {
	if b == nil {
		return kbin.AppendVarint(dst, -1)
	}
	return kbin.AppendVarintBytes(dst, b)
}

var compressors sync.Map // codec int -> kgo.Compressor

func compress(codec int, src []byte) ([]byte, error) {
	c, ok := compressors.Load(codec)
	if !ok {
		var cc kgo.CompressionCodec
		switch codec {
		case CodecGzip:
			cc = kgo.GzipCompression()
		case CodecSnappy:
			cc = kgo.SnappyCompression()
		case CodecLz4:
			cc = kgo.Lz4Compression()
		case CodecZstd:
			cc = kgo.ZstdCompression()
		default:
			return nil, fmt.Errorf("%w: compression codec %d", ErrBadHeader, codec)
		}
		comp, err := kgo.DefaultCompressor(cc)
		if err != nil {
			return nil, err
		}
		c, _ = compressors.LoadOrStore(codec, comp)
	}
	out, used := c.(kgo.Compressor).Compress(new(bytes.Buffer), src)
	if int(used) != codec {
		return nil, fmt.Errorf("broker/batch: compressor used codec %d, want %d", used, codec)
	}
	return append([]byte(nil), out...), nil
}

// Assemble builds a batch from a header template and an uncompressed
// records section holding h.RecordCount records. The records are compressed
// with h's codec; the length and CRC are computed. The other header fields
// are written as given.
func Assemble(h Header, records []byte) ([]byte, error) {
	payload := records
	if h.Codec() != CodecNone {
		var err error
		if payload, err = compress(h.Codec(), records); err != nil {
			return nil, err
		}
	}
	b := make([]byte, HeaderSize, HeaderSize+len(payload))
	b = append(b, payload...)
	h.Length = int32(len(b) - LogOverhead)
	h.Magic = Magic
	putHeader(b, &h)
	UpdateCRC(b)
	return b, nil
}

func putHeader(b []byte, h *Header) {
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], uint64(h.BaseOffset))
	be.PutUint32(b[offLength:], uint32(h.Length))
	be.PutUint32(b[offLeaderEpoch:], uint32(h.PartitionLeaderEpoch))
	b[offMagic] = byte(h.Magic)
	be.PutUint16(b[offAttributes:], uint16(h.Attributes))
	be.PutUint32(b[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
	be.PutUint64(b[offFirstTimestamp:], uint64(h.FirstTimestamp))
	be.PutUint64(b[offMaxTimestamp:], uint64(h.MaxTimestamp))
	be.PutUint64(b[offProducerID:], uint64(h.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(h.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(h.BaseSequence))
	be.PutUint32(b[offRecordCount:], uint32(h.RecordCount))
}
