package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
)

// legacyMessages are what the old-version producers of these tests send:
// keyed, unkeyed and a tombstone, with CreateTimes (ignored by magic 0).
func legacyMessages(prefix string, ts int64) []batch.Message {
	return []batch.Message{
		{Key: []byte(prefix + "-k0"), Value: []byte(prefix + "-v0"), Timestamp: ts},
		{Value: []byte(prefix + "-v1"), Timestamp: ts + 1},
		{Key: []byte(prefix + "-k2"), Timestamp: ts + 2},
	}
}

// legacySet encodes msgs as a magic 0/1 message set, in one wrapper when
// codec is not none (inner offsets relative, the wrapper's the last).
func legacySet(t *testing.T, magic int8, codec int, msgs []batch.Message) []byte {
	t.Helper()
	var set []byte
	for i := range msgs {
		m := msgs[i]
		m.Offset = int64(i)
		set = batch.AppendLegacyMessage(set, magic, &m)
	}
	if codec == batch.CodecNone {
		return set
	}
	w, err := batch.AppendLegacyWrapper(nil, magic, codec, int64(len(msgs)-1), 0, set)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readPartition reads the first n records of a partition with franz-go
// (Fetch v12: the stored v2 batches).
func readPartition(t *testing.T, ctx context.Context, b *Broker, topic string, p int32, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read %s[%d]: %v (have %d of %d)", topic, p, err, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	cl.Close()
	return out
}

func produceReq(version int16, acks int16, topic string, sets ...[]byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks, req.TimeoutMillis = acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p, set := range sets {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = int32(p), set
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// Produce v0-v2 with magic 0 and 1 message sets, plain and compressed with
// each codec: the records are stored as v2 batches with their keys, values
// and timestamps (magic 0: the broker's time, as LogAppendTime), read back
// alike by a v2 consumer and by Fetch v0/v2 down-conversion.
func TestProduceOldVersions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dialRaw(t, b)
	ctx := ctxT(t)
	const ts = 1_700_000_000_000
	for _, v := range []int16{0, 1, 2} {
		magics := []int8{0}
		if v == 2 {
			magics = []int8{0, 1}
		}
		for _, magic := range magics {
			for codec := batch.CodecNone; codec <= batch.CodecLz4; codec++ {
				topic := fmt.Sprintf("old-v%d-magic%d-codec%d", v, magic, codec)
				msgs := legacyMessages(topic, ts)
				before := time.Now().UnixMilli()
				// Twice: the second append gets offsets 3..5.
				for round := range 2 {
					resp := c.do(produceReq(v, -1, topic, legacySet(t, magic, codec, msgs))).(*kmsg.ProduceResponse)
					p := resp.Topics[0].Partitions[0]
					if p.ErrorCode != 0 || p.BaseOffset != int64(3*round) {
						t.Fatalf("%s round %d: error %d, base offset %d", topic, round, p.ErrorCode, p.BaseOffset)
					}
					switch {
					case v < 2:
						if p.LogAppendTime != -1 { // not on the wire: kmsg's default
							t.Errorf("%s: v%d response has LogAppendTime %d", topic, v, p.LogAppendTime)
						}
					case magic == 0:
						if p.LogAppendTime < before || p.LogAppendTime > time.Now().UnixMilli() {
							t.Errorf("%s: LogAppendTime %d, produced at %d", topic, p.LogAppendTime, before)
						}
					case p.LogAppendTime != -1:
						t.Errorf("%s: LogAppendTime %d on a CreateTime topic", topic, p.LogAppendTime)
					}
				}
				after := time.Now().UnixMilli()

				fs := readPartition(t, ctx, b, topic, 0, 6)
				if len(fs) != 6 {
					t.Fatalf("%s: read back %d records, want 6", topic, len(fs))
				}
				for i, r := range fs {
					m := msgs[i%3]
					if r.Offset != int64(i) || !bytes.Equal(r.Key, m.Key) || (r.Key == nil) != (m.Key == nil) ||
						!bytes.Equal(r.Value, m.Value) || (r.Value == nil) != (m.Value == nil) {
						t.Errorf("%s: record %d: offset %d key %q value %q, want %q %q", topic, i, r.Offset, r.Key, r.Value, m.Key, m.Value)
					}
					got := r.Timestamp.UnixMilli()
					if magic == 1 {
						if got != m.Timestamp || r.Attrs.TimestampType() != 0 {
							t.Errorf("%s: record %d: timestamp %d (type %d), want CreateTime %d", topic, i, got, r.Attrs.TimestampType(), m.Timestamp)
						}
					} else if got < before || got > after || r.Attrs.TimestampType() != 1 {
						t.Errorf("%s: record %d: timestamp %d (type %d), want LogAppendTime in [%d, %d]", topic, i, got, r.Attrs.TimestampType(), before, after)
					}
					if r.Attrs.CompressionType() != uint8(codec) {
						t.Errorf("%s: stored with codec %d", topic, r.Attrs.CompressionType())
					}
				}
				// Down again, as the old consumers fetch them.
				for _, fv := range []int16{0, 2} {
					fetch := kmsg.NewPtrFetchRequest()
					fetch.SetVersion(fv)
					fetch.MaxWaitMillis, fetch.MinBytes = 0, 1
					ft := kmsg.NewFetchRequestTopic()
					ft.Topic = topic
					fp := kmsg.NewFetchRequestTopicPartition()
					fp.PartitionMaxBytes = 1 << 20
					ft.Partitions = append(ft.Partitions, fp)
					fetch.Topics = append(fetch.Topics, ft)
					fr := c.do(fetch).(*kmsg.FetchResponse)
					ms, err := batch.DecodeMessageSet(fr.Topics[0].Partitions[0].RecordBatches, 1<<20)
					if err != nil || len(ms.Messages) != 6 {
						t.Fatalf("%s: Fetch v%d: %v, %d messages", topic, fv, err, len(ms.Messages))
					}
					for i, m := range ms.Messages {
						if w := msgs[i%3]; m.Offset != int64(i) || !bytes.Equal(m.Key, w.Key) || !bytes.Equal(m.Value, w.Value) {
							t.Errorf("%s: Fetch v%d message %d: %+v", topic, fv, i, m)
						}
					}
				}
			}
		}
	}
}

// A message set that does not decode is answered CORRUPT_MESSAGE for its
// partition, and nothing of it is appended; the other partitions of the
// request are appended. acks=0 gets no answer, as with v3+.
func TestProduceOldVersionsRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dialRaw(t, b)
	const topic = "old-refused"
	if _, err := b.store.CreateTopic(topic, 2, nil); err != nil {
		t.Fatal(err)
	}
	good := legacySet(t, 1, batch.CodecGzip, legacyMessages("g", 1))
	badCRC := legacySet(t, 1, batch.CodecNone, legacyMessages("b", 1))
	badCRC[len(badCRC)-1] ^= 1
	badInnerCRC := bytes.Clone(legacySet(t, 1, batch.CodecNone, legacyMessages("i", 1)))
	badInnerCRC[len(badInnerCRC)-1] ^= 1
	badInner, err := batch.AppendLegacyWrapper(nil, 1, batch.CodecSnappy, 2, 0, badInnerCRC)
	if err != nil {
		t.Fatal(err)
	}
	plain := legacySet(t, 0, batch.CodecNone, legacyMessages("t", 1))
	v2, err := batch.NewBuilder(batch.CodecNone).Add(nil, []byte("v2 in v2"), 1).Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []struct {
		name string
		set  []byte
	}{
		{"bad CRC", badCRC},
		{"bad inner CRC", badInner},
		{"cut in the last message", plain[:len(plain)-3]},
		{"plain messages then a cut", plain[:len(plain)/2+30]},
		{"a v2 batch", v2},
		{"no message", []byte{}},
	} {
		resp := c.do(produceReq(2, 1, topic, c2.set, good)).(*kmsg.ProduceResponse)
		ps := resp.Topics[0].Partitions
		if !codeIs(ps[0].ErrorCode, kerr.CorruptMessage) || ps[0].BaseOffset != -1 {
			t.Errorf("%s: partition 0: error %d, base offset %d; want CORRUPT_MESSAGE", c2.name, ps[0].ErrorCode, ps[0].BaseOffset)
		}
		if ps[1].ErrorCode != 0 {
			t.Errorf("%s: partition 1 (good) refused: %d", c2.name, ps[1].ErrorCode)
		}
	}
	// acks=0: no answer; the next request's is the next on the wire.
	c.send(produceReq(1, 0, topic, nil, legacySet(t, 0, batch.CodecLz4, legacyMessages("z", 1))))
	resp := c.do(produceReq(0, 1, topic, nil, plain)).(*kmsg.ProduceResponse)
	if p := resp.Topics[0].Partitions[1]; p.ErrorCode != 0 || p.BaseOffset != 6*3+3 {
		t.Fatalf("after an acks=0 produce: error %d, base offset %d, want %d", p.ErrorCode, p.BaseOffset, 6*3+3)
	}
	l, err := b.store.Partition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, end := l.Offsets(); end != 0 {
		t.Fatalf("partition 0 has %d records: a refused set was appended", end)
	}
}
