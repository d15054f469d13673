package connecttest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Input names partition partition of stream.
func Input(stream string, partition int32) engine.Input {
	return engine.Input{Stream: stream, Partition: partition}
}

// Rec returns a record with a key, a value and an event time (Unix ms);
// Source.Append gives it its position.
func Rec(key, value string, ts int64) *connect.Record {
	return &connect.Record{Key: []byte(key), Value: []byte(value), Time: ts}
}

// Step is a scripted event of a Source: see Push.
type Step struct {
	kind  stepKind
	tasks []connect.TaskID
	err   error
}

type stepKind int

const (
	stepAssign stepKind = iota
	stepRevoke
	stepLose
	stepEnd
	stepFail
)

func (s Step) String() string {
	switch s.kind {
	case stepAssign:
		return fmt.Sprintf("Assign(%v)", s.tasks)
	case stepRevoke:
		return fmt.Sprintf("Revoke(%v)", s.tasks)
	case stepLose:
		return fmt.Sprintf("Lose(%v)", s.tasks)
	case stepEnd:
		return "EndOfInput"
	}
	return fmt.Sprintf("Fail(%v)", s.err)
}

// Assign gives the source tasks: Poll calls Assigned, and each task reads
// its inputs from the positions Assigned returned, or where the source
// itself would resume (the positions committed to it, else the start).
func Assign(tasks ...connect.TaskID) Step { return Step{kind: stepAssign, tasks: tasks} }

// Revoke takes tasks away after Poll called Revoked.
func Revoke(tasks ...connect.TaskID) Step { return Step{kind: stepRevoke, tasks: tasks} }

// Lose takes tasks away after Poll called Lost.
func Lose(tasks ...connect.TaskID) Step { return Step{kind: stepLose, tasks: tasks} }

// EndOfInput makes Poll return connect.ErrEndOfInput, from then on, once
// the assigned tasks have read everything.
func EndOfInput() Step { return Step{kind: stepEnd} }

// Fail makes one Poll return err.
func Fail(err error) Step { return Step{kind: stepFail, err: err} }

// Resume is what one call of Assigned returned.
type Resume struct {
	Tasks     []connect.TaskID
	Positions map[connect.TaskID]engine.Positions
	Err       error
}

// Source is a connect.Source over in-memory partition logs. Task i reads
// partition i of every stream appended to (as the topic source does).
//
// Poll first returns the unread records of the assigned tasks; when there
// are none, it plays the next scripted step (Push); when there is none
// either, it waits for an Append, a Push or the end of its context. So a
// step pushed after records is played once they were all delivered.
// Callbacks to the runtime are made from inside Poll, without the
// source's lock held, as the contract requires.
type Source struct {
	journal *Journal

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	maxPoll int
	logs    map[engine.Input][]*connect.Record
	inputs  []engine.Input // in the order of their first Append
	steps   []Step
	a       connect.Assignments
	opens   int
	closed  bool
	// assigned tasks and where each of their inputs is read next
	assigned map[connect.TaskID]bool
	cursor   map[engine.Input]int64
	// committed are the positions committed to the source (the group
	// offsets of a topic source).
	committed  map[engine.Input]int64
	commits    []connect.Checkpoint
	commitN    int
	commitErrs failures
	resumes    []Resume
	delivered  int
	lag        map[connect.TaskID]int64
	ending     map[connect.TaskID]bool // SetAtEnd
}

var (
	_ connect.Source = (*Source)(nil)
	_ connect.Ender  = (*Source)(nil)
)

// NewSource returns an empty source noting its calls in j (which may be
// nil).
func NewSource(j *Journal) *Source {
	return &Source{
		journal: j, changed: make(chan struct{}), logs: map[engine.Input][]*connect.Record{},
		assigned: map[connect.TaskID]bool{}, cursor: map[engine.Input]int64{}, committed: map[engine.Input]int64{},
	}
}

// REQUIRES: s.mu
func (s *Source) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// SetMaxPoll bounds the records one Poll returns (0, the default: all).
func (s *Source) SetMaxPoll(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxPoll = n
}

// Append adds records to the log of in. A record whose Pos.Next is 0 is
// given the next offset (Offset = the log's end, Next = Offset+1); others
// keep theirs (say, byte offsets of lines), which must not go back. The
// source keeps the records: callers must not change them afterwards.
func (s *Source) Append(in engine.Input, recs ...*connect.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendLocked(in, recs)
	s.notifyLocked()
}

// AppendEach appends to several inputs at once, as Append does: a Poll
// sees all the records or none of them.
func (s *Source) AppendEach(recs map[engine.Input][]*connect.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ins := slices.SortedFunc(maps.Keys(recs), func(a, b engine.Input) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Partition, b.Partition))
	})
	for _, in := range ins {
		s.appendLocked(in, recs[in])
	}
	s.notifyLocked()
}

