package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete: v0. Served by the group coordinator (package broker/group):
// deletes committed offsets of an Empty group, or of a consumer group with
// members for topics none of them subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC for the others, NON_EMPTY_GROUP for groups of
// other protocol types with members). Partitions of topics that do not
// exist get UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.

func init() { regKey(kmsg.OffsetDelete, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.OffsetDeleteRequest)
	known := *req
	var unknown map[topicPartition]bool
	known.Topics, unknown = splitKnown(b, req.Topics,
		func(t *kmsg.OffsetDeleteRequestTopic) string { return t.Topic },
		func(t *kmsg.OffsetDeleteRequestTopic) *[]kmsg.OffsetDeleteRequestTopicPartition { return &t.Partitions },
		func(p *kmsg.OffsetDeleteRequestTopicPartition) int32 { return p.Partition })
	kresp := b.coordinate(c, &known).(*kmsg.OffsetDeleteResponse)
	if kresp.ErrorCode != 0 || len(unknown) == 0 {
		return kresp
	}
	codes := map[topicPartition]int16{}
	for _, t := range kresp.Topics {
		for _, p := range t.Partitions {
			codes[topicPartition{t.Topic, p.Partition}] = p.ErrorCode
		}
	}
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewOffsetDeleteResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetDeleteResponseTopicPartition()
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
