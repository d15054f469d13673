// Package topic is the topic source: it reads Kafka topics of the built-in
// broker or of any Kafka cluster through franz-go, as a member of a
// consumer group, so that running the pipeline in more processes splits
// the partitions between them. Task i reads partition i of every topic
// (topics read together must have the same partition count; the range
// balancer keeps their partitions together).
//
// Records are read committed: aborted transactions are never seen. Where
// a task resumes is decided by the sink (connect.Assignments.Assigned);
// partitions the sink knows nothing of start at the group's committed
// offset, or at StartAt when there is none.
//
// Paired with the transactional topic sink (package sinks/topic,
// NewTransactional), the source and the sink share one client: outputs and
// consumed offsets commit in one Kafka transaction.
package topic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Config configures a topic source. Field names are those of the YAML
// format.
type Config struct {
	Brokers []string `yaml:"brokers"`
	Topics  []string `yaml:"topics"`
	// Group is the consumer group; processes with the same group share
	// the partitions.
	Group string `yaml:"group"`
	// StartAt is where partitions without a committed position start:
	// "earliest" (default) or "latest".
	StartAt string `yaml:"start_at"`
	// MaxPollRecords bounds a Poll (default 1000).
	MaxPollRecords int `yaml:"max_poll_records"`
	// TransactionalID makes the source a transactional session for the
	// transactional topic sink; set by that sink's constructor.
	TransactionalID string `yaml:"-"`
	// SessionTimeout of the group membership (default 10s): how long a
	// crashed member keeps its partitions.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// InstanceID makes the member static (group.instance.id, KIP-345): a
	// restarted process with the same id takes its partitions back at
	// once, without a rebalance.
	InstanceID string `yaml:"instance_id"`
	// ClientOptions are added to the franz-go client's (TLS, SASL...).
	ClientOptions []kgo.Opt    `yaml:"-"`
	Logger        *slog.Logger `yaml:"-"`
}

// Validate reports the first problem of c, naming the field.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("topic source: brokers: at least one broker address is required")
	case len(c.Topics) == 0:
		return errors.New("topic source: topics: at least one topic is required")
	case c.Group == "":
		return errors.New("topic source: group: a consumer group is required")
	}
	switch c.StartAt {
	case "", "earliest", "latest":
	default:
		return fmt.Errorf("topic source: start_at: %q is neither earliest nor latest", c.StartAt)
	}
	return nil
}

// Source is a topic source.
type Source struct {
	cfg     Config
	cl      *kgo.Client
	session *kgo.GroupTransactSession
	a       connect.Assignments
	log     *slog.Logger

	mu     sync.Mutex
	resume map[int32]engine.Positions // from Assigned, for the offsets adjustment
	err    error                      // from a callback
	lag    map[connect.TaskID]map[string]int64

	// A bounded run (StopAtEnd): where each assigned partition is, and
	// where its end was when the source was told to stop there.
	bounded  bool
	owned    map[engine.Input]bool
	next     map[engine.Input]int64 // known positions
	ends     map[engine.Input]int64
	lastData time.Time
}

// IdleEnd is how long a bounded source waits without records before it
// takes the input as read to its end even where it cannot tell (a
// partition ending with a transaction marker, whose offset no record has).
const IdleEnd = time.Second

// StopAtEnd makes Poll return connect.ErrEndOfInput once every assigned
// partition is read up to the end it has when StopAtEnd is called (its
// last stable offset): for bounded runs. Safe to call at any time.
func (s *Source) StopAtEnd() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bounded, s.ends, s.lastData = true, nil, time.Now()
}

// New returns a source for cfg; Open connects it.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 1000
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, log: cfg.Logger, resume: map[int32]engine.Positions{}, lag: map[connect.TaskID]map[string]int64{},
		owned: map[engine.Input]bool{}, next: map[engine.Input]int64{}}, nil
}

// Config returns the source's configuration.
func (s *Source) Config() Config { return s.cfg }

// EnableTransactions makes the source a transactional session with the
// given transactional id, for the transactional topic sink; call it before
// Open.
func (s *Source) EnableTransactions(id string, opts ...kgo.Opt) error {
	if s.cl != nil {
		return errors.New("topic source: transactions must be enabled before the source opens")
	}
	if s.cfg.TransactionalID != "" {
		return errors.New("topic source: two transactional sinks share one source")
	}
	s.cfg.TransactionalID = id
	s.cfg.ClientOptions = append(s.cfg.ClientOptions, opts...)
	return nil
}

