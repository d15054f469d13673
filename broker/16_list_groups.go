package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups: v0-v4. Served by the group coordinator (package broker/group):
// every group, including groups that only hold offsets committed without
// group management (protocol type ""). v4 filters by state
// (case-insensitive) and returns it.

func init() { regKey(kmsg.ListGroups, 0, 4, handleListGroups) }

func handleListGroups(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
