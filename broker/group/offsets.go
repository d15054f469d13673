package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete. A commit or
// a deletion is written to __consumer_offsets first and applied to the
// group, and answered, when the write is durable; writes of one group go to
// one partition and complete in order, so the offsets a group shows are
// always those its log replays to.

// offsetCommit serves OffsetCommit (handleCommitOffsets). Generation -1
// with no member id is a "simple" commit, accepted only while the group is
// Empty (and creating the group when it does not exist), as Kafka does.
func (c *Core) offsetCommit(id uint64, r *kmsg.OffsetCommitRequest) {
	resp := ErrorResponse(r, 0).(*kmsg.OffsetCommitResponse)
	fail := func(code int16) {
		c.reply(id, ErrorResponse(r, code))
	}
	switch {
	case r.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case c.loading:
		fail(kerr.CoordinatorLoadInProgress.Code)
		return
	}
	gen := r.Generation
	if r.Version == 0 {
		gen = -1
	}
	g := c.groups[r.Group]
	created := false
	if g == nil {
		if gen >= 0 {
			fail(kerr.IllegalGeneration.Code)
			return
		}
		g, created = c.newGroup(r.Group), true
	}
	if code := g.validateCommit(r.MemberID, r.InstanceID, gen); code != 0 {
		if created {
			c.dropGroup(g)
		}
		fail(code)
		return
	}
	if m := g.members[r.MemberID]; m != nil && (g.state == Stable || g.state == PreparingRebalance) {
		c.heartbeatDeadline(g, m)
	}

	type commit struct {
		tp   topicPartition
		o    offset
		code *int16
	}
	var commits []commit
	var recs []Record
	now := c.now.UnixMilli()
	for i, rt := range r.Topics {
		for j, rp := range rt.Partitions {
			code := &resp.Topics[i].Partitions[j].ErrorCode
			if !c.exists(rt.Topic, rp.Partition) {
				*code = kerr.UnknownTopicOrPartition.Code
				continue
			}
			var meta string
			if rp.Metadata != nil {
				meta = *rp.Metadata
			}
			if len(meta) > c.opts.MaxMetadataBytes {
				*code = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := offset{offset: rp.Offset, leaderEpoch: -1, metadata: meta, commitTime: now}
			if r.Version >= 6 {
				o.leaderEpoch = rp.LeaderEpoch
			}
			if r.Version == 1 && rp.Timestamp != -1 {
				o.commitTime = rp.Timestamp
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			commits = append(commits, commit{tp, o, code})
			recs = append(recs, Record{Key: offsetKey(g.id, tp.topic, tp.partition), Value: offsetValue(o)})
		}
	}
	if len(recs) == 0 {
		if created {
			c.dropGroup(g)
		}
		c.reply(id, resp)
		return
	}
	for _, cm := range commits {
		g.inflight[cm.tp]++
	}
	c.write(g.id, recs, func(err error) {
		for _, cm := range commits {
			if g.inflight[cm.tp]--; g.inflight[cm.tp] <= 0 {
				delete(g.inflight, cm.tp)
			}
			switch {
			case err != nil:
				*cm.code = commitErrorCode(err)
			case !g.dead:
				g.offsets[cm.tp] = cm.o
			}
		}
		if err != nil {
			c.log.Warn("group coordinator: writing an offset commit failed", "group", g.id, "err", err)
			if !g.dead && g.unused() {
				c.dropGroup(g)
			}
		}
		c.reply(id, resp)
	})
}

// validateCommit is Kafka's validateOffsetCommit.
func (g *group) validateCommit(memberID string, instanceID *string, gen int32) int16 {
	if gen < 0 && g.state == Empty {
		return 0 // an admin client, or a consumer without group management
	}
	if gen >= 0 || memberID != "" || instanceID != nil {
		if code := g.validateMember(memberID, instanceID); code != 0 {
			return code
		}
		if gen != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if g.state != Empty {
		return kerr.UnknownMemberID.Code
	}
	if g.state == CompletingRebalance {
		// The member has its JoinGroup answer but not the assignment:
		// let it finish the rebalance first.
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// fetchTopic is one topic of an OffsetFetch, in either request layout.
type fetchTopic struct {
	topic      string
	partitions []int32
}

type fetchedPartition struct {
	partition int32
	o         offset
	found     bool
	unstable  bool // an open transaction has offsets pending here
}

type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

// fetchOffsets returns the committed offsets of group for topics (nil: all
// the group has), and the group-level error code.
func (c *Core) fetchOffsets(groupID string, topics []fetchTopic) ([]fetchedTopic, int16) {
	switch {
	case groupID == "":
		return nil, kerr.InvalidGroupID.Code
	case c.loading:
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	g := c.groups[groupID]
	var out []fetchedTopic
	if topics == nil {
		if g == nil {
			return nil, 0
		}
		for _, tp := range sortedPartitions(g.offsets) {
			if len(out) == 0 || out[len(out)-1].topic != tp.topic {
				out = append(out, fetchedTopic{topic: tp.topic})
			}
			t := &out[len(out)-1]
			t.partitions = append(t.partitions, fetchedPartition{partition: tp.partition, o: g.offsets[tp], found: true, unstable: g.unstable(tp)})
		}
		return out, 0
	}
	for _, rt := range topics {
		t := fetchedTopic{topic: rt.topic}
		for _, p := range rt.partitions {
			fp := fetchedPartition{partition: p}
			if g != nil {
				fp.o, fp.found = g.offsets[topicPartition{rt.topic, p}]
				fp.unstable = g.unstable(topicPartition{rt.topic, p})
			}
			t.partitions = append(t.partitions, fp)
		}
		out = append(out, t)
	}
	return out, 0
}

// offsetFetch serves OffsetFetch: v0-v7 one group, v8 a batch of groups;
// null topics (v2+) ask for every committed offset of the group. A
// partition without a committed offset answers offset -1, empty metadata,
// no error, as does a group that does not exist. With v7's require_stable,
// a partition whose offsets an open transaction has pending answers
// UNSTABLE_OFFSET_COMMIT (retriable), as Kafka does.
func (c *Core) offsetFetch(id uint64, r *kmsg.OffsetFetchRequest) {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version >= 8 {
		for _, rg := range r.Groups {
			var topics []fetchTopic
			if rg.Topics != nil {
				topics = []fetchTopic{}
				for _, t := range rg.Topics {
					topics = append(topics, fetchTopic{t.Topic, t.Partitions})
				}
			}
			fetched, code := c.fetchOffsets(rg.Group, topics)
			og := kmsg.NewOffsetFetchResponseGroup()
			og.Group, og.ErrorCode = rg.Group, code
			for _, ft := range fetched {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = ft.topic
				for _, fp := range ft.partitions {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition = fp.partition
					op.Offset, op.LeaderEpoch, op.Metadata = offsetFields(fp)
					if r.RequireStable && fp.unstable {
						op.ErrorCode = kerr.UnstableOffsetCommit.Code
					}
					ot.Partitions = append(ot.Partitions, op)
				}
				og.Topics = append(og.Topics, ot)
			}
			resp.Groups = append(resp.Groups, og)
		}
		c.reply(id, resp)
		return
	}
	var topics []fetchTopic
	if r.Topics != nil || r.Version < 2 {
		topics = []fetchTopic{}
		for _, t := range r.Topics {
			topics = append(topics, fetchTopic{t.Topic, t.Partitions})
		}
	}
	fetched, code := c.fetchOffsets(r.Group, topics)
	if code != 0 {
		c.reply(id, ErrorResponse(r, code))
		return
	}
	for _, ft := range fetched {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = ft.topic
		for _, fp := range ft.partitions {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition = fp.partition
			op.Offset, op.LeaderEpoch, op.Metadata = offsetFields(fp)
			if r.RequireStable && fp.unstable {
				op.ErrorCode = kerr.UnstableOffsetCommit.Code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	c.reply(id, resp)
}

func offsetFields(fp fetchedPartition) (int64, int32, *string) {
	if !fp.found {
		empty := ""
		return -1, -1, &empty
	}
	meta := fp.o.metadata
	return fp.o.offset, fp.o.leaderEpoch, &meta
}

// offsetDelete serves OffsetDelete (handleDeleteOffsets): any offset of an
// Empty group; in a consumer group with members, only offsets of topics no
// member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the others); in any
// other group with members, none (NON_EMPTY_GROUP).
func (c *Core) offsetDelete(id uint64, r *kmsg.OffsetDeleteRequest) {
	fail := func(code int16) { c.reply(id, ErrorResponse(r, code)) }
	switch {
	case r.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case c.loading:
		fail(kerr.CoordinatorLoadInProgress.Code)
		return
	}
	g := c.groups[r.Group]
	if g == nil {
		fail(kerr.GroupIDNotFound.Code)
		return
	}
	if g.state != Empty && g.protocolType != "consumer" {
		fail(kerr.NonEmptyGroup.Code)
		return
	}
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	var deletes []topicPartition
	var recs []Record
	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetDeleteResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetDeleteResponseTopicPartition()
			op.Partition = rp.Partition
			tp := topicPartition{rt.Topic, rp.Partition}
			_, committed := g.offsets[tp]
			switch {
			case !c.exists(rt.Topic, rp.Partition):
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case g.state != Empty && g.isSubscribed(rt.Topic):
				op.ErrorCode = kerr.GroupSubscribedToTopic.Code
			case committed || g.inflight[tp] > 0:
				deletes = append(deletes, tp)
				recs = append(recs, Record{Key: offsetKey(g.id, tp.topic, tp.partition)})
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if len(recs) == 0 {
		c.reply(id, resp)
		return
	}
	c.write(g.id, recs, func(err error) {
		if err != nil {
			c.log.Warn("group coordinator: writing offset tombstones failed", "group", g.id, "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			resp.Topics = nil
		} else {
			for _, tp := range deletes {
				delete(g.offsets, tp)
			}
		}
		c.reply(id, resp)
	})
}
