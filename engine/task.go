package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
)

// ErrorMode says what happens to a record an operator cannot process.
type ErrorMode int

const (
	// Fail stops the task with the error; the pipeline stops, and its
	// last checkpoint is where it resumes once the cause is fixed.
	Fail ErrorMode = iota
	// Skip drops the record with a log line and counts it.
	Skip
	// DeadLetter writes the record as it was read from the source to the
	// output ErrorPolicy.DeadLetter, with the error and the source position
	// in headers (see the Header* constants), and goes on.
	DeadLetter
)

// ErrorPolicy is a graph's policy for records that fail.
type ErrorPolicy struct {
	Mode ErrorMode
	// DeadLetter is the output dead letters go to, with Mode DeadLetter.
	DeadLetter string
}

// Headers added to a dead letter.
const (
	HeaderError     = "runnel.error"
	HeaderOperator  = "runnel.error.operator"
	HeaderTopic     = "runnel.source.topic"
	HeaderPartition = "runnel.source.partition"
	HeaderOffset    = "runnel.source.offset"
)

// RecordError is the error a task fails with under the Fail policy.
type RecordError struct {
	Operator string
	Pos      Pos
	Err      error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s: record at %s/%d offset %d: %v", e.Operator, e.Pos.Stream, e.Pos.Partition, e.Pos.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Output receives what a task writes to its sinks, by output name. The
// record is valid only during the call (the task reuses it): an output
// that keeps it keeps a copy of the struct. Its Key, Value and Headers are
// never written to again, so a shallow copy is enough.
type Output interface {
	Write(output string, r *Raw)
}

// OutputFunc adapts a function to an Output.
type OutputFunc func(output string, r *Raw)

// Write calls f.
func (f OutputFunc) Write(output string, r *Raw) { f(output, r) }

// Metrics are a task's counters. They are updated by the task's goroutine
// and may be read from any other.
type Metrics struct {
	In           atomic.Int64 // records read from the source
	Out          atomic.Int64 // records written to outputs
	Late         atomic.Int64 // records that arrived after their windows closed
	Skipped      atomic.Int64 // records dropped by the Skip policy
	DeadLettered atomic.Int64 // records sent to the dead-letter output
	// Closed counts the windows (one per key and window) closed by the
	// end of the input: CloseWindows, or every upstream task's end.
	Closed atomic.Int64
	// Watermark is the lowest watermark of the task's windows, Unix ms,
	// or math.MinInt64 before any.
	Watermark atomic.Int64
}

// Task is one instance of a graph's stage: its operators and their state,
// fed the records of one input partition. A task is not safe for
// concurrent use.
type Task struct {
	g       *Graph
	stage   int // -1: the whole graph, locally
	id      int32
	entries map[string]func(*Raw)
	recvs   []string // repartition topics read
	out     Output
	clocked []clocked // windows, in graph order
	states  []stateEntry
	cur     *Raw
	err     error
	metrics Metrics
	// origin is the upstream task of the record being processed, after a
	// repartition, and its watermark.
	origin origin
	// keyBys are the stage's repartition writers, for Markers.
	keyBys []*keyBySend
	// ends are the upstream tasks whose end markers the task read.
	ends ends
	// The entry of the last source processed; the watermark last
	// published, and the records written since the last publish: the
	// metrics are published once per call, not once per record (atomic
	// operations cost about 8ns each).
	lastSource string
	lastEntry  func(*Raw)
	lastWM     int64
	written    int64
}

type origin struct {
	set bool
	in  Input
	wm  int64
}

// clocked is an operator driven by the watermark.
type clocked interface {
	// tick lets idle inputs stop holding the watermark back, given the
	// wall clock in Unix ms.
	tick(now int64)
	// advance moves the operator's watermark to at least wm.
	advance(wm int64)
	watermark() int64
	// observeInput notes the watermark of one input (an upstream task).
	observeInput(in Input, wm int64)
	// idleInput marks an input idle until its next record.
	idleInput(in Input)
	// expect makes an input hold the watermark back from the start.
	expect(in Input)
	// closeAll closes every open window, at the end of the input (see
	// Task.CloseWindows); their results carry the position at (nil:
	// none). It returns how many it closed.
	closeAll(at *Pos) int
	// openWindows returns how many windows are open (one per key).
	openWindows() int
}

// stater is an operator with state.
type stater interface {
	snapshot() (json.RawMessage, error)
	restore(json.RawMessage) error
}

type stateEntry struct {
	name string
	s    stater
}

// NewLocalTask instantiates the whole graph as one task, with KeyBy only
// setting keys: for tests, the test driver and benchmarks.
func (g *Graph) NewLocalTask(id int32, out Output) (*Task, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g.newTask(-1, id, out), nil
}

// NewTask instantiates stage stage of the graph for the task id (the input
// partition), writing to out.
func (g *Graph) NewTask(stage int, id int32, out Output) (*Task, error) {
	stages, err := g.Stages()
	if err != nil {
		return nil, err
	}
	if stage < 0 || stage >= len(stages) {
		return nil, fmt.Errorf("engine: graph %s has no stage %d", g.name, stage)
	}
	return g.newTask(stage, id, out), nil
}

func (g *Graph) newTask(stage int, id int32, out Output) *Task {
	t := &Task{g: g, stage: stage, id: id, entries: map[string]func(*Raw){}, out: out}
	t.metrics.Watermark.Store(math.MinInt64)
	t.lastWM = math.MinInt64
	built := make([]any, len(g.nodes))
	in := func(n *node) bool {
		return stage < 0 || n.stage == stage || (n.kind == kindKeyBy && n.stage+1 == stage)
	}
	// Nodes are declared after their inputs, so building in reverse
	// declaration order builds every node after its outputs.
	for i := len(g.nodes) - 1; i >= 0; i-- {
		n := g.nodes[i]
		if !in(n) {
			continue
		}
		outsOf := func() []any {
			outs := make([]any, len(n.outs))
			for j, o := range n.outs {
				outs[j] = built[o.id]
			}
			return outs
		}
		switch {
		case n.kind == kindKeyBy && stage >= 0 && n.stage == stage:
			built[i] = n.buildSend(t)
		case n.kind == kindKeyBy && stage >= 0:
			t.entries[n.sinkName] = n.buildRecv(t, outsOf()).(func(*Raw))
		case n.kind == kindSource:
			t.entries[n.name] = n.build(t, outsOf()).(func(*Raw))
		default:
			built[i] = n.build(t, outsOf())
		}
	}
	// Register clocked and stateful operators in declaration order, so
	// that watermarks reach upstream windows before downstream ones.
	for i, n := range g.nodes {
		if b, ok := built[i].(interface{ operator() any }); ok && in(n) {
			op := b.operator()
			if c, ok := op.(clocked); ok {
				t.clocked = append(t.clocked, c)
			}
			if s, ok := op.(stater); ok {
				t.states = append(t.states, stateEntry{n.name, s})
			}
		}
	}
	return t
}

// ID returns the task's id, the partition it reads.
func (t *Task) ID() int32 { return t.id }

// Metrics returns the task's counters.
func (t *Task) Metrics() *Metrics { return &t.metrics }

// Stateful reports whether the task has state to snapshot.
func (t *Task) Stateful() bool { return len(t.states) > 0 }

// Process runs one record of the source named source through the task.
// It returns an error only under the Fail policy; the task must then be
// discarded.
func (t *Task) Process(source string, r *Raw) error {
	one := [1]*Raw{r}
	return t.ProcessBatch(source, one[:])
}

// ProcessBatch is Process for records of one source in a row; it
// publishes the metrics once, at the end. It stops at the first error.
func (t *Task) ProcessBatch(source string, rs []*Raw) error {
	entry, err := t.entry(source)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range rs {
		t.cur = r
		n++
		entry(r)
		t.cur = nil
		t.origin.set = false
		if t.err != nil {
			break
		}
	}
	t.metrics.In.Add(int64(n))
	t.publishWatermark()
	return t.err
}

func (t *Task) entry(source string) (func(*Raw), error) {
	if source == t.lastSource && t.lastEntry != nil {
		return t.lastEntry, nil
	}
	entry := t.entries[source]
	if entry == nil {
		return nil, fmt.Errorf("engine: task %d of %s reads no source %q", t.id, t.g.name, source)
	}
	t.lastSource, t.lastEntry = source, entry
	return entry, nil
}

// ExpectUpstreams tells the task of a stage after a KeyBy how many tasks
// write to its repartition topic: its windows hold their watermarks back
// until each of them has shown progress (or gone idle), so that records of
// an upstream task that starts late are not late, and close at the end of
// the input once each of them has ended (ClosingMarkers). Without it the
// task knows the upstream tasks it has heard from.
func (t *Task) ExpectUpstreams(n int) {
	t.ends.expected = int32(n)
	for _, name := range t.recvs {
		for i := 0; i < n; i++ {
			for _, c := range t.clocked {
				c.expect(Input{Stream: name, Partition: int32(i)})
			}
		}
	}
}

// ExpectInputs tells the task the inputs it reads (a task reading several
// co-partitioned topics reads one partition of each): its windows hold
// their watermarks back until each has shown progress (or gone idle), so
// that the records of an input read later than another are not late.
func (t *Task) ExpectInputs(ins ...Input) {
	for _, in := range ins {
		for _, c := range t.clocked {
			c.expect(in)
		}
	}
}

// Marker is a watermark record a task broadcasts to every partition of a
// repartition topic, so that downstream windows see the task's progress
// even in partitions it writes no record to.
type Marker struct {
	Output string
	Record *Raw
}

// EndMarkers returns the markers of a task whose input ended: its last
// watermark for each KeyBy that saw records, and an idle marker for the
// others (they have nothing to promise, and must not hold readers back).
func (t *Task) EndMarkers() []Marker {
	var ms []Marker
	for _, k := range t.keyBys {
		if wm := k.wm.current; wm != math.MinInt64 {
			k.sent = wm
			ms = append(ms, Marker{k.output, &Raw{Time: wm, Headers: []Header{{HeaderWatermark, encodeOrigin(t.id, wm)}}}})
		} else if !k.idle {
			k.idle = true
			ms = append(ms, Marker{k.output, &Raw{Time: wm, Headers: []Header{{HeaderWatermark, encodeIdle(t.id)}}}})
		}
	}
	return ms
}

// ClosingMarkers returns the markers of a task whose input ended in a run
// that closes windows (CloseWindows): those of EndMarkers, then an end
// marker for each KeyBy. An end marker promises that the task writes
// nothing more to the repartition topic in this run. It moves no
// watermark by itself (the writer's last watermark, or its idleness, is
// what EndMarkers said): a reading task that has read the end marker of
// every upstream task (ExpectUpstreams) closes its windows there, as if
// its watermark had gone to +∞ (see CloseWindows), the way Flink's
// channels end with the maximum watermark. A task sends them only once
// its own windows are closed, since a window left open may still write.
func (t *Task) ClosingMarkers() []Marker {
	ms := t.EndMarkers()
	for _, k := range t.keyBys {
		ms = append(ms, Marker{k.output, &Raw{Time: k.wm.current, Headers: []Header{{HeaderWatermark, encodeEnd(t.id)}}}})
	}
	return ms
}

// KeyBys returns the repartition outputs the task writes.
func (t *Task) KeyBys() []string {
	out := make([]string, len(t.keyBys))
	for i, k := range t.keyBys {
		out[i] = k.output
	}
	return out
}

// Markers returns the task's watermark markers, one per KeyBy of its
// stage whose watermark moved since the last call. A task that idle says
// read nothing lately (the runtime passes true when it processed nothing
// since its last call) marks itself idle instead, once, so that readers
// stop waiting for it until it writes again; Flink propagates idleness the
// same way.
func (t *Task) Markers(idle bool) []Marker {
	var ms []Marker
	for _, k := range t.keyBys {
		switch wm := k.wm.current; {
		case idle && !k.idle:
			k.idle = true
			ms = append(ms, Marker{k.output, &Raw{Time: wm, Headers: []Header{{HeaderWatermark, encodeIdle(t.id)}}}})
		case !idle && wm != math.MinInt64 && wm != k.sent:
			k.sent, k.idle = wm, false
			ms = append(ms, Marker{k.output, &Raw{Time: wm, Headers: []Header{{HeaderWatermark, encodeOrigin(t.id, wm)}}}})
		case !idle:
			k.idle = false
		}
	}
	return ms
}

// Tick gives the task the wall clock (Unix ms) so that inputs idle for
// longer than a window's idle timeout stop holding its watermark back.
func (t *Task) Tick(now int64) error {
	for _, c := range t.clocked {
		c.tick(now)
	}
	t.publishWatermark()
	return t.err
}

// AdvanceWatermark moves the watermark of every window of the task to at
// least wm, closing what it passes: for tests, and for a bounded input's
// end (math.MaxInt64 closes everything).
func (t *Task) AdvanceWatermark(wm int64) error {
	for _, c := range t.clocked {
		c.advance(wm)
	}
	t.publishWatermark()
	return t.err
}

// CloseWindows closes every open window of the task as if its watermark
// had gone to +∞: the end of a bounded input in a run that closes its
// windows (Flink's batch mode does so at the end of every bounded input).
// Windows emitting final results write them; sessions close; late
// records are counted as usual. The watermark then stands at the end of
// the last window closed plus its grace (or stays, with none open): in a
// later run, records for the closed windows are late, as after any
// watermark past them, and records for later windows open new ones. at
// is the position the results carry: the task's position at the end of
// its input, so that a sink that already holds them skips them when the
// input is read again (the zero Pos: none).
func (t *Task) CloseWindows(at Pos) error {
	var p *Pos
	if at != (Pos{}) {
		p = &at
	}
	t.closeAll(p)
	t.publishWatermark()
	return t.err
}

func (t *Task) closeAll(at *Pos) {
	for _, c := range t.clocked {
		if n := c.closeAll(at); n > 0 {
			t.metrics.Closed.Add(int64(n))
		}
	}
}

// OpenWindows returns how many windows of the task are open, one per key
// and window.
func (t *Task) OpenWindows() int {
	n := 0
	for _, c := range t.clocked {
		n += c.openWindows()
	}
	return n
}

// UpstreamsEnded reports whether the task, of a stage after a KeyBy, has
// read the end marker (ClosingMarkers) of every upstream task since it
// was made: its input is finished for this run, and its windows closed
// as it read the last of them. Ends are not part of the snapshot: a task
// restored part-way through them waits for them again (a later run
// brings new ones), and leaves its windows open meanwhile.
func (t *Task) UpstreamsEnded() bool { return t.ends.all(t.recvs) }

// ends tracks the upstream tasks of a stage after a KeyBy that ended.
type ends struct {
	// expected is the number of upstream tasks (ExpectUpstreams); 0:
	// the ones seen.
	expected int32
	// seen maps an upstream task to whether its end marker was read
	// since its last record; with expected set, only ends are noted.
	seen map[Input]bool
}

// note notes a record or marker of an upstream task other than an end:
// one that ended writes again in a later run.
func (e *ends) note(in Input) {
	if e.expected > 0 && len(e.seen) == 0 {
		return
	}
	if ended, ok := e.seen[in]; ended || (!ok && e.expected == 0) {
		if e.seen == nil {
			e.seen = map[Input]bool{}
		}
		e.seen[in] = false
	}
}

func (e *ends) end(in Input) {
	if e.seen == nil {
		e.seen = map[Input]bool{}
	}
	e.seen[in] = true
}

// all reports whether every upstream task of the streams recvs ended.
func (e *ends) all(recvs []string) bool {
	if len(recvs) == 0 || len(e.seen) == 0 {
		return false
	}
	if e.expected == 0 {
		for _, ended := range e.seen {
			if !ended {
				return false
			}
		}
		return true
	}
	for _, name := range recvs {
		for i := int32(0); i < e.expected; i++ {
			if !e.seen[Input{Stream: name, Partition: i}] {
				return false
			}
		}
	}
	return true
}

// upstreamEnded notes the end marker of an upstream task, read at pos;
// with every upstream task ended, the task's windows close there.
func (t *Task) upstreamEnded(in Input, pos Pos) {
	t.ends.end(in)
	if t.ends.all(t.recvs) {
		t.closeAll(&pos)
	}
}

func (t *Task) publishWatermark() {
	if t.written > 0 {
		t.metrics.Out.Add(t.written)
		t.written = 0
	}
	if len(t.clocked) == 0 {
		return
	}
	wm := int64(math.MaxInt64)
	for _, c := range t.clocked {
		wm = min(wm, c.watermark())
	}
	if wm != t.lastWM {
		t.lastWM = wm
		t.metrics.Watermark.Store(wm)
	}
}

// taskSnapshot is the encoding of a task's state: JSON, one member per
// stateful operator, by operator name.
type taskSnapshot struct {
	Version   int                        `json:"v"`
	Operators map[string]json.RawMessage `json:"operators"`
}

// Snapshot encodes the state of all the task's operators.
func (t *Task) Snapshot() ([]byte, error) {
	s := taskSnapshot{Version: 1, Operators: make(map[string]json.RawMessage, len(t.states))}
	for _, e := range t.states {
		b, err := e.s.snapshot()
		if err != nil {
			return nil, fmt.Errorf("engine: snapshot of %s: %w", e.name, err)
		}
		s.Operators[e.name] = b
	}
	return json.Marshal(s)
}

// Restore replaces the state of the task's operators with a snapshot.
// Operators missing from the snapshot start empty; state of operators the
// graph no longer has is an error (renaming a stateful operator loses its
// state, which must not go unnoticed).
func (t *Task) Restore(b []byte) error {
	var s taskSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("engine: decoding snapshot: %w", err)
	}
	if s.Version != 1 {
		return fmt.Errorf("engine: snapshot version %d is not supported", s.Version)
	}
	known := map[string]bool{}
	for _, e := range t.states {
		known[e.name] = true
		if raw, ok := s.Operators[e.name]; ok {
			if err := e.s.restore(raw); err != nil {
				return fmt.Errorf("engine: restoring %s: %w", e.name, err)
			}
		}
	}
	for name := range s.Operators {
		if !known[name] {
			return fmt.Errorf("engine: the snapshot holds state of operator %q, which the graph no longer has", name)
		}
	}
	t.publishWatermark()
	return nil
}

