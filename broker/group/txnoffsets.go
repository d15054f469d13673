package group

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactional offsets (TxnOffsetCommit, KIP-98): a producer commits the
// consumer offsets of its transaction to the group. As in Kafka, they are
// written to __consumer_offsets at once, as a transactional batch under the
// producer's id, and stay pending, invisible to OffsetFetch, until the
// transaction ends: the transaction coordinator writes its marker to the
// group's partition and calls EndTxn, which applies them (commit) or drops
// them (abort). At load, the markers in the partition resolve the pending
// offsets that precede them, so a restart ends in the same state.
// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for a
// partition with pending offsets, and the client retries.

// Producer identifies the transactional producer that a write or a loaded
// record belongs to.
type Producer struct {
	ID    int64
	Epoch int16
}

// Marker is a transaction marker read back from __consumer_offsets.
type Marker struct {
	ProducerID int64
	Commit     bool
}

// txnOffsetCommit serves TxnOffsetCommit. The broker has checked with the
// transaction coordinator that the producer's transaction is open and
// holds the group.
func (c *Core) txnOffsetCommit(id uint64, r *kmsg.TxnOffsetCommitRequest) {
	resp := ErrorResponse(r, 0).(*kmsg.TxnOffsetCommitResponse)
	switch {
	case r.Group == "":
		c.reply(id, ErrorResponse(r, kerr.InvalidGroupID.Code))
		return
	case c.loading:
		c.reply(id, ErrorResponse(r, kerr.CoordinatorLoadInProgress.Code))
		return
	}
	g := c.groups[r.Group]
	created := false
	if g == nil {
		g, created = c.newGroup(r.Group), true
	}
	// v3+ (KIP-447) carries the member's generation: a zombie consumer
	// of an older generation must not commit.
	if r.Version >= 3 && (r.Generation >= 0 || r.MemberID != "") {
		if code := g.validateCommit(r.MemberID, r.InstanceID, r.Generation); code != 0 {
			if created {
				c.dropGroup(g)
			}
			c.reply(id, ErrorResponse(r, code))
			return
		}
	}
	type commit struct {
		tp topicPartition
		o  offset
	}
	var commits []commit
	var recs []Record
	now := c.now.UnixMilli()
	for i, rt := range r.Topics {
		for j, rp := range rt.Partitions {
			if !c.exists(rt.Topic, rp.Partition) {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			var meta string
			if rp.Metadata != nil {
				meta = *rp.Metadata
			}
			if len(meta) > c.opts.MaxMetadataBytes {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := offset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: meta, commitTime: now}
			if r.Version < 2 {
				o.leaderEpoch = -1
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			commits = append(commits, commit{tp, o})
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
	g.txnInflight++
	c.writeAs(g.id, &Producer{ID: r.ProducerID, Epoch: r.ProducerEpoch}, recs, func(err error) {
		g.txnInflight--
		if err != nil {
			c.log.Warn("group coordinator: writing a transactional offset commit failed", "group", g.id, "err", err)
			code := commitErrorCode(err)
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					if resp.Topics[i].Partitions[j].ErrorCode == 0 {
						resp.Topics[i].Partitions[j].ErrorCode = code
					}
				}
			}
			if !g.dead && g.unused() {
				c.dropGroup(g)
			}
			c.reply(id, resp)
			return
		}
		if !g.dead {
			for _, cm := range commits {
				g.addPending(r.ProducerID, cm.tp, cm.o)
			}
		}
		c.reply(id, resp)
	})
}

func (g *group) addPending(pid int64, tp topicPartition, o offset) {
	if g.txnPending == nil {
		g.txnPending = map[int64]map[topicPartition]offset{}
	}
	if g.txnPending[pid] == nil {
		g.txnPending[pid] = map[topicPartition]offset{}
	}
	g.txnPending[pid][tp] = o
}

// resolve applies (commit) or drops the offsets pid has pending in g.
func (g *group) resolve(pid int64, commit bool) {
	if commit {
		for tp, o := range g.txnPending[pid] {
			g.offsets[tp] = o
		}
	}
	delete(g.txnPending, pid)
}

// unstable reports whether a transaction has offsets pending for tp.
func (g *group) unstable(tp topicPartition) bool {
	for _, m := range g.txnPending {
		if _, ok := m[tp]; ok {
			return true
		}
	}
	return false
}

// EndTxn applies (commit) or drops the offsets that producer pid has
// pending in groups; the transaction coordinator calls it once the
// transaction's markers are durable. While loading, it waits for the end
// of loading (the markers may or may not have been read by then; either
// way the result is the same).
func (c *Core) EndTxn(groups []string, pid int64, commit bool) {
	if c.loading {
		c.deferredEnds = append(c.deferredEnds, deferredEnd{groups, pid, commit})
		return
	}
	for _, id := range groups {
		if g := c.groups[id]; g != nil {
			g.resolve(pid, commit)
		}
	}
}

type deferredEnd struct {
	groups []string
	pid    int64
	commit bool
}

// ReplayRecord is Replay for a record read back from partition p, which
// may be transactional (pending until its marker) or a marker.
func (c *Core) ReplayRecord(p int32, rec Record) error {
	switch {
	case rec.Marker != nil:
		for _, g := range c.groups {
			if PartitionFor(g.id, c.opts.Partitions) == p && g.txnPending[rec.Marker.ProducerID] != nil {
				g.resolve(rec.Marker.ProducerID, rec.Marker.Commit)
			}
		}
		return nil
	case rec.Producer != nil:
		d, err := decodeRecord(rec.Key, rec.Value)
		if err != nil {
			return err
		}
		if !d.isOffset || d.offset == nil {
			return fmt.Errorf("%w: a transactional record of group %q that is not an offset commit", errBadRecord, d.group)
		}
		g := c.groups[d.group]
		if g == nil {
			g = c.newGroup(d.group)
		}
		g.addPending(rec.Producer.ID, topicPartition{d.topic, d.partition}, *d.offset)
		return nil
	}
	return c.Replay(rec.Key, rec.Value)
}
