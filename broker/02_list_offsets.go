package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets: v0-v6. Timestamp -2 is the log start offset, -1 the high
// watermark for read_uncommitted (isolation level 0, and every v0-v1
// request) and the last stable offset for read_committed (level 1, v2+):
// a read_committed consumer that resets to the end, or asks how far a
// partition goes, never lands past records of an undecided transaction.
// Any other timestamp finds the first record whose timestamp is at or
// after it, or offset -1 when there is none (as Kafka). v0 answers with
// the old offsets array (at most one entry).

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
			off, ts, found, err := listOffset(b, rt.Topic, rp.Partition, rp.Timestamp, req.IsolationLevel == 1)
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

func listOffset(b *Broker, topic string, partition int32, ts int64, committed bool) (offset, timestamp int64, found bool, err error) {
	l, err := b.partition(topic, partition)
	if err != nil {
		return 0, 0, false, err
	}
	start, hw, _ := l.Offsets()
	switch ts {
	case listLatest:
		if committed {
			return l.LastStableOffset(), -1, true, nil
		}
		return hw, -1, true, nil
	case listEarliest:
		return start, -1, true, nil
	}
	return l.OffsetForTimestamp(ts)
}
