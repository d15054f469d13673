package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/txn"
)

// AddPartitionsToTxn: v0-v3 (the producer's form; v4+, which brokers use
// to verify partitions for each other, is not needed by one broker). An
// unknown partition fails the whole request: it gets its error and the
// others OPERATION_NOT_ATTEMPTED, as Kafka answers.

func init() { regKey(kmsg.AddPartitionsToTxn, 0, 3, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	var parts []txn.TopicPartition
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			parts = append(parts, txn.TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	res, err := b.txn.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts)
	for _, t := range req.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition = p
			if err != nil {
				rp.ErrorCode = errorCode(err)
			} else {
				rp.ErrorCode = errorCode(res[txn.TopicPartition{Topic: t.Topic, Partition: p}])
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
