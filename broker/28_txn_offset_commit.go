package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/group"
)

// TxnOffsetCommit: v0-v3. A transactional producer commits consumer
// offsets as part of its transaction: they are written to
// __consumer_offsets under the producer's id and become visible when the
// transaction commits (broker/group, txnoffsets.go). v3 carries the
// consumer's generation and member id, which are checked as OffsetCommit
// checks them (KIP-447), so a consumer fenced by a rebalance cannot commit.
// Partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION and the
// others are committed, as Kafka's API layer does.
//
// Differences from Kafka: the request is refused with INVALID_TXN_STATE
// unless the transaction coordinator knows the producer's transaction is
// open and holds the group (AddOffsetsToTxn); Kafka takes it on trust.

func init() { regKey(kmsg.TxnOffsetCommit, 0, 3, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(b *Broker, c *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	if err := b.txn.CheckOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group); err != nil {
		return group.ErrorResponse(req, errorCode(err))
	}
	return b.coordinate(c, req)
}
