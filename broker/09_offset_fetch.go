package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch: v0-v8. Served by the group coordinator (package
// broker/group). v8 asks for several groups at once; null topics (v2+) ask
// for every offset the group committed. A partition with no committed
// offset answers offset -1 and empty metadata, as does a group that does
// not exist. v0 reads the same offsets as v1 (Kafka's v0 read ZooKeeper).
//
// With require_stable (v7+), a partition whose offset a transaction
// committed and has not ended yet (TxnOffsetCommit before EndTxn) answers
// UNSTABLE_OFFSET_COMMIT, as in Kafka (KIP-447): the new owner of the
// partition waits for the transaction to end.

func init() { regKey(kmsg.OffsetFetch, 0, 8, handleOffsetFetch) }

func handleOffsetFetch(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	return b.coordinate(c, kreq)
}
