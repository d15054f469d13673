package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit: v0-v8. Served by the group coordinator (package
// broker/group): the offsets, with their metadata and leader epoch, are
// written to __consumer_offsets and answered once durable. Partitions of
// topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION, as in Kafka. A commit with generation -1
// and no member id (v0 has neither) is a "simple" commit, accepted while
// the group has no members; members commit with their generation.
//
// Differences from Kafka: retention_time_ms (v2-v4) is ignored, and
// committed offsets never expire (Kafka drops them offsets.retention.minutes
// after the group empties); DeleteGroups and OffsetDelete remove them.

func init() { regKey(kmsg.OffsetCommit, 0, 8, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, c *clientConn, req kmsg.Request) kmsg.Response {
	return b.coordinate(c, req)
}
