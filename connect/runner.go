package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// Snapshot is a task's state as of Positions, the Seq-th checkpoint of the
// task.
type Snapshot struct {
	Seq       int64
	Positions engine.Positions
	State     []byte
}

// StateStore keeps task snapshots where any process can read them: the
// last two per task.
type StateStore interface {
	// Load returns the snapshots stored for the tasks of the stage.
	Load(ctx context.Context, stage string, tasks []TaskID) (map[TaskID][]Snapshot, error)
	// Save stores snapshots; they are durable when it returns.
	Save(ctx context.Context, stage string, snaps map[TaskID]Snapshot) error
}

// StageConfig binds a stage of a graph to connectors.
type StageConfig struct {
	Graph *engine.Graph
	Stage int
	// Source reads the stage's input.
	Source Source
	// Sinks by output name; every output of the stage must be bound.
	Sinks map[string]Sink
	// Primary names the sink whose positions are the truth. Empty: the
	// first exactly-once sink that is not the dead letter, or the stage's
	// first output.
	Primary string
	// State stores snapshots; required when the stage is stateful.
	State StateStore
	// CheckpointInterval is how often work is committed (default 1s).
	CheckpointInterval time.Duration
	// Upstreams is, for a stage reading a repartition topic, the number of
	// tasks writing to it (the partitions of the first stage's input):
	// windows wait for each of them before moving their watermark.
	Upstreams int
	// IdleTimeout is how long a task of a stage writing a repartition
	// topic may read nothing (with nothing waiting in its partitions)
	// before it tells the readers to stop waiting for it (an idle
	// marker), so that a quiet partition does not hold every window back.
	// Its next records may then be late. Default 30s; negative: never.
	IdleTimeout time.Duration
	// StopTimeout bounds a stop: when Run's ctx ends, the batch in hand is
	// processed and the work committed with up to this much time; past
	// it Run gives up with ErrStopTimeout, saying what it did not commit
	// (the next run processes it again). Default 30s.
	StopTimeout time.Duration
	// CloseWindows closes the stage's windows at the end of a bounded
	// input (ErrEndOfInput), in the commit of the input's last records,
	// instead of leaving them open for a later run (see "The end of a
	// bounded input" in the package doc). A stage after a KeyBy closes
	// when it has read the end of every upstream task (Upstreams), and a
	// stage writing a KeyBy then says it ended (engine.Task.ClosingMarkers).
	// It is for bounded sources: a stage with windows reading a source
	// that is not an Ender commits only at the end of its input.
	CloseWindows bool
	Logger       *slog.Logger
}

// ErrStopTimeout is returned by Run when a stop did not finish committing
// within StopTimeout.
var ErrStopTimeout = errors.New("connect: stop timeout")

// Stats is a stage's progress, summed over its tasks.
type Stats struct {
	Tasks int
	// In counts the records read; Out the records the stage's operators
	// wrote to any output (repartition topics, late and dead-letter
	// outputs included).
	In, Out      int64
	Late         int64
	Skipped      int64
	DeadLettered int64
	// Closed counts the windows (per key) closed by the end of the input
	// (StageConfig.CloseWindows).
	Closed int64
	// Deleted counts the records of the input that were deleted before
	// the stage read them (a Skipper source): lost to retention.
	Deleted int64
	// Watermark is the lowest watermark of the tasks' windows (Unix ms);
	// math.MinInt64 when none has one.
	Watermark int64
	Lag       int64 // -1 when unknown
	// Checkpoints counts the commits of work (not those that only sent
	// watermark markers).
	Checkpoints int64
	// Written counts the records each sink (by output name) took and
	// committed: outputs of records already in an exactly-once sink after
	// a crash are not handed again, nor counted, and what is rolled back
	// is not counted.
	Written map[string]int64
}

// Plus returns the counters of s and later summed, with the tasks, the
// watermark and the lag of later: the progress of a stage that a later
// runner continued after s (a restart).
func (s Stats) Plus(later Stats) Stats {
	sum := later
	counts{s.In, s.Out, s.Late, s.Skipped, s.DeadLettered, s.Closed}.addTo(&sum)
	sum.Deleted += s.Deleted
	sum.Checkpoints += s.Checkpoints
	if len(s.Written) > 0 {
		sum.Written = maps.Clone(later.Written)
		if sum.Written == nil {
			sum.Written = map[string]int64{}
		}
		for name, n := range s.Written {
			sum.Written[name] += n
		}
	}
	return sum
}

