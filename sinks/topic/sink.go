// Package topic is the topic sink: it writes records to a Kafka topic of
// the built-in broker or of any Kafka cluster through franz-go, keyed
// records to the partition Kafka's Java client would choose (murmur2).
//
// New returns an at-least-once sink: an idempotent producer whose Commit
// waits until every record is acknowledged by all in-sync replicas (or,
// with a positions topic, an exactly-once one: see below).
//
// NewTransactional returns an exactly-once sink bound to a topic source
// (sources/topic) on the same cluster: source and sink share one
// transactional client, and each checkpoint is one Kafka transaction
// holding the outputs and the consumed offsets (KIP-98 with KIP-447
// fencing through franz-go's GroupTransactSession). A rebalance before the
// commit aborts the transaction; the runtime then goes back to the last
// checkpoint. Readers see the outputs once with isolation.level
// read_committed.
//
// New with Config.PositionsTopic returns an exactly-once sink for a source
// that is not a topic of the cluster (generated data, files, Postgres), as
// Kafka Connect's exactly-once source connectors are (KIP-618): each
// checkpoint is one Kafka transaction holding the records and the
// positions they cover, written to the positions topic; OpenTask fences
// the previous owner of the transactional id (its open transaction is
// aborted) and reads them back. See positions.go for the format.
package topic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	topicsrc "github.com/runnel-io/runnel/sources/topic"
)

// Config configures a topic sink. Field names are those of the YAML
// format.
type Config struct {
	Brokers []string `yaml:"brokers"`
	Topic   string   `yaml:"topic"`
	// TransactionalID of a transactional sink: give each process of a
	// pipeline its own, stable across restarts, so that a restarted
	// process fences its previous incarnation at once instead of waiting
	// for its transaction to time out. Default: group-hostname-pid.
	TransactionalID string `yaml:"transactional_id"`
	// TransactionTimeout (default 30s) bounds how long a crashed
	// process's open transaction blocks its partitions.
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	// PositionsTopic makes New's sink exactly once: each checkpoint is a
	// transaction (TransactionalID, required) holding the records and
	// the positions they cover, which go to PositionsTopic (compacted,
	// made by the caller; give each sink its own, so that no other
	// writer's open transaction holds back what OpenTask reads) under
	// the key PositionsKey + "/" + task. PositionsScope is the start of
	// PositionsKey that the sink's processes share (PositionsKey is
	// PositionsScope + "/" + the process): StoredPositions and
	// DeletePositions cover every key under it. Set by the pipelines'
	// runtime for a stage whose source is not a topic.
	PositionsTopic string    `yaml:"-"`
	PositionsScope string    `yaml:"-"`
	PositionsKey   string    `yaml:"-"`
	ClientOptions  []kgo.Opt `yaml:"-"`
}

// Validate reports the first problem of c, naming the field.
func (c *Config) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("topic sink: topic: a topic is required")
	case c.PositionsTopic != "" && c.TransactionalID == "":
		return errors.New("topic sink: transactional_id: a sink that stores positions needs a transactional id")
	case c.PositionsTopic != "" && !strings.HasPrefix(c.PositionsKey, c.PositionsScope+"/"):
		return fmt.Errorf("topic sink: the positions key %q is not under the scope %q", c.PositionsKey, c.PositionsScope)
	}
	return nil
}

// Sink is a topic sink.
type Sink struct {
	cfg Config
	cl  *kgo.Client
	src *topicsrc.Source // transactional: the source sharing the client

	// txn: a transactional client of its own (PositionsTopic), whose
	// producer id the first OpenTask loaded (fencing the previous owner).
	txn    bool
	fenced bool

	mu    sync.Mutex
	err   error // first produce error since the last commit
	inTxn bool

	partitions int // of the topic, for Broadcast; 0 until needed
}

// New returns a sink with its own client: at least once, or exactly once
// with cfg.PositionsTopic.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("topic sink: brokers: at least one broker address is required")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(partitioner())}
	if cfg.PositionsTopic != "" {
		if cfg.TransactionTimeout <= 0 {
			cfg.TransactionTimeout = 30 * time.Second
		}
		opts = append(opts, kgo.TransactionalID(cfg.TransactionalID), kgo.TransactionTimeout(cfg.TransactionTimeout))
	}
	cl, err := kgo.NewClient(append(opts, cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("topic sink: %w", err)
	}
	return &Sink{cfg: cfg, cl: cl, txn: cfg.PositionsTopic != ""}, nil
}

