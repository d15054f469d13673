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
	type tp struct {
		topic     string
		partition int32
	}
	unknown := map[tp]bool{}
	known := *req
	known.Topics = nil
	for _, rt := range req.Topics {
		kt := rt
		kt.Partitions = nil
		for _, rp := range rt.Partitions {
			if !b.partitionExists(rt.Topic, rp.Partition) {
				unknown[tp{rt.Topic, rp.Partition}] = true
				continue
			}
			kt.Partitions = append(kt.Partitions, rp)
		}
		if len(kt.Partitions) > 0 {
			known.Topics = append(known.Topics, kt)
		}
	}
	if len(unknown) == 0 {
		return b.coordinate(c, req)
	}
	codes := map[tp]int16{}
	if len(known.Topics) > 0 {
		kresp := b.coordinate(c, &known).(*kmsg.OffsetCommitResponse)
		for _, t := range kresp.Topics {
			for _, p := range t.Partitions {
				codes[tp{t.Topic, p.Partition}] = p.ErrorCode
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
			k := tp{rt.Topic, rp.Partition}
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
