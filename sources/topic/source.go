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
	// DeleteCommitted makes Commit delete (DeleteRecords), at most every
	// PurgeInterval, the records below the positions it is given: for
	// topics only this source reads, such as a KeyBy's repartition topic,
	// which then does not grow for ever (Kafka Streams purges its
	// repartition topics so). Set by the pipelines' runtime.
	DeleteCommitted bool `yaml:"-"`
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
	// parts are the assigned partitions: where the source is in each and
	// where each ends (see positions.go).
	parts map[engine.Input]*part
	// assignedN is how many partitions the group's last assignment gave
	// this member (they are in parts once their offsets are known); -1
	// while the group has not assigned them (before the first
	// assignment, and during a rebalance).
	assignedN int
	// othersChecked is the generation whose empty assignment was checked
	// against the other members' (see othersHold).
	othersChecked int32
	// bounded: a bounded run (StopAtEnd).
	bounded bool
	// skipped counts the offsets that were deleted before they were read.
	skipped int64
	// noneWarned: a bounded run was told it has no partitions.
	noneWarned bool
	// listings counts the listings of the ends the refresher started.
	listings int64
	// purgeTo are the positions to delete below at the next purge, and
	// purged when the last one ran (DeleteCommitted).
	purgeTo map[engine.Input]int64
	purged  time.Time
	// topicsChecked: a bounded run checked that its topics exist;
	// waitingSince is when it last said it waits for the group.
	topicsChecked bool
	waitingSince  time.Time

	// The refresher lists the ends of the assigned partitions every
	// refreshInterval, and at once when kicked (a new assignment).
	kick    chan struct{}
	stopRef context.CancelFunc
	refWG   sync.WaitGroup
	// testHookListed, set by a test before Open, runs in the refresher
	// between a listing's answers and their use.
	testHookListed func()
}

var (
	_ connect.Source      = (*Source)(nil)
	_ connect.InputLister = (*Source)(nil)
	_ connect.Skipper     = (*Source)(nil)
	_ connect.Ender       = (*Source)(nil)
)

// StopAtEnd makes Poll return connect.ErrEndOfInput once every partition
// assigned to the source is read up to its end (its last stable offset)
// as it was when the partition was assigned, or when StopAtEnd was called
// if that is later: for bounded runs (--once). However long the group
// takes to assign the partitions, the source waits for them; a member
// the group gives no partition is at its end at once (other members read
// them), and says so. Safe to call at any time.
func (s *Source) StopAtEnd() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bounded = true
	for _, p := range s.parts {
		p.stopAt, p.from = -1, s.listings // listed again, by a listing that starts from now
	}
	s.kickLocked()
}

// AtEnd implements connect.Ender: in a bounded run (StopAtEnd), whether
// every partition of the task is read up to where the run ends. It says
// false while that end is not listed yet, and while only transaction
// markers remain to read: never too early.
func (s *Source) AtEnd(task connect.TaskID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.bounded {
		return false
	}
	found := false
	for in, p := range s.parts {
		if in.Partition != task {
			continue
		}
		if p.stopAt < 0 || p.next < 0 || p.next < p.stopAt {
			return false
		}
		found = true
	}
	return found
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
	return &Source{cfg: cfg, log: cfg.Logger, resume: map[int32]engine.Positions{}, parts: map[engine.Input]*part{},
		kick: make(chan struct{}, 1), assignedN: -1, othersChecked: -1}, nil
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
		// The markers that end transactions take offsets too: Poll sees
		// them (and drops them), so that a partition whose last offset
		// is a marker is known to be read to its end.
		kgo.KeepControlRecords(),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		// A third of the session, as Kafka advises (at most franz-go's
		// default), so that short sessions work.
		kgo.HeartbeatInterval(min(3*time.Second, s.cfg.SessionTimeout/3)),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.AdjustFetchOffsetsFn(s.adjust),
		kgo.WithLogger(kgoLogger{s.log}),
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
	} else {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("topic source: %w", err)
		}
		s.cl = cl
	}
	s.startRefresher()
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
	s.assignedN = 0
	for _, ps := range m {
		s.assignedN += len(ps)
	}
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
			// An exact offset (the sink's, or the group's) is where
			// reading starts; a relative one (the reset policy) is
			// resolved by the first listing.
			s.own(in, ps[p].EpochOffset().Offset)
		}
	}
	s.kickLocked()
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
	s.assignedN = -1 // until the next assignment
	for _, id := range ids {
		delete(s.resume, id)
		for in := range s.parts {
			if in.Partition == id {
				delete(s.parts, in)
			}
		}
	}
}