// NewTransactional returns an exactly-once sink sharing src's client;
// call it before the source is opened. The sink writes to cfg.Topic on
// src's cluster.
func NewTransactional(src *topicsrc.Source, cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := src.Config()
	if cfg.TransactionalID == "" {
		host, _ := os.Hostname()
		cfg.TransactionalID = fmt.Sprintf("%s-%s-%d", sc.Group, host, os.Getpid())
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = 30 * time.Second
	}
	if err := src.EnableTransactions(cfg.TransactionalID, append([]kgo.Opt{kgo.TransactionTimeout(cfg.TransactionTimeout), kgo.RecordPartitioner(partitioner())}, cfg.ClientOptions...)...); err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, src: src}, nil
}

// Delivery implements connect.Sink.
func (s *Sink) Delivery() connect.Delivery {
	if s.src != nil || s.txn {
		return connect.ExactlyOnce
	}
	return connect.AtLeastOnce
}

// OpenTask returns, for a transactional sink, the offsets the group
// committed for the task's partitions: the transactions store them. A
// sink with a positions topic returns the positions stored there.
func (s *Sink) OpenTask(ctx context.Context, task connect.TaskID) (engine.Positions, error) {
	if s.txn {
		return s.openPositions(ctx, task)
	}
	if s.src == nil {
		return nil, nil
	}
	sc := s.src.Config()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = sc.Group
	req.RequireStable = true
	for _, t := range sc.Topics {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic = t
		rt.Partitions = []int32{task}
		req.Topics = append(req.Topics, rt)
	}
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		resp, err := req.RequestWith(ctx, s.src.Client())
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		var pos engine.Positions
		if err == nil {
		topics:
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err = kerr.ErrorForCode(p.ErrorCode); err != nil {
						break topics
					}
					if p.Offset >= 0 {
						if pos == nil {
							pos = engine.Positions{}
						}
						pos[engine.Input{Stream: t.Topic, Partition: p.Partition}] = p.Offset
					}
				}
			}
		}
		if err == nil {
			return pos, nil
		}
		// A transaction of the previous owner is still open; its end (or
		// its timeout) decides the offsets.
		if !errors.Is(err, kerr.UnstableOffsetCommit) && !kerr.IsRetriable(err) {
			return nil, fmt.Errorf("topic sink: fetching the committed offsets of group %s: %w", sc.Group, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// Write produces records; it blocks while the client's buffer is full.
func (s *Sink) Write(ctx context.Context, _ connect.TaskID, recs []*connect.Record) error {
	if err := s.firstErr(); err != nil {
		return err
	}
	return s.write(ctx, recs, false)
}

// explicitCtx marks a record for explicitPartitioner.
var explicitCtx = context.WithValue(context.Background(), explicit{}, true)

func (s *Sink) write(ctx context.Context, recs []*connect.Record, toEach bool) error {
	if err := s.begin(); err != nil {
		return err
	}
	cl := s.client()
	for i, r := range recs {
		kr := &kgo.Record{Topic: s.cfg.Topic, Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Time)}
		if toEach {
			kr.Partition, kr.Context = int32(i), explicitCtx
		}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		// Records outlive the call: a stop must not fail those buffered
		// before the last checkpoint commits them.
		cl.Produce(context.WithoutCancel(ctx), kr, s.promise)
	}
	return nil
}

// Broadcast writes rec to every partition of the topic (a watermark
// marker, in the transaction of a transactional sink).
func (s *Sink) Broadcast(ctx context.Context, task connect.TaskID, rec *connect.Record) error {
	if s.partitions == 0 {
		topics, err := kadm.NewClient(s.client()).ListTopics(ctx, s.cfg.Topic)
		if err != nil {
			return err
		}
		td, ok := topics[s.cfg.Topic]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			return fmt.Errorf("topic sink: the partitions of %s: %v", s.cfg.Topic, td.Err)
		}
		s.partitions = len(td.Partitions)
	}
	recs := make([]*connect.Record, s.partitions)
	for p := range recs {
		recs[p] = rec
	}
	return s.write(ctx, recs, true)
}

// explicit marks records produced to the partition they name.
type explicit struct{}

func partitioner() kgo.Partitioner { return explicitPartitioner{kgo.StickyKeyPartitioner(nil)} }

// explicitPartitioner sends records whose context is marked explicit to
// their Partition, and the others where Kafka's Java client would (murmur2
// of the key).
type explicitPartitioner struct{ kgo.Partitioner }

