package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// Produce: v0-v11. acks 0, 1 and -1 behave alike on a single broker: the
// answer waits for the topic's flush policy, by default until the batch is
// fsynced; acks=0 gets no answer. Partitions of one request are appended in
// parallel, so their fsyncs overlap.
//
// v3-v11 carry RecordBatch v2, stored as received, compression included.
// Idempotent and transactional batches are checked against the
// partition's producer state (broker/log): a retry of a stored batch is
// answered with its offsets, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, an
// old epoch with INVALID_PRODUCER_EPOCH. Control batches from clients are
// refused with INVALID_RECORD, and so is anything written to an internal
// topic (whose names start with "__"), as Kafka does.
//
// v0-v2 (producers pinned to an old api_version: kafka-python with
// api_version=(0, 8, 2) or (0, 9) sends magic 0 message sets with v0 and
// v1, with (0, 10) magic 1 ones with v2; librdkafka with
// broker.version.fallback likewise) carry message sets of magic 0 or 1,
// which the broker converts to one RecordBatch v2 per partition before
// appending it through the same path (batch.UpConvert): every message's
// CRC is checked, compressed wrappers (gzip, snappy raw or xerial-framed,
// lz4, with magic 0 the header checksum Kafka 0.8 wrote) are unwrapped
// and the records recompressed with the same codec. The responses: v0
// without throttle time, v1 with it, v2 with the LogAppendTime. These
// versions know no idempotence or transactions.
//
// Timestamps of converted records: magic 1 keeps the producer's
// (CreateTime), a message without one (-1) gets the broker's clock. Magic
// 0 messages have none; the batch is stamped with the broker's clock and
// marked LogAppendTime (and the v2 response returns that time). Kafka
// stores -1 there and its time-based retention falls back on the segment
// file's modification time; runnel's goes by the records' timestamps,
// where -1 would delete them at the next check, so retention.ms counts
// from their arrival instead. A LogAppendTime attribute that a producer
// sets on magic 1 messages is not honoured (as with Kafka on a CreateTime
// topic): the records keep the timestamp a consumer reads.
//
// Differences from Kafka for v0-v2: a message set cut inside a message is
// refused (Kafka drops the partial message at the end and appends the
// rest); any set that does not decode (a bad CRC, a truncation, an
// impossible size, magic 2 or mixed magics, an unknown codec, nested
// compression) is answered CORRUPT_MESSAGE, as Kafka did before 2.4 (whose
// INVALID_RECORD these clients do not know), and nothing of it is
// appended; several compressed wrappers, or wrappers and plain messages,
// in one set are accepted (Kafka wants a single wrapper); compressed
// wrappers may decompress to at most socket.request.max.bytes in all.

func init() { regKey(kmsg.Produce, 0, 11, handleProduce) }

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
		var (
			res     log.AppendResult
			err     error
			records = j.records
			stamped = int64(-1)
			refused bool // by the up-conversion: the client's fault
		)
		if req.Version < 3 {
			records, stamped, err = upConvert(b, j.l, j.records)
			refused = err != nil
		}
		if err == nil {
			res, err = j.l.Append(records)
		}
		if err != nil {
			var be *log.BatchError
			if !refused && !errors.As(err, &be) {
				b.log.Warn("produce: append failed", "dir", j.l.Dir(), "err", err)
			}
			j.out.ErrorCode, j.out.ErrorMessage = errorCode(err), errorMessage(err)
			j.out.BaseOffset, j.out.LogAppendTime = -1, -1
			return
		}
		j.out.BaseOffset, j.out.LogAppendTime, j.out.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
		if res.LogAppendTime < 0 && stamped >= 0 {
			j.out.LogAppendTime = stamped
		}
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

// upConvert converts the magic 0/1 message set of a Produce v0-v2
// partition to a v2 batch (batch.UpConvert), with the log's clock. It
// returns the batch and, for a magic 0 set, the time it was stamped with
// (-1 otherwise). A set that does not decode is a *kerr.Error
// CORRUPT_MESSAGE wrapping the reason.
func upConvert(b *Broker, l *log.Log, set []byte) ([]byte, int64, error) {
	now := l.Options().Now().UnixMilli()
	ms, err := batch.DecodeMessageSet(set, int(b.cfg.maxRequestBytes))
	if err != nil {
		return nil, -1, fmt.Errorf("%w: %w", kerr.CorruptMessage, err)
	}
	out, err := ms.Batch(now)
	if err != nil {
		return nil, -1, fmt.Errorf("%w: %w", kerr.CorruptMessage, err)
	}
	if ms.Magic == 0 {
		return out, now, nil
	}
	return out, -1, nil
}

// isInternalTopic reports whether clients may not produce to topic.
func isInternalTopic(topic string) bool { return strings.HasPrefix(topic, "__") }
