package connecttest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Call is one call made to a Sink.
type Call struct {
	Op         string // "OpenTask", "Write", "Prepare", "Commit", "CloseTask", "Close"
	Task       connect.TaskID
	Records    []*connect.Record  // Write
	Checkpoint connect.Checkpoint // Prepare and Commit, a copy
	Err        error              // what the call returned
}

// Sink is a connect.Sink in memory. What Write is given is pending until
// a Commit naming its task makes it output; OpenTask and CloseTask drop a
// task's pending records. An exactly-once sink stores each task's
// positions with its output and reports them from OpenTask; an
// at-least-once one reports none.
//
// It implements connect.Roller: see SetRollAfter.
type Sink struct {
	name     string
	delivery connect.Delivery
	journal  *Journal

	mu        sync.Mutex
	calls     []Call
	pending   map[connect.TaskID][]*connect.Record
	output    map[connect.TaskID][]*connect.Record
	positions map[connect.TaskID]engine.Positions
	written   int // records since the last commit, for WantsCommit
	rollAfter int
	commitN   int
	writeN    int
	commitErr failures
	writeErr  failures
	openErr   error
	onAbort   func()
	reject    func(*connect.Record) error
	writeHook func(ctx context.Context) error
}

var (
	_ connect.Sink   = (*Sink)(nil)
	_ connect.Roller = (*Sink)(nil)
)

// NewExactlyOnceSink returns an exactly-once sink named name (the prefix
// of its journal entries).
func NewExactlyOnceSink(name string, j *Journal) *Sink { return newSink(name, connect.ExactlyOnce, j) }

// NewAtLeastOnceSink returns an at-least-once sink named name.
func NewAtLeastOnceSink(name string, j *Journal) *Sink { return newSink(name, connect.AtLeastOnce, j) }

func newSink(name string, d connect.Delivery, j *Journal) *Sink {
	return &Sink{
		name: name, delivery: d, journal: j,
		pending: map[connect.TaskID][]*connect.Record{}, output: map[connect.TaskID][]*connect.Record{},
		positions: map[connect.TaskID]engine.Positions{},
	}
}

// SetRollAfter makes WantsCommit true once n records were written since
// the last commit (0, the default: never).
func (s *Sink) SetRollAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rollAfter = n
}

// FailCommit makes the nth call of Commit (counting from 1) return err
// and commit nothing. When err is connect.ErrAborted, the call also drops
// every pending record, as an aborted transaction does, then calls the
// function given to OnAbort.
func (s *Sink) FailCommit(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitErr.set(n, err)
}

// FailWrite makes the nth call of Write return err and keep nothing.
func (s *Sink) FailWrite(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeErr.set(n, err)
}

// FailOpen makes OpenTask return err.
func (s *Sink) FailOpen(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openErr = err
}

// Reject makes Write refuse the records for which f returns an error
// (a *connect.RejectedError), and keep the others.
func (s *Sink) Reject(f func(*connect.Record) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = f
}

// OnAbort sets what an aborted commit does besides dropping the pending
// records: rewind the source to the committed positions, typically. It
// runs in the goroutine calling Commit, without the sink's lock held.
func (s *Sink) OnAbort(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAbort = f
}

// SetPositions stores positions for task, as if an earlier run had
// committed them.
func (s *Sink) SetPositions(task connect.TaskID, pos engine.Positions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.positions[task] = pos.Clone()
}

// Delivery implements connect.Sink.
func (s *Sink) Delivery() connect.Delivery { return s.delivery }

// OpenTask implements connect.Sink.
func (s *Sink) OpenTask(_ context.Context, task connect.TaskID) (engine.Positions, error) {
	s.journal.add("%s.OpenTask(%d)", s.name, task)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "OpenTask", Task: task, Err: s.openErr})
	if s.openErr != nil {
		return nil, s.openErr
	}
	delete(s.pending, task)
	if pos, ok := s.positions[task]; ok && s.delivery == connect.ExactlyOnce {
		return pos.Clone(), nil
	}
	return nil, nil
}

// SetWriteHook makes every Write call f first, outside the sink's lock,
// and fail with its error: a slow sink that honours its context, say.
func (s *Sink) SetWriteHook(f func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeHook = f
}