// Runner runs one stage of a graph: it feeds the records of its source to
// one engine task per source task, hands their outputs to the sinks, and
// checkpoints (see the package doc).
type Runner struct {
	cfg     StageConfig
	info    engine.Stage
	key     string // the stage in the state store
	primary Sink
	log     *slog.Logger
	// preparers are the sinks that are Preparers, in the order they
	// prepare: the dead letter last, as the others' refusals go to it.
	preparers []string

	mu     sync.Mutex // tasks: changed from the source's callbacks, inside Poll
	tasks  map[TaskID]*task
	cur    *task // the task whose records are being processed
	fatal  error // from a callback
	ending bool  // the input ended: the last checkpoint marks every task idle

	// stats is what Stats reads, under a lock of its own: mu is held
	// across sink I/O, and progress must not wait for a slow sink.
	stats struct {
		sync.Mutex
		metrics map[TaskID]*engine.Metrics // of the tasks
		gone    Stats                      // counters of tasks gone, so that Stats never goes back
	}
	checkpoints atomic.Int64
	written     map[string]*atomic.Int64 // by sink; the map is fixed at NewRunner
}

type task struct {
	id        TaskID
	t         *engine.Task
	pos       engine.Positions // processed
	committed engine.Positions
	snap      []byte // state as of committed, for a rollback
	seq       int64  // of the last saved snapshot that was committed
	dirty     bool
	bufs      map[string]*outBuf
	// ahead holds, for each exactly-once sink other than the primary that
	// committed positions beyond committed (a crash or an abort between
	// its commit and the primary's), those positions: outputs of records
	// it covers are already in it and are not written again.
	ahead map[string]engine.Positions
	// lastRecord is when the task last read a record (or was created).
	lastRecord time.Time
	// ended: the task's end markers were sent (at the end of the input).
	ended bool
	// pending counts, per sink, the records written since the last
	// commit; they count in Stats.Written once committed.
	pending map[string]int64
	// atCommit are the task's counters as of its last commit: what a
	// task dropped without a commit (lost, rolled back, failed) adds to
	// the stage's totals, as its uncommitted work is done again.
	atCommit counts
}

// counts are a task's counters at a point in time.
type counts struct {
	in, out, late, skipped, deadLettered, closed int64
}

func countsOf(m *engine.Metrics) counts {
	return counts{m.In.Load(), m.Out.Load(), m.Late.Load(), m.Skipped.Load(), m.DeadLettered.Load(), m.Closed.Load()}
}

// addTo adds c to the counters of s.
func (c counts) addTo(s *Stats) {
	s.In += c.in
	s.Out += c.out
	s.Late += c.late
	s.Skipped += c.skipped
	s.DeadLettered += c.deadLettered
	s.Closed += c.closed
}

