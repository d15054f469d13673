package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit: v0-v8. Served by the group coordinator (package
// broker/group): the offsets, with their metadata and leader epoch, are
// written to __consumer_offsets and answered once durable. Partitions of
// topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION before the
// coordinator sees the request, as in Kafka. A commit with generation -1
// and no member id (v0 has neither) is a "simple" commit, accepted while
// the group has no members; members commit with their generation.
//
// Differences from Kafka: retention_time_ms (v2-v4) is ignored, and
// committed offsets never expire (Kafka drops them offsets.retention.minutes
// after the group empties); DeleteGroups and OffsetDelete remove them.

func init() { regKey(kmsg.OffsetCommit, 0, 8, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.OffsetCommitRequest)
	known := *req
	var unknown map[topicPartition]bool
	known.Topics, unknown = splitKnown(b, req.Topics,
		func(t *kmsg.OffsetCommitRequestTopic) string { return t.Topic },
		func(t *kmsg.OffsetCommitRequestTopic) *[]kmsg.OffsetCommitRequestTopicPartition { return &t.Partitions },
		func(p *kmsg.OffsetCommitRequestTopicPartition) int32 { return p.Partition })
	if len(unknown) == 0 {
		return b.coordinate(c, req)
	}
	codes := map[topicPartition]int16{}
	if len(known.Topics) > 0 {
		kresp := b.coordinate(c, &known).(*kmsg.OffsetCommitResponse)
		for _, t := range kresp.Topics {
			for _, p := range t.Partitions {
				codes[topicPartition{t.Topic, p.Partition}] = p.ErrorCode
			}
		}
	}
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetCommitResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetCommitResponseTopicPartition()
			p.Partition = rp.Partition
			k := topicPartition{rt.Topic, rp.Partition}
			p.ErrorCode = codes[k]
			if unknown[k] {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}
