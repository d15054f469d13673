package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups: v0-v2. Served by the group coordinator (package
// broker/group): only Empty groups are deleted (NON_EMPTY_GROUP otherwise,
// GROUP_ID_NOT_FOUND for none); tombstones for the group and its offsets
// are durable before the answer.

func init() { regKey(kmsg.DeleteGroups, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
