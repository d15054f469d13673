package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit: partitions that do not exist are answered
// UNKNOWN_TOPIC_OR_PARTITION, the others are written as the producer's
// transactional batch and stay pending (invisible, unstable) until EndTxn.
func TestTxnOffsetCommitUnknownPartitionAndPending(t *testing.T) {
	t.Parallel()
	c, err := NewCore(&Options{PartitionExists: func(topic string, p int32) bool { return topic == "in" && p == 0 }}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	c.FinishLoad()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Group, req.ProducerID, req.ProducerEpoch = "g", 7, 0
	for _, p := range []int32{0, 1} {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "in"
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 42
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	c.Handle(1, Client{}, req)
	rd := c.Ready()
	if len(rd.Writes) != 1 || len(rd.Writes[0].Records) != 1 || rd.Writes[0].Producer == nil || rd.Writes[0].Producer.ID != 7 {
		t.Fatalf("writes %+v, want one transactional record of producer 7", rd.Writes)
	}
	c.WriteDone(rd.Writes[0].ID, nil)
	rd = c.Ready()
	if len(rd.Replies) != 1 {
		t.Fatalf("replies %+v", rd.Replies)
	}
	resp := rd.Replies[0].Resp.(*kmsg.TxnOffsetCommitResponse)
	if resp.Topics[0].Partitions[0].ErrorCode != 0 || resp.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("codes %+v", resp.Topics)
	}
	g := c.groups["g"]
	tp := topicPartition{"in", 0}
	if _, visible := g.offsets[tp]; visible || !g.unstable(tp) {
		t.Fatal("a transactional offset is visible before its transaction ends")
	}
	c.EndTxn([]string{"g"}, 7, true)
	if o, visible := g.offsets[tp]; !visible || o.offset != 42 || g.unstable(tp) {
		t.Fatalf("after commit: %+v visible=%v", o, visible)
	}
}