// REQUIRES: s.mu
func (s *Source) appendLocked(in engine.Input, recs []*connect.Record) {
	log, ok := s.logs[in]
	if !ok {
		s.inputs = append(s.inputs, in)
	}
	for _, r := range recs {
		end := int64(0)
		if len(log) > 0 {
			end = log[len(log)-1].Pos.Next
		}
		if r.Pos.Next == 0 {
			r.Pos.Offset, r.Pos.Next = end, end+1
		} else if r.Pos.Offset < end || r.Pos.Next <= r.Pos.Offset {
			panic(fmt.Sprintf("connecttest: record at %d..%d appended to %v after %d", r.Pos.Offset, r.Pos.Next, in, end))
		}
		r.Pos.Input = in
		log = append(log, r)
	}
	s.logs[in] = log
}

// Push appends steps to the script.
func (s *Source) Push(steps ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, steps...)
	s.notifyLocked()
}

// SetCommitted sets the positions committed to the source for in, as if
// an earlier run had committed them.
func (s *Source) SetCommitted(in engine.Input, pos int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed[in] = pos
}

// Rewind makes task read again from pos, and from the positions committed
// to the source (else the start) for its inputs pos does not name: what a
// transactional source does when its transaction is aborted.
func (s *Source) Rewind(task connect.TaskID, pos engine.Positions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for in := range s.cursor {
		if in.Partition == task {
			delete(s.cursor, in)
		}
	}
	for in, off := range pos {
		s.cursor[in] = off
	}
	s.notifyLocked()
}

// FailCommit makes the nth call of Commit (counting from 1) return err
// without committing anything.
func (s *Source) FailCommit(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitErrs.set(n, err)
}

// SetLag makes Lag return lag instead of the unread records of each
// assigned task; nil goes back to those.
func (s *Source) SetLag(lag map[connect.TaskID]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = lag
}

// SetAtEnd makes AtEnd report true for each of tasks once it has read
// everything appended to its inputs, as a bounded source at the end of
// its run does; the end of Poll's input is still a step of its own
// (EndOfInput). A source hidden behind a connect.Source (embedded in a
// struct) is one that cannot tell.
func (s *Source) SetAtEnd(tasks ...connect.TaskID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ending == nil {
		s.ending = map[connect.TaskID]bool{}
	}
	for _, id := range tasks {
		s.ending[id] = true
	}
}

// AtEnd implements connect.Ender: see SetAtEnd.
func (s *Source) AtEnd(task connect.TaskID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ending[task] || !s.assigned[task] {
		return false
	}
	for _, in := range s.inputs {
		if in.Partition != task {
			continue
		}
		from := s.startLocked(in)
		for _, r := range s.logs[in] {
			if r.Pos.Offset >= from {
				return false
			}
		}
	}
	return true
}

// Open implements connect.Source. A source opened again starts over as a
// new process would: no task assigned, the logs and the committed
// positions kept.
func (s *Source) Open(_ context.Context, a connect.Assignments) error {
	s.journal.add("source.Open")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.a, s.closed = a, false
	s.opens++
	clear(s.assigned)
	clear(s.cursor)
	return nil
}

