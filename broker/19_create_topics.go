package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/store"
)

// CreateTopics: v0-v7. NumPartitions -1 takes num.partitions (v4+); a
// manual replica assignment sets the partition count; the replication
// factor must be 1 or -1 on a single broker (INVALID_REPLICATION_FACTOR
// otherwise). validate_only checks the name, count and configs without
// creating anything. v5+ answers with the partitions and configs in force.
// Names starting with "__" are refused (INVALID_TOPIC_EXCEPTION): the
// broker creates its internal topics itself.

func init() { regKey(kmsg.CreateTopics, 0, 7, handleCreateTopics) }

func handleCreateTopics(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	for _, rt := range req.Topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		d, err := createTopic(b, &rt, req.ValidateOnly)
		if err != nil {
			t.ErrorCode, t.ErrorMessage = errorCode(err), errorMessage(err)
			t.NumPartitions, t.ReplicationFactor = -1, -1
		} else {
			t.TopicID, t.NumPartitions, t.ReplicationFactor = d.ID, int32(d.Partitions), 1
			for _, c := range d.Configs {
				rc := kmsg.NewCreateTopicsResponseTopicConfig()
				rc.Name = c.Name
				v := c.Value
				rc.Value = &v
				rc.Source = configSource(c.Source)
				t.Configs = append(t.Configs, rc)
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func createTopic(b *Broker, rt *kmsg.CreateTopicsRequestTopic, validateOnly bool) (store.TopicDescription, error) {
	if isInternalTopic(rt.Topic) {
		return store.TopicDescription{}, fmt.Errorf("%w: %q: names starting with \"__\" are the broker's internal topics", kerr.InvalidTopicException, rt.Topic)
	}
	partitions := int(rt.NumPartitions)
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return store.TopicDescription{}, fmt.Errorf("%w: give either a replica assignment or partitions and replication factor", kerr.InvalidRequest)
		}
		partitions = len(rt.ReplicaAssignment)
	}
	if rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 {
		return store.TopicDescription{}, fmt.Errorf("%w: replication factor %d: this broker is a single node", kerr.InvalidReplicationFactor, rt.ReplicationFactor)
	}
	configs := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return store.TopicDescription{}, fmt.Errorf("%w: config %q has a null value", store.ErrInvalidConfig, c.Name)
		}
		configs[c.Name] = *c.Value
	}
	if validateOnly {
		return b.store.ValidateTopic(rt.Topic, partitions, configs)
	}
	return b.store.CreateTopic(rt.Topic, partitions, configs)
}

// configSource maps a store config source to Kafka's DescribeConfigs code.
func configSource(s store.ConfigSource) int8 {
	switch s {
	case store.SourceTopic:
		return 1 // DYNAMIC_TOPIC_CONFIG
	case store.SourceBroker:
		return 4 // STATIC_BROKER_CONFIG
	}
	return 5 // DEFAULT_CONFIG
}
