// Package group is runnel's group coordinator: Kafka's classic consumer
// group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed
// offsets (OffsetCommit, OffsetFetch, OffsetDelete) and group
// administration (DescribeGroups, ListGroups, DeleteGroups), with every
// group and offset persisted in the internal compacted topic
// __consumer_offsets in Kafka's own record format and restored at startup.
// It knows nothing of the wire: package broker decodes requests, hands them
// to Coordinator.Handle, and encodes the responses (kmsg types both ways).
//
// # Design: a deterministic core and one owner goroutine
//
// A group coordinator is a state machine driven by three kinds of input:
// requests, the passing of time (sessions expire, join phases end), and
// the completion of its own writes. Kafka runs it under a lock per group
// with purgatories of delayed operations; kfake runs it in a goroutine per
// group. runnel splits it the way etcd raft splits RawNode from Node:
//
//   - Core is the whole state machine and nothing else: no goroutines, no
//     clock, no I/O. Time is an argument (Advance), deadlines are entries in
//     a heap it fires itself, and what it wants done comes out of Ready: the
//     replies to send and the records to write. A request that must wait (a
//     JoinGroup waits for the rebalance, a SyncGroup for the leader's
//     assignment, an OffsetCommit for its write) is kept as a waiter, and its
//     reply comes out of Ready whenever the state machine completes it. The
//     golden tests (testdata/*.txt) drive a Core with a fake clock and show
//     every reply and every record written, so a scenario such as "a member
//     stops heartbeating" is a script, reproducible to the millisecond.
//   - Coordinator is the driver: one goroutine owns the Core and serializes
//     everything that touches it, selecting over requests, write
//     completions, loaded records, a timer set to the Core's next deadline,
//     and Close, like kfake's Cluster.run and raft's node.run. A handler
//     calls Handle, which sends its request with a reply channel and waits;
//     the owner loop never blocks on anyone: reply channels are buffered,
//     writes are queued to writer goroutines, and a waiting JoinGroup costs
//     nothing but an entry in the Core. There are no locks around group
//     state, and no goroutine per waiting request.
//
// A client that disconnects while its JoinGroup waits leaves no goroutine
// behind in the coordinator; its connection's goroutine (which serves one
// request at a time, as Kafka's connections do) stays until the join phase
// ends, which the rebalance timeout bounds, then finds the connection gone
// and exits; the member, which never sends SyncGroup, is removed after the
// rebalance timeout. Close answers every waiting request
// COORDINATOR_NOT_AVAILABLE (clients then look for the coordinator again),
// lets the writes in progress complete and answer, and waits for every
// goroutine.
//
// # States
//
//	                   join                 every member joined, or the
//	┌───────┐  (first member)  ┌───────────┐   rebalance timeout   ┌─────────────┐
//	│ Empty │ ───────────────▶ │ Preparing │ ────────────────────▶ │ Completing  │
//	│       │ ◀─────────────── │ Rebalance │ ◀──────────────────── │ Rebalance   │
//	└───────┘   nobody joined  └───────────┘  a member joins,       └─────────────┘
//	    │                            ▲        leaves, expires or           │ the leader's
//	    │ DeleteGroups               │        changes its metadata         │ SyncGroup is
//	    ▼                            │                                     ▼ durable
//	 (Dead:                          │  a member joins, leaves,      ┌─────────────┐
//	  removed)                       └────────────────────────────── │   Stable    │
//	                                    expires, misses SyncGroup    └─────────────┘
//
// The rules are Kafka's GroupCoordinator's, decision for decision: members
// join without an id first and get MEMBER_ID_REQUIRED and one (v4+,
// KIP-394); the first rebalance of an empty group waits
// group.initial.rebalance.delay.ms, and again while new members keep
// arriving, up to the rebalance timeout; the join phase otherwise ends
// when every member has rejoined, or at the longest rebalance timeout of
// the members, which drops the dynamic members that did not rejoin; the
// protocol is chosen by vote among those every member supports; the
// leader's assignment is persisted before anyone gets it; members that get
// their JoinGroup answer but never send SyncGroup are dropped after the
// rebalance timeout; a member's session restarts with each heartbeat and
// each answer, and a member waiting in JoinGroup or SyncGroup counts as
// alive, except a new member's first JoinGroup, which gets Kafka's five
// minutes. Static members (group.instance.id, KIP-345) rejoin under a new
// member id, fence the old one (FENCED_INSTANCE_ID), and in a Stable group
// whose protocol would not change get their assignment back without a
// rebalance; v9 tells a rejoining static leader to skip the assignment
// (KIP-814). Assignors run in the clients: range, roundrobin, sticky,
// cooperative-sticky and any other protocol are opaque bytes relayed from
// the leader to the members, as in Kafka.
//
// # __consumer_offsets
//
// Records use Kafka's schemas (kmsg), keys and values each starting with
// their int16 version, so the topic reads like Kafka's and Kafka's records
// load here:
//
//	offset commit key    (version 1)  | version int16 | group string | topic string | partition int32 |
//	offset commit value  (version 3)  | version int16 | offset int64 | leader epoch int32 | metadata string | commit timestamp int64 |
//	group metadata key   (version 2)  | version int16 | group string |
//	group metadata value (version 3)  | version int16 | protocol type | generation int32 | protocol | leader |
//	                                    state timestamp int64 | members: [ member id | instance id | client id |
//	                                    client host | rebalance timeout | session timeout | subscription | assignment ]
//
// (strings int16-length-prefixed; a null value is a tombstone.) A group's
// records all go to partition abs(hashCode(group)) % partitions, with
// Java's String.hashCode: Kafka's rule. The topic has cleanup.policy=compact
// (the newest record per key is kept; tombstones go after
// delete.retention.ms) and is created on the first write.
//
// Nothing is acknowledged before it is durable. The Core emits a write
// and applies its effect only when the write completes: an offset becomes
// visible to OffsetFetch, a group turns Stable, an OffsetDelete or
// DeleteGroups is answered. One writer goroutine per partition appends the
// writes of that partition in the order the Core emitted them, and the
// Core applies completions in that order, so the in-memory state is always
// what replaying the log gives, even with a commit and a deletion of the
// same offset in flight together. A writer puts everything queued while
// its previous append was syncing into one batch: concurrent commits of
// many groups share one fsync (group commit).
//
// Partitions: Kafka's default of 50 spreads coordinators over the brokers
// of a cluster; one broker gains nothing from it, and each partition costs
// a directory, open files, and its own fsyncs, which then cannot be
// shared. runnel's offsets.topic.num.partitions defaults to 1 (1 to 50 can
// be configured); like Kafka, an existing topic's count wins over the
// setting.
//
// At startup the Coordinator reads every partition from its start (the
// loader goroutine decodes; the owner applies) and answers
// COORDINATOR_LOAD_IN_PROGRESS until it is done, or what Kafka answers
// instead for some APIs (NONE for Heartbeat, REBALANCE_IN_PROGRESS for
// SyncGroup). A read error is retried; groups stay loading rather than be
// served without their offsets. Groups come back as they were: Empty ones
// with their generation and protocol type, others Stable with their
// members, leader and assignments, each member with a fresh session, so
// consumers that keep heartbeating across a broker restart carry on without
// a rebalance, and members that are gone are removed after their session
// timeout.
//
// # Differences from Kafka
//
//   - Committed offsets never expire (offsets.retention.minutes; the
//     retention time of OffsetCommit v2-v4 is ignored), and an empty group
//     stays until DeleteGroups (Kafka drops empty groups without offsets
//     at its next offsets.retention.check.interval.ms pass). A group whose
//     only trace was a MEMBER_ID_REQUIRED id that expired is dropped at
//     once.
//   - Deleting a topic leaves the offsets committed for it (Kafka removes
//     them); OffsetDelete or DeleteGroups does.
//   - No group.max.size: GROUP_MAX_SIZE_REACHED never comes.
//   - One broker coordinates everything: NOT_COORDINATOR never comes.
//   - The KIP-848 protocol (ConsumerGroupHeartbeat) is not served;
//     clients use the classic one.
//   - Ties in the protocol vote go to the leader's preference (Kafka's pick
//     among equals is arbitrary).
//   - Requests Kafka would leave unanswered get an answer: a JoinGroup
//     superseded by the same member's newer one gets REBALANCE_IN_PROGRESS,
//     a SyncGroup of a member removed meanwhile gets UNKNOWN_MEMBER_ID.
//   - Member ids are the client id (or instance id) and a random UUID, as in
//     Kafka; the client host is the address without the port ("/10.0.0.7").
//
// # Usage
//
//	c, err := group.New(storage, &group.Options{MinSessionTimeout: 6 * time.Second})
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.Handle(ctx, group.Client{ID: clientID, Host: "/" + host}, joinGroupRequest)
package group
