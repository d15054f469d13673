package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete: v0. Served by the group coordinator (package broker/group):
// deletes committed offsets of an Empty group, or of a consumer group with
// members for topics none of them subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC for the others, NON_EMPTY_GROUP for groups of
// other protocol types with members). Partitions of topics that do not
// exist get UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.

func init() { regKey(kmsg.OffsetDelete, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, c *clientConn, req kmsg.Request) kmsg.Response {
	return b.coordinate(c, req)
}