// Poll lets a pending rebalance happen, then returns the next records.
// A bounded source (StopAtEnd) returns connect.ErrEndOfInput once its
// partitions are read to their ends, and an error that will not go away
// (a topic that does not exist, a fetch error that is not retriable)
// instead of waiting for ever.
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
	err, bounded := s.err, s.bounded
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
		var loss *kgo.ErrDataLoss
		if errors.As(fe.Err, &loss) {
			s.dataLoss(loss)
			continue
		}
		if bounded && !kerr.IsRetriable(fe.Err) {
			return nil, fmt.Errorf("topic source: fetching %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
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
		in := engine.Input{Stream: p.Topic, Partition: p.Partition}
		last := p.Records[len(p.Records)-1].Offset
		s.fetched(in, p.Records[0].Offset, last, p.LogStartOffset, p.LastStableOffset)
		n := 0
		for _, kr := range p.Records {
			if !kr.Attrs.IsControl() {
				n++
			}
		}
		i, ok := byTask[p.Partition]
		if !ok {
			i = len(batches)
			byTask[p.Partition] = i
			batches = append(batches, connect.Batch{Task: p.Partition})
		}
		if p.Records[len(p.Records)-1].Attrs.IsControl() {
			// The partition goes on past its last record: a marker.
			if batches[i].Past == nil {
				batches[i].Past = engine.Positions{}
			}
			batches[i].Past[in] = last + 1
		}
		if n == 0 {
			return // only transaction markers
		}
		// One allocation for the partition's records.
		recs := make([]connect.Record, n)
		batches[i].Records = slices.Grow(batches[i].Records, n)
		j := 0
		for _, kr := range p.Records {
			if kr.Attrs.IsControl() {
				continue
			}
			fromKgo(&recs[j], kr)
			batches[i].Records = append(batches[i].Records, &recs[j])
			j++
		}
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

// PurgeInterval is how often a source with DeleteCommitted deletes what
// it committed (Kafka Streams' repartition.purge.interval.ms).
const PurgeInterval = 30 * time.Second

// Commit commits the positions as the group's offsets. With a
// transactional sink the transaction committed them already, and this
// does nothing more. With DeleteCommitted it then deletes the records
// below them: only once they are committed, which for the runtime's
// exactly-once sinks was before this call, and otherwise is this call's.
func (s *Source) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if s.session != nil {
		if s.cfg.DeleteCommitted {
			s.purge(ctx, cp)
		}
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
	if cerr == nil && s.cfg.DeleteCommitted {
		s.purge(ctx, cp)
	}
	return cerr
}

// purge deletes the records below the positions of cp, at most every
// PurgeInterval. A failure is logged: the records are deleted next time.
func (s *Source) purge(ctx context.Context, cp connect.Checkpoint) {
	s.mu.Lock()
	if s.purgeTo == nil {
		s.purgeTo = map[engine.Input]int64{}
	}
	for _, pos := range cp {
		for in, off := range pos {
			s.purgeTo[in] = max(s.purgeTo[in], off)
		}
	}
	due := time.Since(s.purged) >= PurgeInterval && len(s.purgeTo) > 0
	var offs kadm.Offsets
	if due {
		for in, off := range s.purgeTo {
			offs.AddOffset(in.Stream, in.Partition, off, -1)
		}
		s.purgeTo, s.purged = nil, time.Now()
	}
	s.mu.Unlock()
	if !due {
		return
	}
	resp, err := kadm.NewClient(s.cl).DeleteRecords(ctx, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		s.log.Warn("deleting the records below the committed positions", "topics", s.cfg.Topics, "err", err)
	}
}

// Lag returns, per task, the offsets between where the source is and
// the end of each of its partitions (the last stable offset, listed every
// second and taken from every fetch); -1 for a task with a partition
// whose end or position is not known yet. Nil when no partition is
// assigned.
func (s *Source) Lag() map[connect.TaskID]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.parts) == 0 {
		return nil
	}
	out := make(map[connect.TaskID]int64, len(s.parts))
	for in, p := range s.parts {
		l, seen := out[in.Partition]
		switch {
		case seen && l < 0:
		case p.next < 0 || p.end < 0:
			out[in.Partition] = -1
		default:
			out[in.Partition] = l + max(0, p.end-p.next)
		}
	}
	return out
}

// Close leaves the group.
func (s *Source) Close(context.Context) error {
	s.stopRefresher()
	// The runtime is not polling any more: let the leave's rebalance
	// through (its callbacks find nothing left to commit).
	if s.session != nil {
		s.session.CloseAllowingRebalance()
	} else if s.cl != nil {
		s.cl.CloseAllowingRebalance()
	}
	return nil
}

// kgoLogger hands the client's log lines to the source's logger: its
// errors and warnings as such, its info lines at debug (they are many),
// its debug lines not at all.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelDebug:
		return
	}
	k.l.Log(context.Background(), lvl, "kafka client: "+msg, keyvals...)
}