// Session returns the transactional session of a source configured with a
// TransactionalID, once it is open.
func (s *Source) Session() *kgo.GroupTransactSession { return s.session }

// Client returns the source's client, once it is open.
func (s *Source) Client() *kgo.Client { return s.cl }

// Inputs returns partition task of each topic the source reads: the
// inputs a task's windows wait for (connect.InputLister).
func (s *Source) Inputs(task connect.TaskID) []engine.Input {
	ins := make([]engine.Input, len(s.cfg.Topics))
	for i, t := range s.cfg.Topics {
		ins[i] = engine.Input{Stream: t, Partition: task}
	}
	return ins
}

// Open joins the group.
func (s *Source) Open(ctx context.Context, a connect.Assignments) error {
	s.a = a
	reset := kgo.NewOffset().AtStart()
	if s.cfg.StartAt == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		// A third of the session, as Kafka advises (at most franz-go's
		// default), so that short sessions work.
		kgo.HeartbeatInterval(min(3*time.Second, s.cfg.SessionTimeout/3)),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.AdjustFetchOffsetsFn(s.adjust),
	}
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID))
	}
	opts = append(opts, s.cfg.ClientOptions...)
	if s.cfg.TransactionalID != "" {
		opts = append(opts, kgo.TransactionalID(s.cfg.TransactionalID))
		sess, err := kgo.NewGroupTransactSession(opts...)
		if err != nil {
			return fmt.Errorf("topic source: %w", err)
		}
		s.session, s.cl = sess, sess.Client()
		return nil
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("topic source: %w", err)
	}
	s.cl = cl
	return nil
}

func tasksOf(m map[string][]int32) []connect.TaskID {
	seen := map[int32]bool{}
	var ids []connect.TaskID
	for _, ps := range m {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				ids = append(ids, p)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (s *Source) assigned(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	ids := tasksOf(m)
	if s.session != nil {
		// franz-go's transactional session reports only the first
		// revocation between two ends of a transaction; an idle stage
		// ends none, so tasks it lost since may still be here. The range
		// balancer hands out whole assignments: what this one lacks is
		// gone.
		s.mu.Lock()
		var gone []connect.TaskID
		for id := range s.resume {
			if !slices.Contains(ids, id) {
				gone = append(gone, id)
			}
		}
		s.mu.Unlock()
		if len(gone) > 0 {
			slices.Sort(gone)
			s.a.Lost(ctx, gone)
			s.forget(gone)
		}
	}
	res, err := s.a.Assigned(ctx, ids)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		return
	}
	for _, id := range ids {
		s.resume[id] = res[id]
	}
}

// adjust replaces the group's offsets with the positions the sink gave.
func (s *Source) adjust(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	for topic, ps := range offsets {
		for p := range ps {
			in := engine.Input{Stream: topic, Partition: p}
			if off, ok := s.resume[p][in]; ok {
				ps[p] = kgo.NewOffset().At(off).WithEpoch(-1)
			}
			s.owned[in] = true
			if off := ps[p].EpochOffset().Offset; off >= 0 {
				s.next[in] = off
			}
		}
	}
	return offsets, nil
}

func (s *Source) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	ids := tasksOf(m)
	if s.session != nil {
		// The session aborts the open transaction; the tasks' work goes
		// with it (committing here would deadlock in the session).
		s.a.Lost(ctx, ids)
	} else {
		s.a.Revoked(ctx, ids)
	}
	s.forget(ids)
}

func (s *Source) lost(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	ids := tasksOf(m)
	s.a.Lost(ctx, ids)
	s.forget(ids)
}

func (s *Source) forget(ids []connect.TaskID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.resume, id)
		delete(s.lag, id)
		for in := range s.owned {
			if in.Partition == id {
				delete(s.owned, in)
				delete(s.next, in)
			}
		}
	}
}

