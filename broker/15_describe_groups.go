package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups: v0-v5. Served by the group coordinator (package
// broker/group). A group that does not exist is described as Dead with no
// error, as Kafka does before v6. Member metadata and assignments are
// filled only for Stable groups. With include_authorized_operations (v3+)
// the answer is READ, DELETE and DESCRIBE: there are no ACLs.

func init() { regKey(kmsg.DescribeGroups, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
