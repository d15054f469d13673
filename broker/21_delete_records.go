package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteRecords: v0-v2. Each partition's log start offset moves up to the
// requested offset (-1: the high watermark), as Kafka does, and the
// segments wholly below it are deleted before the answer, which carries
// the new low watermark. An offset below the current log start changes
// nothing and answers the current one. An offset past the high watermark
// is OFFSET_OUT_OF_RANGE; an unknown topic or partition is
// UNKNOWN_TOPIC_OR_PARTITION; an internal topic (the coordinators' state)
// is INVALID_TOPIC_EXCEPTION, as in Kafka. On error the low watermark is
// -1. The timeout is not used: with one replica there is nothing to wait
// for.

func init() { regKey(kmsg.DeleteRecords, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDeleteRecordsResponseTopicPartition()
			p.Partition = rp.Partition
			low, err := deleteRecords(b, rt.Topic, rp.Partition, rp.Offset)
			p.LowWatermark, p.ErrorCode = low, errorCode(err)
			if err != nil {
				p.LowWatermark = -1
				if c := p.ErrorCode; c == kerr.UnknownServerError.Code || c == kerr.KafkaStorageError.Code {
					b.log.Warn("delete records", "topic", rt.Topic, "partition", rp.Partition, "offset", rp.Offset, "err", err)
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func deleteRecords(b *Broker, topic string, partition int32, offset int64) (int64, error) {
	if isInternalTopic(topic) {
		return -1, apiErrorf(kerr.InvalidTopicException, "cannot delete records of the internal topic %q", topic)
	}
	l, err := b.store.Partition(topic, int(partition))
	if err != nil {
		return -1, err
	}
	return l.DeleteRecords(offset)
}
