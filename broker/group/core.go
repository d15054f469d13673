package group

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Core is the coordinator's deterministic state machine: every group, its
// members, its committed offsets, and the deadlines of all of them. It has
// no goroutines, no clock and no I/O, like etcd raft's RawNode: the owner
// feeds it requests (Handle), time (Advance), the outcome of the writes it
// asked for (WriteDone) and, at startup, the records of __consumer_offsets
// (Replay, FinishLoad); and after each call collects what it produced with
// Ready: the replies to send and the records to write. A request can be
// answered at once or much later (a JoinGroup waits for the rebalance), so
// replies are tagged with the id the owner gave the request.
//
// A Core is not safe for concurrent use; Coordinator owns one from a single
// goroutine. Tests drive one directly with a fake clock.
type Core struct {
	opts     Options
	now      time.Time
	loading  bool // until FinishLoad
	shutdown bool // after Shutdown

	groups map[string]*group

	timers   timerHeap
	timerSeq uint64

	writeSeq uint64
	writes   map[uint64]func(error) // completions of outstanding writes

	ready Ready
	log   *slog.Logger

	deferredEnds []deferredEnd // EndTxn calls that arrived while loading
}

// Client describes the connection a request came from; DescribeGroups
// shows it per member.
type Client struct {
	// ID is the request header's client.id.
	ID string
	// Host is the client's address as Kafka shows it: "/127.0.0.1".
	Host string
}

// Ready is what the Core produced since the last call to Ready: replies for
// the owner to deliver and records for it to write.
type Ready struct {
	Replies []Reply
	Writes  []Write
}

// Reply answers the request the owner handed in with ID.
type Reply struct {
	ID   uint64
	Resp kmsg.Response
}

// Write asks the owner to append Records, in order, to partition Partition
// of __consumer_offsets, durably, and then to call WriteDone(ID, err).
// Writes to one partition must be appended, and completed, in the order
// the Core emitted them: the Core applies their effects when they complete
// and relies on that order (a commit, then a deletion of the same offset).
type Write struct {
	ID        uint64
	Partition int32
	Records   []Record
	// Producer, when set, makes the records a transactional batch of that
	// producer (TxnOffsetCommit); such a write is never merged with others.
	Producer *Producer
}

// NewCore returns a Core in the loading state (every request is answered
// COORDINATOR_LOAD_IN_PROGRESS, or what Kafka answers instead for that API,
// until FinishLoad), at time now.
func NewCore(opts *Options, now time.Time) (*Core, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Core{
		opts:    o,
		now:     now,
		loading: true,
		groups:  map[string]*group{},
		writes:  map[uint64]func(error){},
		log:     o.Logger,
	}, nil
}

// Ready returns and clears what the Core produced since the last call. The
// caller owns the returned slices.
func (c *Core) Ready() Ready {
	r := c.ready
	c.ready = Ready{}
	return r
}

// Loading reports whether FinishLoad has not been called yet.
func (c *Core) Loading() bool { return c.loading }

// Advance moves the clock to now (never backwards) and fires the deadlines
// that are due: session expiries, the end of join phases, sync timeouts.
func (c *Core) Advance(now time.Time) {
	if now.After(c.now) {
		c.now = now
	}
	c.fireDue()
}

// Handle serves one request of a group API (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups,
// ListGroups, DeleteGroups, OffsetDelete). Its reply, tagged id, comes out
// of Ready now or later; every request gets exactly one reply, at the
// latest when Shutdown is called or its write completes. The Core copies
// every byte slice of req it keeps (protocol metadata, assignments), so the
// buffer req was decoded from may be reused once Handle returns; it keeps
// req itself until it answers, and reads only its version then.
func (c *Core) Handle(id uint64, cl Client, req kmsg.Request) {
	if c.shutdown {
		c.reply(id, ErrorResponse(req, kerr.CoordinatorNotAvailable.Code))
		return
	}
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		c.joinGroup(id, cl, r)
	case *kmsg.SyncGroupRequest:
		c.syncGroup(id, r)
	case *kmsg.HeartbeatRequest:
		c.heartbeat(id, r)
	case *kmsg.LeaveGroupRequest:
		c.leaveGroup(id, r)
	case *kmsg.OffsetCommitRequest:
		c.offsetCommit(id, r)
	case *kmsg.OffsetFetchRequest:
		c.offsetFetch(id, r)
	case *kmsg.DescribeGroupsRequest:
		c.describeGroups(id, r)
	case *kmsg.ListGroupsRequest:
		c.listGroups(id, r)
	case *kmsg.DeleteGroupsRequest:
		c.deleteGroups(id, r)
	case *kmsg.OffsetDeleteRequest:
		c.offsetDelete(id, r)
	case *kmsg.TxnOffsetCommitRequest:
		c.txnOffsetCommit(id, r)
	default:
		c.reply(id, ErrorResponse(req, kerr.UnknownServerError.Code))
		c.log.Error("group coordinator: request of an API it does not serve", "key", kmsg.NameForKey(req.Key()))
		return
	}
	c.fireDue() // a zero delay (initial rebalance delay 0) fires now
}

