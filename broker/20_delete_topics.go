package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteTopics: v0-v6. Topics are named (v6 may name them by id instead,
// which answers UNKNOWN_TOPIC_ID for ids this broker does not know). The
// partitions' directories are removed before the answer. The broker's
// internal topics (names starting with "__") cannot be deleted
// (INVALID_TOPIC_EXCEPTION).

func init() { regKey(kmsg.DeleteTopics, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(b *Broker, _ *clientConn, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	names := req.TopicNames
	if req.Version >= 6 {
		names = nil
		for _, t := range req.Topics {
			if t.Topic == nil {
				rt := kmsg.NewDeleteTopicsResponseTopic()
				rt.TopicID, rt.ErrorCode = t.TopicID, kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, rt)
				continue
			}
			names = append(names, *t.Topic)
		}
	}
	for _, name := range names {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		rt.Topic = &n
		if d, err := b.store.Topic(name); err == nil {
			rt.TopicID = d.ID
		}
		err := fmt.Errorf("%w: %q is internal to the broker", kerr.InvalidTopicException, name)
		if !isInternalTopic(name) {
			err = b.store.DeleteTopic(name)
		}
		if err != nil {
			rt.ErrorCode, rt.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
