package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/internal/kafkahash"
	"github.com/runnel-io/runnel/broker/log"
)

// StateTopic is the internal topic holding the transactions' state.
const StateTopic = "__transaction_state"

// Logs is what the coordinator needs from the broker's storage.
type Logs interface {
	// StateLog returns partition p of StateTopic, creating the topic
	// (compacted, Config.StatePartitions partitions) on first use.
	StateLog(p int32) (*log.Log, error)
	// Partition returns the log of an existing partition, for markers.
	Partition(topic string, p int32) (*log.Log, error)
}

// Groups is the group coordinator, for transactions that carry consumer
// offsets (AddOffsetsToTxn, TxnOffsetCommit).
type Groups interface {
	// OffsetsTopic names the group coordinator's internal topic.
	OffsetsTopic() string
	// OffsetsPartition is the partition of OffsetsTopic holding group.
	OffsetsPartition(group string) int32
	// EndTxn makes the offsets that producer pid committed in its
	// transaction for groups visible (commit) or drops them. It is called
	// after the markers are durable.
	EndTxn(groups []string, pid int64, epoch int16, commit bool)
}

// Config configures a Coordinator.
type Config struct {
	// Dir is the data directory (for the producer id blocks).
	Dir string
	// StatePartitions (transaction.state.log.num.partitions): partitions
	// of StateTopic. Kafka's default is 50; runnel's is 1, since one
	// broker gains nothing from more and each costs open files.
	StatePartitions int32
	// MaxTimeout (transaction.max.timeout.ms) bounds the timeout a
	// producer may ask for. Default 15 minutes, Kafka's.
	MaxTimeout time.Duration
	// AbortInterval (transaction.abort.timed.out.transaction.cleanup.interval.ms)
	// is how often timed-out transactions are looked for. Default 10s.
	AbortInterval time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

func (c *Config) defaults() {
	if c.StatePartitions <= 0 {
		c.StatePartitions = 1
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = 15 * time.Minute
	}
	if c.AbortInterval <= 0 {
		c.AbortInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// transaction is the state of one transactional id. Its mu serializes the
// operations on it; Coordinator.mu only guards the map.
type transaction struct {
	mu         sync.Mutex
	id         string
	pid        int64
	epoch      int16
	timeout    time.Duration
	state      kmsg.TransactionState
	partitions map[TopicPartition]bool
	groups     map[string]bool
	started    time.Time // of the ongoing transaction
	updated    time.Time
}

// Coordinator is the transaction coordinator. Its methods are safe for
// concurrent use; operations on one transactional id run one at a time.
type Coordinator struct {
	cfg    Config
	logs   Logs
	groups Groups
	ids    *idAllocator

	mu   sync.Mutex
	txns map[string]*transaction

	stop chan struct{}
	done chan struct{}
}

// Open loads the transactions' state from StateTopic, completes the
// transactions that were being committed or aborted, and starts the
// timeout checker. groups may be nil (AddOffsetsToTxn is then refused).
func Open(cfg Config, logs Logs, groups Groups) (*Coordinator, error) {
	cfg.defaults()
	ids, err := openIDs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	c := &Coordinator{cfg: cfg, logs: logs, groups: groups, ids: ids, txns: map[string]*transaction{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.load(); err != nil {
		return nil, err
	}
	for _, t := range c.txns {
		if t.state == kmsg.TransactionStatePrepareCommit || t.state == kmsg.TransactionStatePrepareAbort {
			t.mu.Lock()
			err := c.complete(t, t.state == kmsg.TransactionStatePrepareCommit)
			t.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("broker/txn: completing %q: %w", t.id, err)
			}
		}
	}
	go c.expireLoop()
	return c, nil
}

// Close stops the timeout checker. It is idempotent.
func (c *Coordinator) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// InitProducerID returns a producer id and epoch. Without a transactional
// id every call gets a new id (an idempotent producer). With one, the
// epoch of its id is bumped, fencing earlier producers with that id; an
// open transaction is aborted first. pid and epoch, when not -1, are the
// caller's current ones (KIP-360 epoch bump after an error): they must
// match. timeout is the transaction timeout.
func (c *Coordinator) InitProducerID(txnID *string, timeout time.Duration, pid int64, epoch int16) (int64, int16, error) {
	if txnID == nil {
		id, err := c.ids.allocate()
		return id, 0, err
	}
	if *txnID == "" {
		return -1, -1, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	if timeout <= 0 || timeout > c.cfg.MaxTimeout {
		return -1, -1, fmt.Errorf("%w: %v not in (0, %v]", kerr.InvalidTransactionTimeout, timeout, c.cfg.MaxTimeout)
	}
	t := c.get(*txnID, true)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pid >= 0 && pid >= 0 && (pid != t.pid || epoch != t.epoch) {
		return -1, -1, fmt.Errorf("%w: producer %d epoch %d, current %d epoch %d", kerr.ProducerFenced, pid, epoch, t.pid, t.epoch)
	}
	switch t.state {
	case kmsg.TransactionStateOngoing:
		// The previous producer died mid-transaction: abort it with a
		// bumped epoch, which also fences that producer.
		if err := c.bump(t); err != nil {
			return -1, -1, err
		}
		if err := c.prepare(t, false); err != nil {
			return -1, -1, err
		}
		fallthrough
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		if err := c.complete(t, t.state == kmsg.TransactionStatePrepareCommit); err != nil {
			return -1, -1, err
		}
	}
	if err := c.bump(t); err != nil {
		return -1, -1, err
	}
	t.timeout, t.state = timeout, kmsg.TransactionStateEmpty
	t.partitions, t.groups = map[TopicPartition]bool{}, map[string]bool{}
	if err := c.persist(t); err != nil {
		return -1, -1, err
	}
	return t.pid, t.epoch, nil
}

// bump moves t to the next epoch (a new producer id when the epoch would
// overflow). REQUIRES: t.mu.
func (c *Coordinator) bump(t *transaction) error {
	if t.pid < 0 || t.epoch >= 32766 {
		id, err := c.ids.allocate()
		if err != nil {
			return err
		}
		t.pid, t.epoch = id, 0
		return nil
	}
	t.epoch++
	return nil
}

// AddPartitions adds partitions to the producer's transaction, starting it
// when none is open. The result has one error (or nil) per partition.
func (c *Coordinator) AddPartitions(txnID string, pid int64, epoch int16, parts []TopicPartition) (map[TopicPartition]error, error) {
	t, err := c.check(txnID, pid, epoch)
	if err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	res := map[TopicPartition]error{}
	failed := false
	for _, p := range parts {
		if _, err := c.logs.Partition(p.Topic, p.Partition); err != nil {
			res[p], failed = err, true
		}
	}
	if failed {
		for _, p := range parts {
			if res[p] == nil {
				res[p] = kerr.OperationNotAttempted
			}
		}
		return res, nil
	}
	if err := c.begin(t, parts, ""); err != nil {
		return nil, err
	}
	for _, p := range parts {
		res[p] = nil
	}
	return res, nil
}

// AddOffsets adds the consumer offsets of group to the transaction.
func (c *Coordinator) AddOffsets(txnID string, pid int64, epoch int16, group string) error {
	if c.groups == nil {
		return fmt.Errorf("%w: no group coordinator", kerr.CoordinatorNotAvailable)
	}
	t, err := c.check(txnID, pid, epoch)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	p := TopicPartition{c.groups.OffsetsTopic(), c.groups.OffsetsPartition(group)}
	return c.begin(t, []TopicPartition{p}, group)
}

// CheckOffsets verifies, for TxnOffsetCommit, that the producer owns the
// transactional id and that its open transaction holds group
// (AddOffsetsToTxn), so that the offsets will be decided by a marker.
func (c *Coordinator) CheckOffsets(txnID string, pid int64, epoch int16, group string) error {
	t, err := c.check(txnID, pid, epoch)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	if t.state != kmsg.TransactionStateOngoing || !t.groups[group] {
		return fmt.Errorf("%w: %q has not added group %q to an open transaction (AddOffsetsToTxn)", kerr.InvalidTxnState, txnID, group)
	}
	return nil
}

// begin adds parts (and group) to t, opening a transaction when none is.
// REQUIRES: t.mu.
func (c *Coordinator) begin(t *transaction, parts []TopicPartition, group string) error {
	switch t.state {
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return fmt.Errorf("%w: %q is ending its transaction", kerr.ConcurrentTransactions, t.id)
	case kmsg.TransactionStateOngoing:
	default:
		t.state, t.started = kmsg.TransactionStateOngoing, c.cfg.Now()
		t.partitions, t.groups = map[TopicPartition]bool{}, map[string]bool{}
	}
	changed := false
	for _, p := range parts {
		if !t.partitions[p] {
			t.partitions[p], changed = true, true
		}
	}
	if group != "" && !t.groups[group] {
		t.groups[group], changed = true, true
	}
	if !changed && t.state == kmsg.TransactionStateOngoing && !t.updated.IsZero() {
		return nil
	}
	return c.persist(t)
}

// EndTxn commits or aborts the producer's transaction: markers to every
// partition, group offsets made visible or dropped, all durable before it
// returns. Ending an already completed transaction the same way again (a
// retry) succeeds.
func (c *Coordinator) EndTxn(txnID string, pid int64, epoch int16, commit bool) error {
	t, err := c.check(txnID, pid, epoch)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	switch t.state {
	case kmsg.TransactionStateOngoing:
		if err := c.prepare(t, commit); err != nil {
			return err
		}
		return c.complete(t, commit)
	case kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		if (t.state == kmsg.TransactionStateCompleteCommit) == commit {
			return nil
		}
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return fmt.Errorf("%w: %q is ending its transaction", kerr.ConcurrentTransactions, t.id)
	}
	return fmt.Errorf("%w: %q has no open transaction to %s (state %v)", kerr.InvalidTxnState, t.id, map[bool]string{true: "commit", false: "abort"}[commit], t.state)
}

// prepare records the decision. REQUIRES: t.mu.
func (c *Coordinator) prepare(t *transaction, commit bool) error {
	t.state = kmsg.TransactionStatePrepareAbort
	if commit {
		t.state = kmsg.TransactionStatePrepareCommit
	}
	return c.persist(t)
}

// complete writes the markers and the final state. REQUIRES: t.mu.
func (c *Coordinator) complete(t *transaction, commit bool) error {
	for _, p := range sortedPartitions(t.partitions) {
		l, err := c.logs.Partition(p.Topic, p.Partition)
		if err != nil {
			// The partition was deleted since: nothing to mark.
			c.cfg.Logger.Warn("transaction marker skipped", "transactional_id", t.id, "topic", p.Topic, "partition", p.Partition, "err", err)
			continue
		}
		if _, err := l.AppendControl(t.pid, t.epoch, commit, 0); err != nil && !errors.Is(err, log.ErrInvalidProducerEpoch) {
			return fmt.Errorf("marker to %s-%d: %w", p.Topic, p.Partition, err)
		}
	}
	if len(t.groups) > 0 && c.groups != nil {
		c.groups.EndTxn(slices.Sorted(maps.Keys(t.groups)), t.pid, t.epoch, commit)
	}
	t.state = kmsg.TransactionStateCompleteAbort
	if commit {
		t.state = kmsg.TransactionStateCompleteCommit
	}
	return c.persist(t)
}

// check finds the transaction and verifies the producer owns it. On
// success t.mu is held and the caller must unlock it.
func (c *Coordinator) check(txnID string, pid int64, epoch int16) (*transaction, error) {
	t := c.get(txnID, false)
	if t == nil {
		return nil, fmt.Errorf("%w: transactional id %q: call InitProducerId first", kerr.InvalidProducerIDMapping, txnID)
	}
	t.mu.Lock()
	switch {
	case t.pid != pid:
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: %q belongs to producer %d, not %d", kerr.InvalidProducerIDMapping, txnID, t.pid, pid)
	case t.epoch != epoch:
		t.mu.Unlock()
		return nil, fmt.Errorf("%w: %q is at epoch %d, the request has %d", kerr.ProducerFenced, txnID, t.epoch, epoch)
	}
	return t, nil
}

func (c *Coordinator) get(id string, create bool) *transaction {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.txns[id]
	if t == nil && create {
		t = &transaction{id: id, pid: -1, epoch: -1, partitions: map[TopicPartition]bool{}, groups: map[string]bool{}}
		c.txns[id] = t
	}
	return t
}

// expireLoop aborts transactions open longer than their timeout.
func (c *Coordinator) expireLoop() {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.AbortInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
			c.ExpireTimedOut()
		}
	}
}

// ExpireTimedOut aborts, with a bumped epoch that fences their producers,
// the transactions open longer than their timeout. The background loop
// calls it every AbortInterval; tests call it directly.
func (c *Coordinator) ExpireTimedOut() {
	now := c.cfg.Now()
	c.mu.Lock()
	all := slices.Collect(maps.Values(c.txns))
	c.mu.Unlock()
	for _, t := range all {
		t.mu.Lock()
		if t.state == kmsg.TransactionStateOngoing && now.Sub(t.started) > t.timeout {
			err := c.bump(t)
			if err == nil {
				err = c.prepare(t, false)
			}
			if err == nil {
				err = c.complete(t, false)
			}
			if err != nil {
				c.cfg.Logger.Error("aborting a timed-out transaction", "transactional_id", t.id, "err", err)
			} else {
				c.cfg.Logger.Info("aborted a timed-out transaction", "transactional_id", t.id, "producer_id", t.pid, "timeout", t.timeout)
			}
		}
		t.mu.Unlock()
	}
}

// Describe returns the state of the transactional ids (all when ids is nil).
func (c *Coordinator) Describe(ids []string) []Description {
	c.mu.Lock()
	if ids == nil {
		ids = slices.Sorted(maps.Keys(c.txns))
	}
	txns := make([]*transaction, len(ids))
	for i, id := range ids {
		txns[i] = c.txns[id]
	}
	c.mu.Unlock()
	out := make([]Description, len(ids))
	for i, t := range txns {
		out[i] = Description{ID: ids[i], ProducerID: -1, ProducerEpoch: -1}
		if t == nil {
			out[i].NotFound = true
			continue
		}
		t.mu.Lock()
		out[i] = Description{ID: t.id, State: t.state, ProducerID: t.pid, ProducerEpoch: t.epoch,
			Timeout: t.timeout, Started: t.started, Partitions: sortedPartitions(t.partitions)}
		t.mu.Unlock()
	}
	return out
}

// Description describes a transactional id.
type Description struct {
	ID            string
	NotFound      bool
	State         kmsg.TransactionState
	ProducerID    int64
	ProducerEpoch int16
	Timeout       time.Duration
	Started       time.Time
	Partitions    []TopicPartition
}

func sortedPartitions(m map[TopicPartition]bool) []TopicPartition {
	out := slices.Collect(maps.Keys(m))
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// persist writes t's state to StateTopic; it returns once durable.
// REQUIRES: t.mu.
func (c *Coordinator) persist(t *transaction) error {
	t.updated = c.cfg.Now()
	l, err := c.logs.StateLog(kafkahash.Partition(t.id, int(c.cfg.StatePartitions)))
	if err != nil {
		return err
	}
	key := kmsg.NewTxnMetadataKey()
	key.TransactionalID = t.id
	val := kmsg.NewTxnMetadataValue()
	val.ProducerID, val.ProducerEpoch = t.pid, t.epoch
	val.TimeoutMillis = int32(t.timeout / time.Millisecond)
	val.State = t.state
	val.LastUpdateTimestamp = t.updated.UnixMilli()
	val.StartTimestamp = -1
	if t.state != kmsg.TransactionStateEmpty {
		val.StartTimestamp = t.started.UnixMilli()
	}
	byTopic := map[string][]int32{}
	for _, p := range sortedPartitions(t.partitions) {
		byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = topic, byTopic[topic]
		val.Topics = append(val.Topics, vt)
	}
	// Kafka's value has no field for the groups; runnel keeps them in a
	// header so that a restart can still hand the group coordinator its
	// part of a transaction being completed.
	var headers []batch.RecordHeader
	for _, g := range slices.Sorted(maps.Keys(t.groups)) {
		headers = append(headers, batch.RecordHeader{Key: groupHeader, Value: []byte(g)})
	}
	rec, err := batch.NewBuilder(batch.CodecNone).Add(key.AppendTo(nil), val.AppendTo(nil), t.updated.UnixMilli(), headers...).Build()
	if err != nil {
		return err
	}
	if _, err := l.Append(rec); err != nil {
		return fmt.Errorf("broker/txn: persisting %q: %w", t.id, err)
	}
	return nil
}

const groupHeader = "runnel.group"

// load rebuilds the transactions from StateTopic.
func (c *Coordinator) load() error {
	for p := int32(0); p < c.cfg.StatePartitions; p++ {
		l, err := c.logs.StateLog(p)
		if err != nil {
			return err
		}
		start, hw, _ := l.Offsets()
		for off := start; off < hw; {
			res, err := l.Read(off, 1<<20)
			if err != nil {
				return err
			}
			if len(res.Data) == 0 {
				break
			}
			for pos := 0; pos < len(res.Data); {
				h, size, err := batch.Check(res.Data[pos:], 0)
				if err != nil {
					return fmt.Errorf("broker/txn: %s-%d at %d: %w", StateTopic, p, off, err)
				}
				recs, err := batch.Records(res.Data[pos:], &h)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if h.BaseOffset+int64(r.OffsetDelta) >= off {
						c.loadRecord(&r)
					}
				}
				off, pos = h.LastOffset()+1, pos+size
			}
		}
	}
	return nil
}

func (c *Coordinator) loadRecord(r *batch.Record) {
	var key kmsg.TxnMetadataKey
	if err := key.ReadFrom(r.Key); err != nil {
		c.cfg.Logger.Warn("unreadable transaction state key", "err", err)
		return
	}
	if r.Value == nil {
		delete(c.txns, key.TransactionalID)
		return
	}
	var val kmsg.TxnMetadataValue
	if err := val.ReadFrom(r.Value); err != nil {
		c.cfg.Logger.Warn("unreadable transaction state", "transactional_id", key.TransactionalID, "err", err)
		return
	}
	t := &transaction{id: key.TransactionalID, pid: val.ProducerID, epoch: val.ProducerEpoch,
		timeout: time.Duration(val.TimeoutMillis) * time.Millisecond, state: val.State,
		partitions: map[TopicPartition]bool{}, groups: map[string]bool{},
		started: time.UnixMilli(val.StartTimestamp), updated: time.UnixMilli(val.LastUpdateTimestamp)}
	for _, vt := range val.Topics {
		for _, p := range vt.Partitions {
			t.partitions[TopicPartition{vt.Topic, p}] = true
		}
	}
	for _, h := range r.Headers {
		if h.Key == groupHeader {
			t.groups[string(h.Value)] = true
		}
	}
	c.txns[t.id] = t
}