// exists reports whether a partition exists (Options.PartitionExists).
func (c *Core) exists(topic string, partition int32) bool {
	return c.opts.PartitionExists == nil || c.opts.PartitionExists(topic, partition)
}

// WriteDone reports the outcome of the write with id: nil once its
// records are durable. Effects of the write (offsets becoming visible, a
// group turning Stable) and the replies waiting for it follow.
func (c *Core) WriteDone(id uint64, err error) {
	done, ok := c.writes[id]
	if !ok {
		return
	}
	delete(c.writes, id)
	done(err)
	c.fireDue()
}

// Shutdown answers every request still waiting (joins and syncs) with
// COORDINATOR_NOT_AVAILABLE, so that clients look for the coordinator
// again, and makes the Core answer every later request the same way.
// Writes already emitted still complete through WriteDone.
func (c *Core) Shutdown() {
	if c.shutdown {
		return
	}
	c.shutdown = true
	for _, id := range sortedKeys(c.groups) {
		g := c.groups[id]
		for _, m := range g.ordered() {
			c.answerWaiters(g, m, kerr.CoordinatorNotAvailable.Code)
		}
	}
}

// reply queues a response.
func (c *Core) reply(id uint64, resp kmsg.Response) {
	c.ready.Replies = append(c.ready.Replies, Reply{ID: id, Resp: resp})
}

// write queues records for group's partition and registers done to run
// when they are durable (or failed).
func (c *Core) write(group string, recs []Record, done func(error)) {
	c.writeAs(group, nil, recs, done)
}

// writeAs is write for records of a producer's transaction (producer not
// nil): they go in a transactional batch of their own.
func (c *Core) writeAs(group string, producer *Producer, recs []Record, done func(error)) {
	c.writeSeq++
	id := c.writeSeq
	c.writes[id] = done
	c.ready.Writes = append(c.ready.Writes, Write{ID: id, Partition: PartitionFor(group, c.opts.Partitions), Records: recs, Producer: producer})
}

// commitErrorCode maps a failed offset write to the code of the commit:
// Kafka's INVALID_COMMIT_OFFSET_SIZE for an oversized batch, and the
// retriable COORDINATOR_NOT_AVAILABLE for anything else (a single broker
// has no other coordinator to send the client to).
func commitErrorCode(err error) int16 {
	if errors.Is(err, ErrTooLarge) {
		return kerr.InvalidCommitOffsetSize.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// groupWriteErrorCode maps a failed group metadata write (a SyncGroup) to
// its code, as Kafka does.
func groupWriteErrorCode(err error) int16 {
	if errors.Is(err, ErrTooLarge) {
		return kerr.UnknownServerError.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// Replay applies one record of __consumer_offsets read at startup, in log
// order. Records that do not decode are skipped and reported in the error;
// loading goes on.
func (c *Core) Replay(key, value []byte) error {
	d, err := decodeRecord(key, value)
	if err != nil {
		return err
	}
	g := c.groups[d.group]
	if g == nil {
		g = c.newGroup(d.group)
	}
	switch {
	case d.isOffset && d.offset != nil:
		g.offsets[topicPartition{d.topic, d.partition}] = *d.offset
	case d.isOffset:
		delete(g.offsets, topicPartition{d.topic, d.partition})
	case d.meta != nil:
		if err := g.restore(d.meta); err != nil {
			return fmt.Errorf("%w: group %q: %w", errBadRecord, d.group, err)
		}
	default:
		g.forget()
	}
	return nil
}

// FinishLoad ends the loading state: groups that hold neither metadata nor
// offsets are dropped, and every restored member gets a session deadline
// from now, as Kafka does when it loads a group. A member that does not
// heartbeat within its session timeout is removed and the group rebalances.
func (c *Core) FinishLoad() {
	if !c.loading {
		return
	}
	c.loading = false
	members := 0
	for _, id := range sortedKeys(c.groups) {
		g := c.groups[id]
		if !g.hasMetadata && len(g.offsets) == 0 && len(g.txnPending) == 0 {
			delete(c.groups, id)
			continue
		}
		for _, m := range g.ordered() {
			c.heartbeatDeadline(g, m)
			members++
		}
	}
	for _, e := range c.deferredEnds {
		c.EndTxn(e.groups, e.pid, e.commit)
	}
	c.deferredEnds = nil
	c.log.Info("group coordinator loaded", "groups", len(c.groups), "members", members)
	c.fireDue()
}
