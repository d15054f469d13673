package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets: v0-v6. Timestamp -2 is the log start offset, -1 the high
// watermark (the last stable offset for read_committed, which is the same
// until transactions are served), any other the first record whose
// timestamp is at or after it, or offset -1 when there is none (as Kafka).
// v0 answers with the old offsets array (at most one entry).

func init() { regKey(kmsg.ListOffsets, 0, 6, handleListOffsets) }

const (
	listLatest   = -1
	listEarliest = -2
)

func handleListOffsets(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewListOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			p.Timestamp, p.Offset = -1, -1
			off, ts, found, err := listOffset(b, rt.Topic, rp.Partition, rp.Timestamp)
			if err != nil {
				p.ErrorCode = errorCode(err)
			} else if found {
				p.Offset, p.Timestamp = off, ts
				if req.Version == 0 && rp.MaxNumOffsets > 0 {
					p.OldStyleOffsets = []int64{off}
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func listOffset(b *Broker, topic string, partition int32, ts int64) (offset, timestamp int64, found bool, err error) {
	l, err := b.partition(topic, partition)
	if err != nil {
		return 0, 0, false, err
	}
	start, hw, _ := l.Offsets()
	switch ts {
	case listLatest:
		return hw, -1, true, nil
	case listEarliest:
		return start, -1, true, nil
	}
	return l.OffsetForTimestamp(ts)
}