// NewRunner checks cfg and returns a runner for it.
func NewRunner(cfg StageConfig) (*Runner, error) {
	stages, err := cfg.Graph.Stages()
	if err != nil {
		return nil, err
	}
	if cfg.Stage < 0 || cfg.Stage >= len(stages) {
		return nil, fmt.Errorf("connect: graph %s has no stage %d", cfg.Graph.Name(), cfg.Stage)
	}
	info := stages[cfg.Stage]
	if cfg.Source == nil {
		return nil, fmt.Errorf("connect: stage %d of %s: no source bound to %q", cfg.Stage, cfg.Graph.Name(), info.Source)
	}
	for _, out := range info.Sinks {
		if cfg.Sinks[out] == nil {
			return nil, fmt.Errorf("connect: stage %d of %s: no sink bound to the output %q", cfg.Stage, cfg.Graph.Name(), out)
		}
	}
	if cfg.Primary == "" {
		for _, out := range info.Sinks {
			if cfg.Sinks[out].Delivery() == ExactlyOnce && out != cfg.Graph.ErrorPolicy().DeadLetter {
				cfg.Primary = out
				break
			}
		}
		if cfg.Primary == "" {
			cfg.Primary = info.Sinks[0]
		}
	}
	primary := cfg.Sinks[cfg.Primary]
	if primary == nil {
		return nil, fmt.Errorf("connect: the primary sink %q is not an output of stage %d of %s", cfg.Primary, cfg.Stage, cfg.Graph.Name())
	}
	if info.Stateful && cfg.State == nil {
		return nil, fmt.Errorf("connect: stage %d of %s has windows and needs a state store", cfg.Stage, cfg.Graph.Name())
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Runner{
		cfg: cfg, info: info, primary: primary, tasks: map[TaskID]*task{},
		key: fmt.Sprintf("%s/%d", cfg.Graph.Name(), cfg.Stage),
		log: cfg.Logger.With("pipeline", cfg.Graph.Name(), "stage", cfg.Stage),
	}
	dl := cfg.Graph.ErrorPolicy().DeadLetter
	for _, name := range slices.Sorted(maps.Keys(cfg.Sinks)) {
		if _, ok := cfg.Sinks[name].(Preparer); ok && name != dl {
			r.preparers = append(r.preparers, name)
		}
	}
	if _, ok := cfg.Sinks[dl].(Preparer); ok {
		r.preparers = append(r.preparers, dl)
	}
	r.stats.metrics = map[TaskID]*engine.Metrics{}
	r.stats.gone.Watermark = math.MinInt64
	r.written = make(map[string]*atomic.Int64, len(cfg.Sinks))
	for name := range cfg.Sinks {
		r.written[name] = new(atomic.Int64)
	}
	return r, nil
}

// Run runs the stage until ctx ends (then it commits and returns nil), the
// source reports the end of its input (likewise), or an error stops it.
// When ctx ends, the batch in hand is processed and everything committed,
// within StopTimeout: past it Run returns an error wrapping
// ErrStopTimeout that says what was not committed.
func (r *Runner) Run(ctx context.Context) (err error) {
	// work is the context of processing and committing: a stop does not
	// cut a write or a commit short, the stop timeout does.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopWatch := context.AfterFunc(ctx, func() { time.AfterFunc(r.cfg.StopTimeout, cancelWork) })
	defer stopWatch()

	src := r.cfg.Source
	if err := src.Open(ctx, r); err != nil {
		return fmt.Errorf("connect: opening the source of %s: %w", r.key, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err != nil {
			// A record or a write may have failed halfway through a batch:
			// what was processed since the last checkpoint is dropped, so
			// that closing the source (which revokes its tasks) does not
			// commit it.
			r.mu.Lock()
			r.dropLocked(cctx, slices.Collect(maps.Keys(r.tasks)))
			r.mu.Unlock()
		}
		if cerr := src.Close(cctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	last := time.Now()
	for {
		pctx, cancel := context.WithDeadline(ctx, last.Add(r.cfg.CheckpointInterval))
		batches, perr := src.Poll(pctx)
		cancel()
		if err := r.takeFatal(); err != nil && ctx.Err() == nil {
			return err
		}
		switch {
		case perr == nil:
		case ctx.Err() != nil || errors.Is(perr, ErrEndOfInput):
			// Stop: commit what was processed. At the end of the input,
			// the readers of the stage's repartition topics are told not
			// to wait for it.
			if errors.Is(perr, ErrEndOfInput) {
				r.mu.Lock()
				r.ending = true
				r.mu.Unlock()
			}
			if err := r.stop(work, r.process(work, batches)); err != nil {
				return err
			}
			if errors.Is(perr, ErrEndOfInput) {
				r.warnOpen()
			}
			return nil
		case errors.Is(perr, context.DeadlineExceeded):
		default:
			return fmt.Errorf("connect: %s: source: %w", r.key, perr)
		}
		if err := r.process(work, batches); err != nil {
			if ctx.Err() != nil {
				return r.stop(work, err)
			}
			return err
		}
		now := time.Now()
		if err := r.tick(work, now); err != nil {
			return err
		}
		if now.Sub(last) >= r.cfg.CheckpointInterval || r.wantsCommit() {
			if err := r.checkpoint(work, true); err != nil {
				if ctx.Err() != nil {
					continue // stopping: the final checkpoint retries
				}
				return err
			}
			last = now
		}
	}
}

// stop makes the last checkpoint of Run, after the last batch was
// processed (with perr, the error that processing returned). A stop that
// could not commit says what it left.
func (r *Runner) stop(work context.Context, perr error) error {
	err := perr
	if err == nil {
		err = r.checkpoint(work, false)
	}
	if err == nil {
		return nil
	}
	if work.Err() == nil {
		return err
	}
	r.mu.Lock()
	left := r.uncommittedLocked()
	r.mu.Unlock()
	return fmt.Errorf("%w: %s did not finish committing within %v (%w); not committed, and processed again by the next run: %s",
		ErrStopTimeout, r.key, r.cfg.StopTimeout, err, left)
}

// uncommittedLocked describes the work of the tasks that is not
// committed: from the positions committed to those processed.
//
// REQUIRES: r.mu
func (r *Runner) uncommittedLocked() string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(r.tasks)) {
		t := r.tasks[id]
		if !t.dirty {
			continue
		}
		for _, in := range slices.SortedFunc(maps.Keys(t.pos), func(a, b engine.Input) int {
			if c := strings.Compare(a.Stream, b.Stream); c != 0 {
				return c
			}
			return int(a.Partition - b.Partition)
		}) {
			if from, to := t.committed[in], t.pos[in]; to > from {
				parts = append(parts, fmt.Sprintf("%s[%d] offsets %d to %d", in.Stream, in.Partition, from, to-1))
			}
		}
	}
	if len(parts) == 0 {
		return "nothing processed since the last commit"
	}
	return strings.Join(parts, ", ")
}

func (r *Runner) takeFatal() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

func (r *Runner) process(ctx context.Context, batches []Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range batches {
		t := r.tasks[b.Task]
		if t == nil {
			continue // revoked while the batch was on its way
		}
		for in, next := range b.Past {
			if next > t.pos[in] && len(b.Records) == 0 {
				t.pos[in], t.dirty = next, true
			}
		}
		if len(b.Records) == 0 {
			continue
		}
		r.cur = t
		if err := t.t.ProcessBatch(r.info.Source, b.Records); err != nil {
			return fmt.Errorf("connect: %s task %d: %w", r.key, t.id, err)
		}
		// The positions: where each input's last record of the batch ends,
		// or further past what holds no record.
		in, next := b.Records[0].Pos.Input, b.Records[0].Pos.Next
		for _, rec := range b.Records[1:] {
			if rec.Pos.Input != in {
				t.pos[in] = next
				in = rec.Pos.Input
			}
			next = rec.Pos.Next
		}
		t.pos[in] = next
		for in, next := range b.Past {
			t.pos[in] = max(t.pos[in], next)
		}
		t.dirty, t.lastRecord = true, time.Now()
		r.cur = nil
		if err := r.flush(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// outBuf holds a task's outputs to one sink until they are written: the
// records by value, reused from batch to batch (sinks copy what they keep).
type outBuf struct {
	recs []Record
	ptrs []*Record
}

// flush hands a task's buffered outputs to the sinks.
func (r *Runner) flush(ctx context.Context, t *task) error {
	for out, b := range t.bufs {
		if len(b.recs) == 0 {
			continue
		}
		b.ptrs = b.ptrs[:0]
		ahead := t.ahead[out]
		for i := range b.recs {
			if ahead != nil && holds(ahead, &b.recs[i]) {
				continue
			}
			b.ptrs = append(b.ptrs, &b.recs[i])
		}
		var err error
		if len(b.ptrs) > 0 {
			err = r.cfg.Sinks[out].Write(ctx, t.id, b.ptrs)
			t.countWritten(out, len(b.ptrs), err)
			err = r.rejected(ctx, t, out, err)
		}
		clear(b.recs)
		clear(b.ptrs)
		b.recs = b.recs[:0]
		if err != nil {
			return fmt.Errorf("connect: %s task %d: writing to %s: %w", r.key, t.id, out, err)
		}
	}
	return nil
}

// rejected applies the error policy to the records a sink refused, when
// err is a *RejectedError; any other error is returned as it is.
func (r *Runner) rejected(ctx context.Context, t *task, out string, err error) error {
	var rej *RejectedError
	if err == nil || !errors.As(err, &rej) {
		return err
	}
	p := r.cfg.Graph.ErrorPolicy()
	switch {
	case p.Mode == engine.Skip:
		for _, x := range rej.Rejected {
			pos := x.Record.Pos
			r.log.Warn("skipping a record the sink refused", "sink", out, "topic", pos.Stream, "partition", pos.Partition, "offset", pos.Offset, "err", x.Reason)
		}
		t.t.Metrics().Skipped.Add(int64(len(rej.Rejected)))
		return nil
	case p.Mode == engine.DeadLetter && p.DeadLetter != "" && out != p.DeadLetter:
		ahead := t.ahead[p.DeadLetter]
		dls := make([]*Record, 0, len(rej.Rejected))
		for _, x := range rej.Rejected {
			if ahead != nil && holds(ahead, x.Record) {
				continue
			}
			dl := engine.AsDeadLetter(x.Record, "sink "+out, x.Reason)
			dls = append(dls, &dl)
		}
		t.t.Metrics().DeadLettered.Add(int64(len(rej.Rejected)))
		if len(dls) == 0 {
			return nil
		}
		err := r.cfg.Sinks[p.DeadLetter].Write(ctx, t.id, dls)
		t.countWritten(p.DeadLetter, len(dls), err)
		if err != nil {
			return fmt.Errorf("connect: %s task %d: writing what %s refused to the dead letter %s: %w", r.key, t.id, out, p.DeadLetter, err)
		}
		return nil
	default:
		return fmt.Errorf("connect: %s task %d: %s: %w", r.key, t.id, out, err)
	}
}

// countWritten counts, for task t, the n records handed to the sink out
// that it took: all of them, but those it refused, when err is nil or a
// RejectedError. They count in Stats once committed.
func (t *task) countWritten(out string, n int, err error) {
	var rej *RejectedError
	switch {
	case err == nil:
	case errors.As(err, &rej):
		n -= len(rej.Rejected)
	default:
		return
	}
	if t.pending == nil {
		t.pending = map[string]int64{}
	}
	t.pending[out] += int64(n)
}

// setAhead records that the sink name holds the outputs up to pos.
func (t *task) setAhead(name string, pos engine.Positions) {
	if t.ahead == nil {
		t.ahead = map[string]engine.Positions{}
	}
	t.ahead[name] = pos
}

// holds reports whether a sink that committed positions ahead already
// holds the output rec: the record it came from is covered. An output
// with no source position (one a processing-time tick made) is written.
func holds(ahead engine.Positions, rec *Record) bool {
	if rec.Pos.Next == 0 {
		return false
	}
	next, ok := ahead[rec.Pos.Input]
	return ok && rec.Pos.Next <= next
}

// beyond reports whether p is past q on some input.
func beyond(p, q engine.Positions) bool {
	for in, off := range p {
		if off > q[in] {
			return true
		}
	}
	return false
}

// merged returns pos with each input moved up to ahead's offset where
// ahead is further.
func merged(pos, ahead engine.Positions) engine.Positions {
	if ahead == nil {
		return pos
	}
	m := pos.Clone()
	for in, off := range ahead {
		if off > m[in] {
			m[in] = off
		}
	}
	return m
}

func (r *Runner) tick(ctx context.Context, now time.Time) error {
	if !r.info.Stateful {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tasks {
		r.cur = t
		err := t.t.Tick(now.UnixMilli())
		r.cur = nil
		if err != nil {
			return fmt.Errorf("connect: %s task %d: %w", r.key, t.id, err)
		}
		if err := r.flush(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) wantsCommit() bool {
	for _, s := range r.cfg.Sinks {
		if rl, ok := s.(Roller); ok && rl.WantsCommit() {
			return true
		}
	}
	return false
}

// checkpoint commits the work of every task that has some. A regular
// one (the interval, a sink's roll) may be put off (closeAtEndLocked).
func (r *Runner) checkpoint(ctx context.Context, regular bool) error {
	// ctx is Run's work context: a stop does not cut a commit short (a
	// Kafka transaction whose end request was canceled has an outcome
	// nobody knows, which franz-go rightly refuses to retry as a commit);
	// only the stop timeout does.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkpointLocked(ctx, regular)
}

func (r *Runner) checkpointLocked(ctx context.Context, regular bool) error {
	if later, err := r.closeAtEndLocked(ctx, regular); later || err != nil {
		return err
	}
	cp := Checkpoint{}
	for id, t := range r.tasks {
		if t.dirty {
			cp[id] = t.pos.Clone()
		}
	}
	// Watermark markers of the stage's KeyBys, for every task. A task says
	// it is idle when it read nothing for IdleTimeout and nothing waits in
	// its partitions; when its input ended, it gives its last watermark
	// (or says it is idle if it never read anything).
	markers := false
	var lags map[TaskID]int64
	for id, t := range r.tasks {
		if len(t.t.KeyBys()) == 0 {
			continue
		}
		if lags == nil {
			lags = r.cfg.Source.Lag()
		}
		var ms []engine.Marker
		switch {
		case t.ended:
			// Said at the last checkpoint: the source's close revokes
			// the tasks, which checkpoints again.
		case r.ending && r.cfg.CloseWindows && t.t.OpenWindows() == 0 && (!r.info.Repartition || t.t.UpstreamsEnded()):
			// A task says it ended only when nothing of it stays open
			// to write later: its windows are closed, and after a
			// KeyBy its own upstream tasks ended.
			ms, t.ended = t.t.ClosingMarkers(), true
		case r.ending:
			ms, t.ended = t.t.EndMarkers(), true
		default:
			idle := r.cfg.IdleTimeout > 0 && !t.dirty && time.Since(t.lastRecord) >= r.cfg.IdleTimeout && lags[id] <= 0
			ms = t.t.Markers(idle)
		}
		for _, m := range ms {
			if b, ok := r.cfg.Sinks[m.Output].(Broadcaster); ok {
				if err := b.Broadcast(ctx, id, m.Record); err != nil {
					return fmt.Errorf("connect: %s task %d: broadcasting a watermark to %s: %w", r.key, id, m.Output, err)
				}
				markers = true
			}
		}
	}
	if len(cp) == 0 && !markers {
		return nil
	}
	// What each sink is given: a sink that went ahead of the primary
	// before a crash is never moved back, it gets its own positions where
	// they are further.
	cps := make(map[string]Checkpoint, len(r.cfg.Sinks))
	for name := range r.cfg.Sinks {
		scp, cloned := cp, false
		for id, pos := range cp {
			if a := r.tasks[id].ahead[name]; a != nil {
				if !cloned {
					scp, cloned = maps.Clone(cp), true
				}
				scp[id] = merged(pos, a)
			}
		}
		cps[name] = scp
	}
	// First the sinks that prepare: what they refuse goes to the dead
	// letter, which prepares last.
	if err := r.prepareLocked(ctx, cps); err != nil {
		return err
	}
	// Then the other sinks, then the state, then the primary.
	secondary := map[string]Checkpoint{}
	for name, s := range r.cfg.Sinks {
		if name == r.cfg.Primary {
			continue
		}
		scp := cps[name]
		if err := s.Commit(ctx, scp); err != nil {
			return fmt.Errorf("connect: %s: committing %s: %w", r.key, name, err)
		}
		if s.Delivery() == ExactlyOnce {
			secondary[name] = scp
		}
	}
	var snaps map[TaskID]Snapshot
	if r.info.Stateful {
		snaps = make(map[TaskID]Snapshot, len(cp))
		for id := range cp {
			t := r.tasks[id]
			b, err := t.t.Snapshot()
			if err != nil {
				return fmt.Errorf("connect: %s task %d: %w", r.key, id, err)
			}
			snaps[id] = Snapshot{Seq: t.seq + 1, Positions: cp[id], State: b}
		}
	}
	if r.primary.Delivery() == ExactlyOnce {
		if snaps != nil {
			if err := r.cfg.State.Save(ctx, r.key, snaps); err != nil {
				return fmt.Errorf("connect: %s: saving state: %w", r.key, err)
			}
		}
		if err := r.primary.Commit(ctx, cp); err != nil {
			if errors.Is(err, ErrAborted) {
				r.log.Info("commit aborted; processing again from the last checkpoint", "err", err)
				for name, scp := range secondary {
					for id, pos := range scp {
						r.tasks[id].setAhead(name, pos)
					}
				}
				return r.rollbackLocked()
			}
			return fmt.Errorf("connect: %s: committing %s: %w", r.key, r.cfg.Primary, err)
		}
		// The positions are in the sink; the group offsets only show lag.
		if err := r.cfg.Source.Commit(ctx, cp); err != nil {
			r.log.Warn("committing positions to the source for monitoring", "err", err)
		}
	} else {
		if err := r.primary.Commit(ctx, cp); err != nil {
			return fmt.Errorf("connect: %s: committing %s: %w", r.key, r.cfg.Primary, err)
		}
		if snaps != nil {
			if err := r.cfg.State.Save(ctx, r.key, snaps); err != nil {
				return fmt.Errorf("connect: %s: saving state: %w", r.key, err)
			}
		}
		if err := r.cfg.Source.Commit(ctx, cp); err != nil {
			return fmt.Errorf("connect: %s: committing positions: %w", r.key, err)
		}
	}
	for id, pos := range cp {
		t := r.tasks[id]
		t.committed, t.dirty = pos, false
		if snaps != nil {
			t.snap, t.seq = snaps[id].State, snaps[id].Seq
		}
		for name, a := range t.ahead {
			if !beyond(a, pos) {
				delete(t.ahead, name)
			}
		}
		for name, n := range t.pending {
			r.written[name].Add(n)
		}
		clear(t.pending)
		t.atCommit = countsOf(t.t.Metrics())
	}
	// A checkpoint that only broadcast watermark markers committed no
	// work: it is not counted (a failing stage must not look healthy).
	if len(cp) > 0 {
		r.checkpoints.Add(1)
	}
	return nil
}

// closeAtEndLocked closes, with StageConfig.CloseWindows, the windows of
// the tasks of a stage reading the pipeline's input that reached the end
// of it: all of them at the end of the input, and those the source says
// are at their end (Ender) at any checkpoint. Only a task with work to
// commit closes: its positions moved, so the snapshot and outputs of the
// closing are the only ones at them. A task committed at its end with
// its windows open (an earlier run, or a source that could not tell)
// cannot close them: state and output at the same positions would differ
// with nothing to tell which the sink holds, and a crash in between would
// lose or repeat them. So that this does not happen in the run itself,
// a regular checkpoint is put off (later is true) while a task has work
// and the source cannot tell where its tasks end. A stage after a KeyBy
// closes in its task as it reads its upstream tasks' end markers: a
// position too.
//
// REQUIRES: r.mu
func (r *Runner) closeAtEndLocked(ctx context.Context, regular bool) (later bool, err error) {
	if !r.cfg.CloseWindows || !r.info.Stateful || r.info.Repartition {
		return false, nil
	}
	ender, _ := r.cfg.Source.(Ender)
	for id, t := range r.tasks {
		switch {
		case !t.dirty:
		case r.ending || (ender != nil && ender.AtEnd(id)):
			r.cur = t
			err := t.t.CloseWindows(t.endPos())
			r.cur = nil
			if err != nil {
				return false, fmt.Errorf("connect: %s task %d: %w", r.key, id, err)
			}
			if err := r.flush(ctx, t); err != nil {
				return false, err
			}
		case regular && ender == nil:
			return true, nil
		}
	}
	return false, nil
}

// endPos is the position the results of closing a task's windows carry:
// where an input that moved since the last commit ends, so that a sink
// that committed them before a crash (an exactly-once one ahead of the
// primary) is not given them again.
func (t *task) endPos() engine.Pos {
	ins := slices.SortedFunc(maps.Keys(t.pos), func(a, b engine.Input) int {
		if c := strings.Compare(a.Stream, b.Stream); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	for _, in := range ins {
		if next := t.pos[in]; next != t.committed[in] {
			return engine.Pos{Input: in, Offset: next - 1, Next: next}
		}
	}
	return engine.Pos{}
}

// warnOpen says, at the end of the input of a stage that closes its
// windows, how many stay open and why.
func (r *Runner) warnOpen() {
	if !r.cfg.CloseWindows {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.tasks {
		n += t.t.OpenWindows()
	}
	switch {
	case n == 0:
	case r.info.Repartition:
		r.log.Warn("windows stay open at the end of the input: not every upstream task's end was read in this run (another process still writes, or the stage restarted part-way); a later run with close-windows closes them",
			"windows", n)
	default:
		r.log.Warn("windows stay open at the end of the input: the end of their input was committed before they could close (by a run without close-windows, or before the source could tell its end); they close in a run that reads new records",
			"windows", n)
	}
}

// prepareLocked calls Prepare on the sinks that implement Preparer, the
// dead letter last, and applies the error policy to what they refuse.
func (r *Runner) prepareLocked(ctx context.Context, cps map[string]Checkpoint) error {
	for _, name := range r.preparers {
		err := r.cfg.Sinks[name].(Preparer).Prepare(ctx, cps[name])
		var rej *RejectedError
		if errors.As(err, &rej) {
			byTask := map[TaskID][]Rejection{}
			for _, x := range rej.Rejected {
				byTask[x.Task] = append(byTask[x.Task], x)
			}
			for id, xs := range byTask {
				t := r.tasks[id]
				if t == nil {
					return fmt.Errorf("connect: %s: %s refused a record of task %d, which this process does not run: %w", r.key, name, id, err)
				}
				if err := r.rejected(ctx, t, name, &RejectedError{Rejected: xs}); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("connect: %s: preparing %s: %w", r.key, name, err)
		}
	}
	return nil
}

// rollbackLocked puts every task back to its last committed state, after
// the source rewound to the committed positions.
func (r *Runner) rollbackLocked() error {
	for id, t := range r.tasks {
		nt, err := r.newTask(id)
		if err != nil {
			return err
		}
		if t.snap != nil {
			if err := nt.t.Restore(t.snap); err != nil {
				return fmt.Errorf("connect: %s task %d: %w", r.key, id, err)
			}
		}
		nt.committed, nt.pos, nt.snap, nt.seq, nt.ahead = t.committed, t.committed.Clone(), t.snap, t.seq, t.ahead
		r.setTask(id, nt)
	}
	return nil
}

func (r *Runner) newTask(id TaskID) (*task, error) {
	t := &task{id: id, pos: engine.Positions{}, bufs: map[string]*outBuf{}, lastRecord: time.Now()}
	et, err := r.cfg.Graph.NewTask(r.cfg.Stage, id, engine.OutputFunc(func(out string, rec *engine.Raw) {
		b := t.bufs[out]
		if b == nil {
			b = &outBuf{}
			t.bufs[out] = b
		}
		b.recs = append(b.recs, *rec) // the task reuses rec
	}))
	if err != nil {
		return nil, err
	}
	if r.info.Repartition && r.cfg.Upstreams > 0 {
		et.ExpectUpstreams(r.cfg.Upstreams)
	}
	if il, ok := r.cfg.Source.(InputLister); ok {
		et.ExpectInputs(il.Inputs(id)...)
	}
	t.t = et
	return t, nil
}

// setTask makes t task id, retiring the task it replaces.
//
// REQUIRES: r.mu
func (r *Runner) setTask(id TaskID, t *task) {
	old := r.tasks[id]
	r.tasks[id] = t
	r.stats.Lock()
	defer r.stats.Unlock()
	if old != nil {
		r.retireLocked(old)
	}
	r.stats.metrics[id] = t.t.Metrics()
}

// removeTask drops task id, retiring it.
//
// REQUIRES: r.mu
func (r *Runner) removeTask(id TaskID) {
	t := r.tasks[id]
	if t == nil {
		return
	}
	delete(r.tasks, id)
	r.stats.Lock()
	defer r.stats.Unlock()
	r.retireLocked(t)
	delete(r.stats.metrics, id)
}

// retireLocked adds the counters of a task that goes away to the gone
// ones: those of its last commit, as what it did since is dropped (and
// done again by the task that replaces it, here or elsewhere).
//
// REQUIRES: r.stats
func (r *Runner) retireLocked(t *task) {
	t.atCommit.addTo(&r.stats.gone)
}

// Assigned implements Assignments: it opens the tasks in every sink and
// restores their state as of the positions the primary sink reports.
func (r *Runner) Assigned(ctx context.Context, ids []TaskID) (map[TaskID]engine.Positions, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.assignLocked(ctx, ids)
	if err != nil && r.fatal == nil {
		r.fatal = err
	}
	return res, err
}

func (r *Runner) assignLocked(ctx context.Context, ids []TaskID) (map[TaskID]engine.Positions, error) {
	var stored map[TaskID][]Snapshot
	if r.info.Stateful {
		var err error
		if stored, err = r.cfg.State.Load(ctx, r.key, ids); err != nil {
			return nil, fmt.Errorf("connect: %s: loading state: %w", r.key, err)
		}
	}
	res := make(map[TaskID]engine.Positions, len(ids))
	for _, id := range ids {
		var pos engine.Positions
		others := map[string]engine.Positions{}
		for name, s := range r.cfg.Sinks {
			p, err := s.OpenTask(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("connect: %s task %d: opening %s: %w", r.key, id, name, err)
			}
			if name == r.cfg.Primary {
				pos = p
			} else if p != nil && s.Delivery() == ExactlyOnce {
				others[name] = p
			}
		}
		t, err := r.newTask(id)
		if err != nil {
			return nil, err
		}
		if r.info.Stateful {
			snap, err := r.pick(id, pos, stored[id])
			if err != nil {
				return nil, err
			}
			if snap != nil {
				if err := t.t.Restore(snap.State); err != nil {
					return nil, fmt.Errorf("connect: %s task %d: %w", r.key, id, err)
				}
				t.snap, t.seq = snap.State, snap.Seq
				pos = snap.Positions
			}
		}
		if pos != nil {
			t.committed, t.pos = pos, pos.Clone()
			res[id] = pos
		}
		for name, p := range others {
			if beyond(p, pos) {
				t.setAhead(name, p)
				r.log.Debug("a sink is ahead of the primary: the outputs it holds are not written again", "task", id, "sink", name, "positions", fmt.Sprint(p))
			}
		}
		r.setTask(id, t)
		r.log.Debug("task assigned", "task", id, "positions", fmt.Sprint(pos))
	}
	return res, nil
}

// pick chooses the snapshot a task restores: the one taken at the
// positions an exactly-once sink reports, or the newest for an
// at-least-once sink (whose output is committed before the snapshot).
func (r *Runner) pick(id TaskID, pos engine.Positions, snaps []Snapshot) (*Snapshot, error) {
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].Seq > snaps[j].Seq })
	if r.primary.Delivery() != ExactlyOnce {
		if len(snaps) == 0 {
			return nil, nil
		}
		return &snaps[0], nil
	}
	if pos == nil {
		if len(snaps) > 0 {
			r.log.Warn("the sink has no committed output for the task: its stored state is ignored", "task", id)
		}
		return nil, nil
	}
	for i := range snaps {
		if snaps[i].Positions.Equal(pos) {
			return &snaps[i], nil
		}
	}
	return nil, fmt.Errorf("connect: %s task %d: the sink %s committed positions %v but no stored state matches them (the state topic lost it); refusing to go on with wrong state", r.key, id, r.cfg.Primary, pos)
}

// Revoked implements Assignments: it commits, then drops the tasks.
func (r *Runner) Revoked(ctx context.Context, ids []TaskID) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkpointLocked(cctx, false); err != nil {
		r.log.Warn("committing before a rebalance; the next owner processes the records again", "err", err)
	}
	r.dropLocked(ctx, ids)
}

// Lost implements Assignments: it drops the tasks without committing.
func (r *Runner) Lost(ctx context.Context, ids []TaskID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(ctx, ids)
}

func (r *Runner) dropLocked(ctx context.Context, ids []TaskID) {
	for _, id := range ids {
		t := r.tasks[id]
		if t == nil {
			continue
		}
		for name, s := range r.cfg.Sinks {
			if err := s.CloseTask(ctx, id); err != nil {
				r.log.Warn("closing a task", "task", id, "sink", name, "err", err)
			}
		}
		r.removeTask(id)
	}
}

// Stats returns the stage's progress; safe to call from any goroutine,
// and never waits for the stage's work (a slow sink).
func (r *Runner) Stats() Stats {
	r.stats.Lock()
	s := r.stats.gone
	s.Tasks = len(r.stats.metrics)
	wm := int64(math.MaxInt64)
	for _, m := range r.stats.metrics {
		countsOf(m).addTo(&s)
		wm = min(wm, m.Watermark.Load())
	}
	r.stats.Unlock()
	if s.Tasks == 0 || wm == math.MaxInt64 {
		wm = math.MinInt64
	}
	s.Watermark = wm
	s.Checkpoints = r.checkpoints.Load()
	s.Written = make(map[string]int64, len(r.written))
	for name, n := range r.written {
		s.Written[name] = n.Load()
	}
	if sk, ok := r.cfg.Source.(Skipper); ok {
		s.Deleted = sk.Skipped()
	}
	s.Lag = -1
	if lag := r.cfg.Source.Lag(); lag != nil {
		s.Lag = 0
		for _, l := range lag {
			if l < 0 {
				s.Lag = -1
				break
			}
			s.Lag += l
		}
	}
	return s
}