// atEnd reports, for a bounded source, whether the assigned partitions
// are read to their ends.
func (s *Source) atEnd(ctx context.Context) (bool, error) {
	s.mu.Lock()
	bounded, ends := s.bounded, s.ends
	s.mu.Unlock()
	if !bounded {
		return false, nil
	}
	if ends == nil {
		listed, err := kadm.NewClient(s.cl).ListCommittedOffsets(ctx, s.cfg.Topics...)
		if err != nil {
			return false, err
		}
		ends = map[engine.Input]int64{}
		listed.Each(func(o kadm.ListedOffset) {
			ends[engine.Input{Stream: o.Topic, Partition: o.Partition}] = o.Offset
		})
		s.mu.Lock()
		s.ends = ends
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.owned) == 0 {
		return false, nil
	}
	if time.Since(s.lastData) >= IdleEnd {
		return true, nil
	}
	for in := range s.owned {
		end := ends[in]
		if next, ok := s.next[in]; end > 0 && (!ok || next < end) {
			return false, nil
		}
	}
	return true, nil
}

// Poll lets a pending rebalance happen, then returns the next records.
func (s *Source) Poll(ctx context.Context) ([]connect.Batch, error) {
	if done, err := s.atEnd(ctx); err != nil || done {
		if err == nil {
			err = connect.ErrEndOfInput
		}
		return nil, err
	}
	var fs kgo.Fetches
	if s.session != nil {
		s.session.AllowRebalance()
		fs = s.session.PollRecords(ctx, s.cfg.MaxPollRecords)
	} else {
		s.cl.AllowRebalance()
		fs = s.cl.PollRecords(ctx, s.cfg.MaxPollRecords)
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if fs.IsClientClosed() {
		return nil, kgo.ErrClientClosed
	}
	for _, fe := range fs.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			return nil, fe.Err
		}
		s.log.Warn("fetching", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
	}
	byTask := map[connect.TaskID]int{}
	var batches []connect.Batch
	s.mu.Lock()
	defer s.mu.Unlock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		i, ok := byTask[p.Partition]
		if !ok {
			i = len(batches)
			byTask[p.Partition] = i
			batches = append(batches, connect.Batch{Task: p.Partition})
		}
		// One allocation for the partition's records.
		recs := make([]connect.Record, len(p.Records))
		batches[i].Records = slices.Grow(batches[i].Records, len(p.Records))
		for j, kr := range p.Records {
			fromKgo(&recs[j], kr)
			batches[i].Records = append(batches[i].Records, &recs[j])
		}
		last := p.Records[len(p.Records)-1].Offset
		s.next[engine.Input{Stream: p.Topic, Partition: p.Partition}] = last + 1
		s.lastData = time.Now()
		if s.lag[p.Partition] == nil {
			s.lag[p.Partition] = map[string]int64{}
		}
		s.lag[p.Partition][p.Topic] = max(0, p.HighWatermark-last-1)
	})
	return batches, nil
}

func fromKgo(r *connect.Record, kr *kgo.Record) {
	*r = connect.Record{
		Key: kr.Key, Value: kr.Value, Time: kr.Timestamp.UnixMilli(),
		Pos: engine.Pos{Input: engine.Input{Stream: kr.Topic, Partition: kr.Partition}, Offset: kr.Offset, Next: kr.Offset + 1},
	}
	if len(kr.Headers) > 0 {
		r.Headers = make([]engine.Header, len(kr.Headers))
		for i, h := range kr.Headers {
			r.Headers[i] = engine.Header{Key: h.Key, Value: h.Value}
		}
	}
}

// Commit commits the positions as the group's offsets. With a
// transactional sink the transaction commits them, and this does nothing.
func (s *Source) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if s.session != nil {
		return nil
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, pos := range cp {
		for in, off := range pos {
			if offsets[in.Stream] == nil {
				offsets[in.Stream] = map[int32]kgo.EpochOffset{}
			}
			offsets[in.Stream][in.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	var cerr error
	s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
					cerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	return cerr
}

// Lag returns the records behind the high watermark, per task, as of the
// last fetch.
func (s *Source) Lag() map[connect.TaskID]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[connect.TaskID]int64, len(s.lag))
	for id, ts := range s.lag {
		for _, l := range ts {
			out[id] += l
		}
	}
	return out
}

// Close leaves the group.
func (s *Source) Close(context.Context) error {
	// The runtime is not polling any more: let the leave's rebalance
	// through (its callbacks find nothing left to commit).
	if s.session != nil {
		s.session.CloseAllowingRebalance()
	} else if s.cl != nil {
		s.cl.CloseAllowingRebalance()
	}
	return nil
}
