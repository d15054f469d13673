package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/group"
	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// The consumer group APIs (08_offset_commit.go ... 47_offset_delete.go)
// hand their requests to the group coordinator, package broker/group,
// which owns every group and committed offset and persists them in the
// internal topic __consumer_offsets. This file connects the two: the
// coordinator's options, its storage over the data directory, and the call
// the handlers make.

// groupOptions are the coordinator's options from the broker's.
func (c *cfg) groupOptions() *group.Options {
	o := &group.Options{
		MinSessionTimeout:     c.groupMinSession,
		MaxSessionTimeout:     c.groupMaxSession,
		InitialRebalanceDelay: c.groupInitialDelay,
		Logger:                c.logger,
	}
	if c.groupInitialDelay == 0 {
		o.InitialRebalanceDelay = group.NoInitialRebalanceDelay
	}
	return o
}

// coordinate hands a group request to the coordinator and waits for its
// answer: as long as the protocol says (a JoinGroup waits for the
// rebalance). Broker.Close closes the coordinator before waiting for the
// connections, which answers every waiting request, so no context is
// needed to bound the wait. A closed coordinator answers
// COORDINATOR_NOT_AVAILABLE.
func (b *Broker) coordinate(c *clientConn, req kmsg.Request) kmsg.Response {
	resp, err := b.groups.Handle(context.Background(), groupClient(c), req)
	if err != nil {
		return group.ErrorResponse(req, kerr.CoordinatorNotAvailable.Code)
	}
	return resp
}

// groupClient describes the connection as DescribeGroups shows members:
// client.id and "/host".
func groupClient(c *clientConn) group.Client {
	host, _, err := net.SplitHostPort(c.remote)
	if err != nil {
		host = c.remote
	}
	return group.Client{ID: c.clientID, Host: "/" + host}
}

// partitionExists reports whether partition p of topic exists: the group
// coordinator's Options.PartitionExists, with which OffsetCommit,
// TxnOffsetCommit and OffsetDelete answer the others
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka's API layer does.
func (b *Broker) partitionExists(topic string, p int32) bool {
	d, err := b.store.Topic(topic)
	return err == nil && p >= 0 && int(p) < d.Partitions
}

// offsetsTopic is the coordinator's group.Storage over the data directory:
// __consumer_offsets, created on the first write with cleanup.policy=compact
// (newest record per key, tombstones dropped after delete.retention.ms),
// segment.bytes=100 MiB (offsets.topic.segment.bytes) and flush.messages=1,
// so that an acknowledged commit is on disk whatever the broker-wide
// defaults say.
type offsetsTopic struct {
	st         *store.Store
	partitions int // offsets.topic.num.partitions, for a topic yet to be created
}

var _ group.Storage = (*offsetsTopic)(nil)

// offsetsTopicConfigs are the topic configs __consumer_offsets is created
// with.
var offsetsTopicConfigs = map[string]string{
	"cleanup.policy": "compact",
	"segment.bytes":  strconv.Itoa(100 << 20),
	"flush.messages": "1",
}

func (o *offsetsTopic) Partitions() (int, error) {
	d, err := o.st.Topic(group.TopicName)
	if errors.Is(err, store.ErrUnknownTopic) {
		return o.partitions, nil
	}
	if err != nil {
		return 0, err
	}
	return d.Partitions, nil
}

// ensure creates the topic unless it exists.
func (o *offsetsTopic) ensure() error {
	_, err := o.st.CreateTopic(group.TopicName, o.partitions, offsetsTopicConfigs)
	if err != nil && !errors.Is(err, store.ErrTopicExists) {
		return fmt.Errorf("create %s: %w", group.TopicName, err)
	}
	return nil
}

func (o *offsetsTopic) Append(p int32, batch []byte) error {
	l, err := o.st.Partition(group.TopicName, int(p))
	if errors.Is(err, store.ErrUnknownTopic) {
		if err := o.ensure(); err != nil {
			return err
		}
		l, err = o.st.Partition(group.TopicName, int(p))
	}
	if err != nil {
		return err
	}
	// Coordinator-origin: transactional offset commits carry the
	// producer's id and epoch but no sequence numbers.
	if _, err := l.AppendCoordinator(batch); err != nil {
		if errors.Is(err, log.ErrTooLarge) {
			return fmt.Errorf("%w: %w", group.ErrTooLarge, err)
		}
		return err
	}
	return nil
}

func (o *offsetsTopic) Read(p int32, offset int64, maxBytes int) ([]byte, int64, error) {
	l, err := o.st.Partition(group.TopicName, int(p))
	if errors.Is(err, store.ErrUnknownTopic) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	start, _, _ := l.Offsets()
	res, err := l.Read(max(offset, start), maxBytes)
	if err != nil {
		return nil, 0, err
	}
	return res.Data, res.HighWatermark, nil
}

// txnGroups is the group coordinator as the transaction coordinator sees
// it (txn.Groups).
type txnGroups struct{ b *Broker }

func (g txnGroups) OffsetsTopic() string { return group.TopicName }

func (g txnGroups) OffsetsPartition(id string) int32 {
	return group.PartitionFor(id, g.b.groups.Partitions())
}

func (g txnGroups) EndTxn(groups []string, pid int64, _ int16, commit bool) {
	g.b.groups.EndTxn(groups, pid, commit)
}