func (t *Task) write(output string, r *Raw) {
	t.written++
	t.out.Write(output, r)
}

// ErrNoDeadLetter is the error of a DeadLetter policy without an output.
var ErrNoDeadLetter = errors.New("engine: the dead-letter policy names no output")

// fail applies the error policy to the record being processed.
func (t *Task) fail(op string, err error) {
	var pos Pos
	if t.cur != nil {
		pos = t.cur.Pos
	}
	switch t.g.policy.Mode {
	case Skip:
		t.metrics.Skipped.Add(1)
		t.g.logger.Warn("skipping a record", "operator", op, "topic", pos.Stream, "partition", pos.Partition, "offset", pos.Offset, "err", err)
	case DeadLetter:
		if t.g.policy.DeadLetter == "" {
			t.setErr(&RecordError{op, pos, ErrNoDeadLetter})
			return
		}
		if t.cur == nil {
			t.setErr(&RecordError{op, pos, err})
			return
		}
		dl := AsDeadLetter(t.cur, op, err)
		t.metrics.DeadLettered.Add(1)
		t.out.Write(t.g.policy.DeadLetter, &dl)
	default:
		t.setErr(&RecordError{op, pos, err})
	}
}

// AsDeadLetter returns a copy of r for the dead-letter output: its headers
// add err, the operator (or sink) op that failed, and r's source position
// (the Header* constants).
func AsDeadLetter(r *Raw, op string, err error) Raw {
	dl := *r
	dl.Headers = append(append([]Header(nil), r.Headers...),
		Header{HeaderError, []byte(err.Error())},
		Header{HeaderOperator, []byte(op)},
		Header{HeaderTopic, []byte(r.Pos.Stream)},
		Header{HeaderPartition, strconv.AppendInt(nil, int64(r.Pos.Partition), 10)},
		Header{HeaderOffset, strconv.AppendInt(nil, r.Pos.Offset, 10)},
	)
	return dl
}

func (t *Task) setErr(err error) {
	if t.err == nil {
		t.err = err
	}
}
