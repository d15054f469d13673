package broker

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// Fetch: v0-v12. Stored batches are handed out as stored to v4+; v0-v3
// (clients pinned to an old api_version, such as kafka-python with
// api_version=(0, 10)) get them converted to the old message formats
// (magic 0 for v0-v1, magic 1 for v2-v3), uncompressed, without control
// batches or headers, as Kafka 3's down-conversion does. A fetch that
// finds fewer than MinBytes waits up to MaxWaitMillis for any of its
// partitions' high watermarks to move (a long poll that costs no CPU), or
// for the broker to shut down; a partition error (OFFSET_OUT_OF_RANGE,
// UNKNOWN_TOPIC_OR_PARTITION...) ends the wait at once, as in Kafka, so
// that a client learns of it without waiting out its max wait (kafka-go
// sends one near MaxInt32). The first partition with data returns at
// least one whole batch even when it is larger than the byte limits, as
// Kafka does, so a large batch never blocks a consumer.
//
// read_committed fetches stop at the last stable offset and carry the
// aborted transactions that overlap the returned batches, which clients
// use to drop aborted records.
//
// Differences from Kafka: no fetch sessions (the response's session id is
// 0, which tells clients to send full fetches; they all handle it), no
// follower fetching.

func init() { regKey(kmsg.Fetch, 0, 12, handleFetch) }

func handleFetch(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.FetchRequest)
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	for {
		resp, size, watches := fetchOnce(b, req)
		if size >= int(req.MinBytes) || len(watches) == 0 || !time.Now().Before(deadline) || hasError(resp) {
			return resp
		}
		if !waitAny(watches, deadline, b.done) {
			// Time is up or the broker is stopping: answer with what
			// there is now.
			resp, _, _ = fetchOnce(b, req)
			return resp
		}
	}
}

// fetchOnce reads every requested partition once. It returns the response,
// the bytes of records in it, and the channels that fire when one of the
// partitions gets new data (taken before reading, so no wakeup is missed).
func fetchOnce(b *Broker, req *kmsg.FetchRequest) (*kmsg.FetchResponse, int, []<-chan struct{}) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	budget := int(req.MaxBytes)
	if budget <= 0 {
		budget = int(^uint32(0) >> 1)
	}
	total := 0
	committed := req.IsolationLevel == 1
	var watches []<-chan struct{}
	for _, rt := range req.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rp.Partition
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
			l, err := b.partition(rt.Topic, rp.Partition)
			if err == nil {
				watches = append(watches, l.Watch())
				limit := min(int(rp.PartitionMaxBytes), budget-total)
				var res log.ReadResult
				switch {
				case limit <= 0 && total > 0:
					res.LogStartOffset, res.HighWatermark, _ = l.Offsets()
					res.LastStableOffset = l.LastStableOffset()
				case committed:
					res, err = l.ReadCommitted(rp.FetchOffset, max(limit, 1))
				default:
					res, err = l.Read(rp.FetchOffset, max(limit, 1))
				}
				p.HighWatermark, p.LastStableOffset, p.LogStartOffset = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
				p.RecordBatches = res.Data
				for _, a := range res.Aborted {
					p.AbortedTransactions = append(p.AbortedTransactions,
						kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
				}
				total += len(res.Data)
			}
			if err != nil {
				if !errors.Is(err, store.ErrUnknownTopic) && !errors.Is(err, log.ErrOffsetOutOfRange) {
					b.log.Warn("fetch", "topic", rt.Topic, "partition", rp.Partition, "err", err)
				}
				p.ErrorCode = errorCode(err)
			}
			if req.Version < 4 && len(p.RecordBatches) > 0 {
				magic := int8(1)
				if req.Version < 2 {
					magic = 0
				}
				old, err := batch.DownConvert(nil, p.RecordBatches, magic)
				if err != nil {
					b.log.Warn("fetch: down-conversion failed", "topic", rt.Topic, "partition", rp.Partition, "err", err)
					p.ErrorCode, old = errorCode(err), nil
				}
				p.RecordBatches = old
			}
			if p.RecordBatches == nil {
				// Empty, never null, as Kafka sends it: before v12 a
				// nil slice is encoded as size -1, which librdkafka
				// rejects ("invalid MessageSetSize -1").
				p.RecordBatches = []byte{}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, total, watches
}

// hasError reports whether a partition of resp has an error.
func hasError(resp *kmsg.FetchResponse) bool {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode != 0 {
				return true
			}
		}
	}
	return false
}

// partition returns the log of an existing partition.
func (b *Broker) partition(topic string, p int32) (*log.Log, error) {
	if p < 0 {
		return nil, fmt.Errorf("%w: partition %d of %q", store.ErrUnknownTopic, p, topic)
	}
	return b.store.Partition(topic, int(p))
}

// waitAny blocks until one of the channels fires (true), or the deadline
// passes or stop closes (false).
func waitAny(chans []<-chan struct{}, deadline time.Time, stop <-chan struct{}) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(stop)})
	seen := map[<-chan struct{}]bool{}
	for _, c := range chans {
		if !seen[c] {
			seen[c] = true
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)})
		}
	}
	chosen, _, _ := reflect.Select(cases)
	return chosen >= 2
}