func (p explicitPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	return explicitTopic{p.Partitioner.ForTopic(t)}
}

type explicitTopic struct{ kgo.TopicPartitioner }

func isExplicit(r *kgo.Record) bool { return r.Context != nil && r.Context.Value(explicit{}) != nil }

func (t explicitTopic) RequiresConsistency(r *kgo.Record) bool {
	return isExplicit(r) || t.TopicPartitioner.RequiresConsistency(r)
}

func (t explicitTopic) Partition(r *kgo.Record, n int) int {
	if isExplicit(r) {
		return int(r.Partition)
	}
	return t.TopicPartitioner.Partition(r, n)
}

func (t explicitTopic) OnNewBatch() {
	if nb, ok := t.TopicPartitioner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

func (s *Sink) client() *kgo.Client {
	if s.src != nil {
		return s.src.Client()
	}
	return s.cl
}

func (s *Sink) promise(_ *kgo.Record, err error) {
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
}

func (s *Sink) firstErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// begin begins a transaction, for a transactional sink outside one.
func (s *Sink) begin() error {
	if s.inTxn || (s.src == nil && !s.txn) {
		return nil
	}
	var err error
	if s.src != nil {
		err = s.src.Session().Begin()
	} else {
		err = s.cl.BeginTransaction()
	}
	if err != nil {
		return fmt.Errorf("topic sink: beginning a transaction: %w", err)
	}
	s.inTxn = true
	return nil
}

// Commit waits for every record to be acknowledged; a transactional sink
// commits its transaction with the consumed offsets, and returns
// connect.ErrAborted when a rebalance forced an abort. A sink with a
// positions topic commits its transaction with cp's positions.
func (s *Sink) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if s.txn {
		return s.commitPositions(ctx, cp)
	}
	if s.src == nil {
		if err := s.cl.Flush(ctx); err != nil {
			return err
		}
		return s.takeErr()
	}
	// s.inTxn stays true until the transaction is ended: a Commit that
	// fails before ending it (ctx ended: the runtime is stopping) leaves
	// it open, and the next Commit, the runtime's last checkpoint, ends
	// it instead of failing to begin a second one.
	sess := s.src.Session()
	if !s.inTxn {
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("topic sink: beginning a transaction: %w", err)
		}
		s.inTxn = true
	}
	// Flush before looking at the errors: a record that fails while End
	// flushes (an unknown topic) would not stop End from committing the
	// offsets without it. Flush fails only when ctx ends; aborting then
	// would fail the records still buffered.
	if err := s.src.Client().Flush(ctx); err != nil {
		return fmt.Errorf("topic sink: flushing: %w", err)
	}
	if err := s.firstErr(); err != nil {
		if _, aerr := sess.End(ctx, kgo.TryAbort); aerr != nil {
			// Still open, and s.err is kept: the next Commit aborts
			// it again.
			return errors.Join(err, aerr)
		}
		s.inTxn = false
		s.takeErr()
		return fmt.Errorf("topic sink: producing to %s: %w", s.cfg.Topic, err)
	}
	committed, err := sess.End(ctx, kgo.TryCommit)
	if err != nil {
		// End ends nothing when ctx ends during its flush; otherwise
		// the transaction is over or the client refuses to go on
		// with it (and a later Commit fails until the runtime starts
		// the stage again).
		s.inTxn = ctx.Err() != nil && errors.Is(err, ctx.Err())
		return fmt.Errorf("topic sink: ending the transaction: %w", err)
	}
	s.inTxn = false
	if !committed {
		return connect.ErrAborted
	}
	return nil
}

func (s *Sink) takeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	s.err = nil
	return err
}

// CloseTask implements connect.Sink; records of the task already produced
// stay in the open transaction, which the runtime commits or aborts.
func (s *Sink) CloseTask(context.Context, connect.TaskID) error { return nil }

// Close flushes and closes an at-least-once sink's client, and aborts the
// open transaction of a sink with a positions topic; a transactional
// sink's client is closed by its source.
func (s *Sink) Close(ctx context.Context) error {
	if s.cl == nil {
		return nil
	}
	var err error
	if s.txn && s.inTxn {
		err = errors.Join(s.cl.AbortBufferedRecords(ctx), s.cl.EndTransaction(ctx, kgo.TryAbort))
	} else {
		err = s.cl.Flush(ctx)
	}
	s.cl.Close()
	return err
}
