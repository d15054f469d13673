package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn: v0-v3. Commits or aborts: the answer comes once the markers are
// written to every partition of the transaction and fsynced, so that a
// read_committed consumer sees a committed transaction as soon as its
// producer has been told.

func init() { regKey(kmsg.EndTxn, 0, 3, handleEndTxn) }

func handleEndTxn(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ErrorCode = errorCode(b.txn.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit))
	return resp
}
