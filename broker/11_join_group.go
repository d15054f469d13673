package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup: v0-v9. Served by the group coordinator (package broker/group),
// which runs Kafka's classic group state machine: the request waits until
// the join phase ends (every member rejoined, or the rebalance timeout
// passed; for an empty group, group.initial.rebalance.delay.ms first).
// v4+ members without an id get MEMBER_ID_REQUIRED and an id to join with
// (KIP-394); v5+ static members (group.instance.id) keep their assignment
// across restarts and fence their older instances with FENCED_INSTANCE_ID
// (KIP-345); v7+ answers carry the protocol type; v9 tells a rejoining
// static leader to skip the assignment (KIP-814). Session timeouts outside
// group.min/max.session.timeout.ms get INVALID_SESSION_TIMEOUT. The broker
// never looks inside the protocols: the leader's assignor (range,
// roundrobin, sticky, cooperative-sticky, anything) runs in the client and
// the coordinator relays its result, as Kafka does.
//
// Differences from Kafka: no group.max.size (GROUP_MAX_SIZE_REACHED never
// comes).

func init() { regKey(kmsg.JoinGroup, 0, 9, handleJoinGroup) }

func handleJoinGroup(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
