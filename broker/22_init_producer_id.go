package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId: v0-v4. Without a transactional id, a new producer id
// (idempotent producer). With one, the id's epoch is bumped (fencing older
// producers), after aborting or completing its transaction if one is in
// flight. v3+ may pass the current producer id and epoch to recover from
// an error; they must be the current ones (PRODUCER_FENCED otherwise).

func init() { regKey(kmsg.InitProducerID, 0, 4, handleInitProducerID) }

func handleInitProducerID(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	pid, epoch := int64(-1), int16(-1)
	if req.Version >= 3 {
		pid, epoch = req.ProducerID, req.ProducerEpoch
	}
	id, ep, err := b.txn.InitProducerID(req.TransactionalID, time.Duration(req.TransactionTimeoutMillis)*time.Millisecond, pid, epoch)
	resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode = id, ep, errorCode(err)
	if err != nil {
		resp.ProducerID, resp.ProducerEpoch = -1, -1
	}
	return resp
}