// Write implements connect.Sink. It keeps the records, not the slice.
func (s *Sink) Write(ctx context.Context, task connect.TaskID, recs []*connect.Record) error {
	s.journal.add("%s.Write(%d)", s.name, task)
	s.mu.Lock()
	hook := s.writeHook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(ctx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeN++
	// The runtime reuses the records after Write: keep copies.
	kept := make([]*connect.Record, len(recs))
	for i, r := range recs {
		c := *r
		kept[i] = &c
	}
	recs = kept
	err := s.writeErr[s.writeN]
	s.calls = append(s.calls, Call{Op: "Write", Task: task, Records: recs, Err: err})
	if err != nil {
		return err
	}
	var rej connect.RejectedError
	if s.reject != nil {
		var keep []*connect.Record
		for _, r := range recs {
			if why := s.reject(r); why != nil {
				rej.Rejected = append(rej.Rejected, connect.Rejection{Task: task, Record: r, Reason: why})
			} else {
				keep = append(keep, r)
			}
		}
		recs = keep
	}
	s.pending[task] = append(s.pending[task], recs...)
	s.written += len(recs)
	if len(rej.Rejected) > 0 {
		return &rej
	}
	return nil
}

// Commit implements connect.Sink: the pending records of the tasks of cp
// become output and, for an exactly-once sink, cp's positions are stored.
func (s *Sink) Commit(_ context.Context, cp connect.Checkpoint) error {
	s.journal.add("%s.Commit", s.name)
	s.mu.Lock()
	s.commitN++
	err := s.commitErr[s.commitN]
	s.calls = append(s.calls, Call{Op: "Commit", Checkpoint: cloneCheckpoint(cp), Err: err})
	if err != nil {
		var hook func()
		if errors.Is(err, connect.ErrAborted) {
			clear(s.pending)
			s.written = 0
			hook = s.onAbort
		}
		s.mu.Unlock()
		if hook != nil {
			hook()
		}
		return err
	}
	defer s.mu.Unlock()
	for id, pos := range cp {
		s.output[id] = append(s.output[id], s.pending[id]...)
		delete(s.pending, id)
		if s.delivery == connect.ExactlyOnce {
			s.positions[id] = pos.Clone()
		}
	}
	s.written = 0
	return nil
}

// CloseTask implements connect.Sink.
func (s *Sink) CloseTask(_ context.Context, task connect.TaskID) error {
	s.journal.add("%s.CloseTask(%d)", s.name, task)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "CloseTask", Task: task})
	delete(s.pending, task)
	return nil
}

// Close implements connect.Sink.
func (s *Sink) Close(context.Context) error {
	s.journal.add("%s.Close", s.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "Close"})
	return nil
}

// WantsCommit implements connect.Roller.
func (s *Sink) WantsCommit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rollAfter > 0 && s.written >= s.rollAfter
}

// Calls returns the calls made so far, in order.
func (s *Sink) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsOf returns the calls of one method, in order.
func (s *Sink) CallsOf(op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Commits returns the checkpoints of the successful commits, in order.
func (s *Sink) Commits() []connect.Checkpoint {
	var out []connect.Checkpoint
	for _, c := range s.CallsOf("Commit") {
		if c.Err == nil {
			out = append(out, c.Checkpoint)
		}
	}
	return out
}

// Output returns the committed records of task, in order.
func (s *Sink) Output(task connect.TaskID) []*connect.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.output[task])
}

// Tasks returns the tasks with committed output, sorted.
func (s *Sink) Tasks() []connect.TaskID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.output))
}

// Pending returns the records of task written and not committed.
func (s *Sink) Pending(task connect.TaskID) []*connect.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pending[task])
}

// Positions returns the positions stored for task (nil if none).
func (s *Sink) Positions(task connect.TaskID) engine.Positions {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.positions[task]; ok {
		return p.Clone()
	}
	return nil
}

// PreparingSink is a Sink that is also a connect.Preparer: its Write
// keeps every record, and Prepare refuses those Reject names, as a
// database refuses rows when they are sent.
type PreparingSink struct {
	*Sink
	prepReject func(*connect.Record) error
}

var _ connect.Preparer = (*PreparingSink)(nil)

// NewPreparingSink returns an exactly-once PreparingSink.
func NewPreparingSink(name string, j *Journal) *PreparingSink {
	return &PreparingSink{Sink: newSink(name, connect.ExactlyOnce, j)}
}

// Reject makes Prepare refuse the pending records for which f returns an
// error; they are dropped, the others stay pending.
func (s *PreparingSink) Reject(f func(*connect.Record) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prepReject = f
}

// Prepare implements connect.Preparer.
func (s *PreparingSink) Prepare(_ context.Context, cp connect.Checkpoint) error {
	s.journal.add("%s.Prepare", s.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: "Prepare", Checkpoint: cloneCheckpoint(cp)})
	if s.prepReject == nil {
		return nil
	}
	var rej connect.RejectedError
	for id := range cp {
		kept := s.pending[id][:0]
		for _, r := range s.pending[id] {
			if why := s.prepReject(r); why != nil {
				rej.Rejected = append(rej.Rejected, connect.Rejection{Task: id, Record: r, Reason: why})
			} else {
				kept = append(kept, r)
			}
		}
		s.pending[id] = kept
	}
	if len(rej.Rejected) > 0 {
		return &rej
	}
	return nil
}
