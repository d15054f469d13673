package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddOffsetsToTxn: v0-v3. Adds the group's __consumer_offsets partition to
// the transaction, so that TxnOffsetCommit offsets commit or abort with it.

func init() { regKey(kmsg.AddOffsetsToTxn, 0, 3, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.ErrorCode = errorCode(b.txn.AddOffsets(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group))
	return resp
}
