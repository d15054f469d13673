package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup: v0-v5. Served by the group coordinator (package broker/group):
// the leader's request carries the assignment, which is persisted with the
// group in __consumer_offsets; every member's request waits for it and gets
// its own part. v5 checks the protocol type and name
// (INCONSISTENT_GROUP_PROTOCOL) and returns them.

func init() { regKey(kmsg.SyncGroup, 0, 5, handleSyncGroup) }

func handleSyncGroup(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
