package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup: v0-v5. Served by the group coordinator (package
// broker/group). v0-v2 name one member and answer with a top-level error;
// v3+ name a batch, each by member id or, to remove a static member, by
// group.instance.id alone, and answer per member.

func init() { regKey(kmsg.LeaveGroup, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
