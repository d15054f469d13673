package batch

import (
	"fmt"
)

// Old message formats, for clients that fetch with Fetch v0-v3 (a consumer
// pinned to an old api_version). Each record of a stored batch becomes one
// message; all integers are big-endian:
//
//	magic 0:  offset int64 | size int32 | crc uint32 | magic int8 = 0 | attributes int8 |
//	          keyLen int32 | key | valueLen int32 | value
//	magic 1:  offset int64 | size int32 | crc uint32 | magic int8 = 1 | attributes int8 |
//	          timestamp int64 | keyLen int32 | key | valueLen int32 | value
//
// size counts the bytes after it; the CRC is a CRC-32 (IEEE) of everything
// from magic on; a length of -1 is null. Attribute bit 3 (magic 1) marks a
// LogAppendTime timestamp. DownConvert writes uncompressed messages, drops
// control batches (old clients know no transaction markers) and record
// headers (the old formats have none), as Kafka's down-conversion does.

// DownConvert appends to dst the records of the v2 batches in data as
// messages of the given magic (0 or 1).
func DownConvert(dst, data []byte, magic int8) ([]byte, error) {
	if magic != 0 && magic != 1 {
		return nil, fmt.Errorf("%w: cannot convert to magic %d", ErrUnknownMagic, magic)
	}
	for pos := 0; pos < len(data); {
		h, size, err := Check(data[pos:], 0)
		if err != nil {
			return nil, err
		}
		b := data[pos : pos+size]
		pos += size
		if h.IsControl() {
			continue
		}
		recs, err := Records(b, &h)
		if err != nil {
			return nil, err
		}
		logAppend := h.Attributes&AttrLogAppendTime != 0
		for _, r := range recs {
			ts := h.FirstTimestamp + r.TimestampDelta
			if logAppend {
				ts = h.MaxTimestamp
			}
			dst = appendMessage(dst, h.BaseOffset+int64(r.OffsetDelta), magic, logAppend, ts, r.Key, r.Value)
		}
	}
	return dst, nil
}

func appendMessage(dst []byte, offset int64, magic int8, logAppend bool, ts int64, key, value []byte) []byte {
	m := Message{Offset: offset, Timestamp: ts, Key: key, Value: value}
	if magic == 1 && logAppend {
		m.Attributes = AttrLogAppendTime
	}
	return AppendLegacyMessage(dst, magic, &m)
}
