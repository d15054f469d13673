package broker

import (
	"errors"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/group"
	"github.com/runnel-io/runnel/broker/store"
	"github.com/runnel-io/runnel/broker/txn"
)

// Metadata: v0-v12. One broker, the leader and only replica of every
// partition, and the controller. A missing topic is created when the
// request allows it (always before v4) and the broker's
// auto.create.topics.enable is on, as Kafka does. Lookups by topic id (v10+
// with a null name) answer UNKNOWN_TOPIC_ID when the id is not known.
// __consumer_offsets and __transaction_state are listed with IsInternal set
// and never auto-created here: their coordinators create them.

func init() { regKey(kmsg.Metadata, 0, 12, handleMetadata) }

func handleMetadata(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	nodeID := b.store.NodeID()
	host, port := b.hostPort()
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: nodeID, Host: host, Port: port}}
	cluster := b.store.ClusterID().String()
	resp.ClusterID = &cluster
	resp.ControllerID = nodeID

	addTopic := func(d store.TopicDescription) {
		t := kmsg.NewMetadataResponseTopic()
		name := d.Name
		t.Topic, t.TopicID = &name, d.ID
		t.IsInternal = name == group.TopicName || name == txn.StateTopic
		for p := 0; p < d.Partitions; p++ {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader = int32(p), nodeID
			mp.Replicas, mp.ISR = []int32{nodeID}, []int32{nodeID}
			t.Partitions = append(t.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	addError := func(name *string, id [16]byte, err error, code int16) {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.TopicID = name, id
		t.ErrorCode = code
		if code == 0 {
			t.ErrorCode = errorCode(err)
		}
		resp.Topics = append(resp.Topics, t)
	}

	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		all, err := b.store.Topics()
		if err != nil {
			b.log.Warn("metadata: listing topics", "err", err)
		}
		for _, d := range all {
			addTopic(d)
		}
		return resp
	}
	autoCreate := req.Version < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			addError(nil, rt.TopicID, nil, kerr.UnknownTopicID.Code)
			continue
		}
		var d store.TopicDescription
		var err error
		if autoCreate && !isInternalTopic(*rt.Topic) { // their coordinators create them
			d, err = b.store.EnsureTopic(*rt.Topic)
		} else {
			d, err = b.store.Topic(*rt.Topic)
		}
		if err != nil {
			if !errors.Is(err, store.ErrUnknownTopic) && !errors.Is(err, store.ErrInvalidTopic) {
				b.log.Warn("metadata", "topic", *rt.Topic, "err", err)
			}
			addError(rt.Topic, rt.TopicID, err, 0)
			continue
		}
		addTopic(d)
	}
	return resp
}

// hostPort splits the advertised address.
func (b *Broker) hostPort() (string, int32) {
	host, port, err := net.SplitHostPort(b.addr)
	if err != nil {
		return b.addr, 0
	}
	n, _ := strconv.Atoi(port)
	return host, int32(n)
}
