package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions: v0. The coordinator's view of each transactional
// id: state, producer id and epoch, timeout, start and partitions.

func init() { regKey(kmsg.DescribeTransactions, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, d := range b.txn.Describe(req.TransactionalIDs) {
		rt := kmsg.NewDescribeTransactionsResponseTransactionState()
		rt.TransactionalID = d.ID
		if d.NotFound {
			rt.ErrorCode = kerr.TransactionalIDNotFound.Code
			rt.ProducerID, rt.ProducerEpoch = -1, -1
			resp.TransactionStates = append(resp.TransactionStates, rt)
			continue
		}
		rt.State = d.State.String()
		rt.ProducerID, rt.ProducerEpoch = d.ProducerID, d.ProducerEpoch
		rt.TimeoutMillis = int32(d.Timeout / time.Millisecond)
		rt.StartTimestamp = -1
		if !d.Started.IsZero() && d.Started.UnixMilli() > 0 {
			rt.StartTimestamp = d.Started.UnixMilli()
		}
		for _, p := range d.Partitions {
			n := len(rt.Topics)
			if n == 0 || rt.Topics[n-1].Topic != p.Topic {
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic = p.Topic
				rt.Topics = append(rt.Topics, t)
				n++
			}
			rt.Topics[n-1].Partitions = append(rt.Topics[n-1].Partitions, p.Partition)
		}
		resp.TransactionStates = append(resp.TransactionStates, rt)
	}
	return resp
}
