package broker

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListTransactions: v0-v1. Filters by state, producer id and (v1) how long
// the transaction has been running. Unknown state names in the filter
// match nothing, as Kafka answers them.

func init() { regKey(kmsg.ListTransactions, 0, 1, handleListTransactions) }

func handleListTransactions(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	now := time.Now()
	for _, d := range b.txn.Describe(nil) {
		state := d.State.String()
		switch {
		case len(req.StateFilters) > 0 && !slices.Contains(req.StateFilters, state):
			continue
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, d.ProducerID):
			continue
		case req.DurationFilterMillis > 0 && (d.Started.IsZero() || now.Sub(d.Started).Milliseconds() < req.DurationFilterMillis):
			continue
		}
		rt := kmsg.NewListTransactionsResponseTransactionState()
		rt.TransactionalID, rt.ProducerID, rt.TransactionState = d.ID, d.ProducerID, state
		resp.TransactionStates = append(resp.TransactionStates, rt)
	}
	return resp
}