// Poll implements connect.Source.
func (s *Source) Poll(ctx context.Context) ([]connect.Batch, error) {
	for {
		s.mu.Lock()
		if s.closed || s.a == nil {
			s.mu.Unlock()
			return nil, errors.New("connecttest: Poll of a source that is not open")
		}
		if b := s.readLocked(); len(b) > 0 {
			s.mu.Unlock()
			return b, nil
		}
		if len(s.steps) > 0 {
			st := s.steps[0]
			if st.kind != stepEnd {
				s.steps = s.steps[1:]
			}
			a := s.a
			s.mu.Unlock()
			return nil, s.play(ctx, a, st)
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

func (s *Source) play(ctx context.Context, a connect.Assignments, st Step) error {
	switch st.kind {
	case stepEnd:
		return connect.ErrEndOfInput
	case stepFail:
		return st.err
	case stepAssign:
		s.journal.add("source.Assigned(%v)", st.tasks)
		res, err := a.Assigned(ctx, st.tasks)
		s.mu.Lock()
		defer s.mu.Unlock()
		rs := Resume{Tasks: slices.Clone(st.tasks), Err: err}
		if res != nil {
			rs.Positions = map[connect.TaskID]engine.Positions{}
			for id, pos := range res {
				rs.Positions[id] = pos.Clone()
			}
		}
		s.resumes = append(s.resumes, rs)
		if err != nil {
			return err
		}
		for _, id := range st.tasks {
			s.assigned[id] = true
			for in := range s.cursor {
				if in.Partition == id {
					delete(s.cursor, in)
				}
			}
			for in, off := range res[id] {
				s.cursor[in] = off
			}
		}
		return nil
	case stepRevoke, stepLose:
		if st.kind == stepRevoke {
			s.journal.add("source.Revoked(%v)", st.tasks)
			a.Revoked(ctx, st.tasks)
		} else {
			s.journal.add("source.Lost(%v)", st.tasks)
			a.Lost(ctx, st.tasks)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, id := range st.tasks {
			delete(s.assigned, id)
			for in := range s.cursor {
				if in.Partition == id {
					delete(s.cursor, in)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("connecttest: unknown step %v", st)
}

// startLocked returns where in is read next.
//
// REQUIRES: s.mu
func (s *Source) startLocked(in engine.Input) int64 {
	if off, ok := s.cursor[in]; ok {
		return off
	}
	if off, ok := s.committed[in]; ok {
		return off
	}
	return 0
}

// readLocked returns the unread records of the assigned tasks, one batch
// per task in task order, and moves the cursors past them.
//
// REQUIRES: s.mu
func (s *Source) readLocked() []connect.Batch {
	tasks := make([]connect.TaskID, 0, len(s.assigned))
	for id := range s.assigned {
		tasks = append(tasks, id)
	}
	slices.Sort(tasks)
	var out []connect.Batch
	n := 0
	for _, id := range tasks {
		var b connect.Batch
		for _, in := range s.inputs {
			if in.Partition != id {
				continue
			}
			from := s.startLocked(in)
			for _, r := range s.logs[in] {
				if s.maxPoll > 0 && n == s.maxPoll {
					break
				}
				if r.Pos.Offset < from {
					continue
				}
				c := *r // the runtime gets its own copy, whatever it does with it
				b.Records = append(b.Records, &c)
				s.cursor[in] = r.Pos.Next
				n++
			}
		}
		if len(b.Records) > 0 {
			b.Task = id
			out = append(out, b)
		}
	}
	s.delivered += n
	return out
}

// Commit implements connect.Source: it records cp as the committed
// positions, unless FailCommit says otherwise.
func (s *Source) Commit(_ context.Context, cp connect.Checkpoint) error {
	s.journal.add("source.Commit")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commitN++
	if err := s.commitErrs[s.commitN]; err != nil {
		return err
	}
	s.commits = append(s.commits, cloneCheckpoint(cp))
	for _, pos := range cp {
		for in, off := range pos {
			s.committed[in] = off
		}
	}
	return nil
}

// Lag implements connect.Source: the unread records of each assigned
// task, or what SetLag set.
func (s *Source) Lag() map[connect.TaskID]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lag != nil {
		return s.lag
	}
	out := make(map[connect.TaskID]int64, len(s.assigned))
	for id := range s.assigned {
		out[id] = 0
		for _, in := range s.inputs {
			if in.Partition != id {
				continue
			}
			from := s.startLocked(in)
			for _, r := range s.logs[in] {
				if r.Pos.Offset >= from {
					out[id]++
				}
			}
		}
	}
	return out
}

// Close implements connect.Source. Like the topic source, whose consumer
// leaves its group, it first revokes the tasks still assigned: Revoked
// is called with them.
func (s *Source) Close(ctx context.Context) error {
	s.journal.add("source.Close")
	s.mu.Lock()
	a := s.a
	var tasks []connect.TaskID
	for id := range s.assigned {
		tasks = append(tasks, id)
	}
	slices.Sort(tasks)
	s.mu.Unlock()
	if a != nil && len(tasks) > 0 {
		s.journal.add("source.Revoked(%v)", tasks)
		a.Revoked(ctx, tasks)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.assigned)
	clear(s.cursor)
	s.closed = true
	s.notifyLocked()
	return nil
}

// Resumes returns what the calls of Assigned returned, in order.
func (s *Source) Resumes() []Resume {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.resumes)
}

// Commits returns the checkpoints committed to the source, in order.
func (s *Source) Commits() []connect.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commits)
}

// Committed returns the position committed for in, if any.
func (s *Source) Committed(in engine.Input) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off, ok := s.committed[in]
	return off, ok
}

// Assigned returns the assigned tasks, sorted.
func (s *Source) Assigned() []connect.TaskID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []connect.TaskID
	for id := range s.assigned {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Delivered returns how many records Poll returned, redeliveries
// included.
func (s *Source) Delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// Opens returns how many times the source was opened.
func (s *Source) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// Pending returns the scripted steps not played yet.
func (s *Source) Pending() []Step {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.steps)
}
