package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// Produce: v3-v11 (RecordBatch v2 only, as Kafka 4 does). acks 0, 1 and
// -1 behave alike on a single broker: the answer waits for the topic's
// flush policy, by default until the batch is fsynced; acks=0 gets no
// answer. Partitions of one request are appended in parallel, so their
// fsyncs overlap. Batches are stored as received, compression included.
//
// Idempotent and transactional batches are checked against the
// partition's producer state (broker/log): a retry of a stored batch is
// answered with its offsets, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, an
// old epoch with INVALID_PRODUCER_EPOCH. Control batches from clients are
// refused with INVALID_RECORD, and so is anything written to an internal
// topic (whose names start with "__"), as Kafka does.

func init() { regKey(kmsg.Produce, 3, 11, handleProduce) }

func handleProduce(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	type job struct {
		out     *kmsg.ProduceResponseTopicPartition
		l       *log.Log
		records []byte
	}
	var jobs []job
	for _, rt := range req.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = rt.Topic
		t.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		var d store.TopicDescription
		var terr error
		if isInternalTopic(rt.Topic) { // before EnsureTopic, which would create it
			terr = fmt.Errorf("%w: %q is internal to the broker", kerr.InvalidTopicException, rt.Topic)
		} else {
			d, terr = b.store.EnsureTopic(rt.Topic)
		}
		for i, rp := range rt.Partitions {
			p := &t.Partitions[i]
			*p = kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			err := terr
			var l *log.Log
			if err == nil && (rp.Partition < 0 || int(rp.Partition) >= d.Partitions) {
				err = fmt.Errorf("%w: partition %d of %q", store.ErrUnknownTopic, rp.Partition, rt.Topic)
			}
			if err == nil {
				l, err = b.store.Partition(rt.Topic, int(rp.Partition))
			}
			if err != nil {
				p.ErrorCode, p.ErrorMessage = errorCode(err), errorMessage(err)
				continue
			}
			jobs = append(jobs, job{p, l, rp.Records})
		}
		resp.Topics = append(resp.Topics, t)
	}
	run := func(j job) {
		res, err := j.l.Append(j.records)
		if err != nil {
			var be *log.BatchError
			if !errors.As(err, &be) {
				b.log.Warn("produce: append failed", "dir", j.l.Dir(), "err", err)
			}
			j.out.ErrorCode, j.out.ErrorMessage = errorCode(err), errorMessage(err)
			j.out.BaseOffset, j.out.LogAppendTime = -1, -1
			return
		}
		j.out.BaseOffset, j.out.LogAppendTime, j.out.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
	}
	if len(jobs) == 1 {
		run(jobs[0])
	} else {
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Add(1)
			go func() { defer wg.Done(); run(j) }()
		}
		wg.Wait()
	}
	if req.Acks == 0 {
		return nil
	}
	return resp
}

// isInternalTopic reports whether clients may not produce to topic.
func isInternalTopic(topic string) bool { return strings.HasPrefix(topic, "__") }
