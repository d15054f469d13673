package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat: v0-v4. Served by the group coordinator (package broker/group):
// restarts the member's session; REBALANCE_IN_PROGRESS tells it to rejoin.
// While the coordinator loads at startup it answers NONE, as Kafka does.

func init() { regKey(kmsg.Heartbeat, 0, 4, handleHeartbeat) }

func handleHeartbeat(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
