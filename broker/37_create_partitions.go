package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/store"
)

// CreatePartitions: v0-v3. Count is the new total; it must be above the
// current count and at most store.MaxPartitions (INVALID_PARTITIONS
// otherwise). Partitions can be added, never removed, as in Kafka; records
// keep the partition they were written to, so keyed records produced later
// may hash to another partition than earlier ones with the same key. A
// manual assignment must name this broker alone for each new partition
// (INVALID_REPLICA_ASSIGNMENT otherwise). A topic named twice is
// INVALID_REQUEST. Unlike Kafka, an internal topic (__consumer_offsets,
// __transaction_state) keeps its partition count (INVALID_REQUEST): the
// coordinators map ids to its partitions by that count. validate_only runs every check and adds nothing. The
// new partitions exist, empty, when the answer is sent.

func init() { regKey(kmsg.CreatePartitions, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	dup := duplicates(req.Topics, func(t kmsg.CreatePartitionsRequestTopic) string { return t.Topic })
	for _, rt := range req.Topics {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic = rt.Topic
		var err error
		if dup[rt.Topic] {
			err = apiErrorf(kerr.InvalidRequest, "topic %q is named more than once in the request", rt.Topic)
		} else {
			err = createPartitions(b, &rt, req.ValidateOnly)
		}
		t.ErrorCode, t.ErrorMessage = errorCode(err), errorMessage(err)
		if err != nil && t.ErrorCode == kerr.UnknownServerError.Code {
			b.log.Warn("create partitions", "topic", rt.Topic, "err", err)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func createPartitions(b *Broker, rt *kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	if isInternalTopic(rt.Topic) {
		return apiErrorf(kerr.InvalidRequest, "the internal topic %q keeps its partition count", rt.Topic)
	}
	d, err := b.store.Topic(rt.Topic)
	if err != nil {
		return err
	}
	total := int(rt.Count)
	switch {
	case total == d.Partitions:
		return apiErrorf(kerr.InvalidPartitions, "topic %q already has %d partitions", rt.Topic, total)
	case total < d.Partitions:
		return apiErrorf(kerr.InvalidPartitions, "topic %q has %d partitions, more than the requested %d: partitions can be added, not removed", rt.Topic, d.Partitions, total)
	}
	if rt.Assignment != nil {
		if added := total - d.Partitions; len(rt.Assignment) != added {
			return apiErrorf(kerr.InvalidReplicaAssignment, "adding %d partitions to topic %q, but the request assigns replicas to %d", added, rt.Topic, len(rt.Assignment))
		}
		node := b.store.NodeID()
		for i, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != node {
				return apiErrorf(kerr.InvalidReplicaAssignment, "new partition %d of topic %q: replicas %v; this is a single broker, so the only assignment is [%d]", d.Partitions+i, rt.Topic, a.Replicas, node)
			}
		}
	}
	if !validateOnly {
		return b.store.CreatePartitions(rt.Topic, total)
	}
	// ValidateTopic checks the partition count the way CreatePartitions
	// does, then answers ErrTopicExists for a topic that exists: valid.
	_, err = b.store.ValidateTopic(rt.Topic, total, nil)
	if err == nil || errors.Is(err, store.ErrTopicExists) {
		return nil
	}
	return err
}
