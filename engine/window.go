package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// WindowKind is the shape of a window.
type WindowKind int

const (
	// TumblingWindows are fixed-size, back to back, aligned to the epoch.
	TumblingWindows WindowKind = iota
	// HoppingWindows are fixed-size and start every Advance: a record
	// belongs to Size/Advance of them.
	HoppingWindows
	// SlidingWindows are fixed-size and end at each record: every record
	// at time t makes the window [t-Size+1, t+1) of its key, which
	// aggregates the key's records of that span (Kafka Streams' sliding
	// windows, without the windows of records leaving).
	SlidingWindows
	// SessionWindows group a key's records separated by less than Gap; a
	// session is [first record, last record + Gap).
	SessionWindows
)

// EmitMode says when a window's result is written.
type EmitMode int

const (
	// EmitFinal writes one result per window and key, when the watermark
	// passes the window's end plus the grace period.
	EmitFinal EmitMode = iota
	// EmitUpdate writes the result again after every record that changes
	// it.
	EmitUpdate
)

// WindowSpec declares windows over event time. Times are Unix ms.
type WindowSpec struct {
	Kind    WindowKind
	Size    int64 // tumbling, hopping, sliding
	Advance int64 // hopping
	Gap     int64 // session
	// Grace keeps a window open this long after the watermark passed its
	// end, for records that come later than the watermark delay allows.
	Grace int64
	// Delay is the watermark delay (bounded out-of-orderness): the
	// watermark of an input is its largest event time minus Delay.
	Delay int64
	// Idle is how long an input may go without records before it stops
	// holding the watermark back; 0 never.
	Idle int64
	Emit EmitMode
}

// Tumbling windows of the given size.
func Tumbling(size time.Duration) WindowSpec {
	return WindowSpec{Kind: TumblingWindows, Size: size.Milliseconds(), Advance: size.Milliseconds()}
}

// Hopping windows of the given size, one starting every advance.
func Hopping(size, advance time.Duration) WindowSpec {
	return WindowSpec{Kind: HoppingWindows, Size: size.Milliseconds(), Advance: advance.Milliseconds()}
}

// Sliding windows of the given size, one ending at each record.
func Sliding(size time.Duration) WindowSpec {
	return WindowSpec{Kind: SlidingWindows, Size: size.Milliseconds()}
}

// Session windows closing after gap without records.
func Session(gap time.Duration) WindowSpec {
	return WindowSpec{Kind: SessionWindows, Gap: gap.Milliseconds()}
}

// WithGrace returns w with a grace period.
func (w WindowSpec) WithGrace(d time.Duration) WindowSpec { w.Grace = d.Milliseconds(); return w }

// WithDelay returns w with a watermark delay.
func (w WindowSpec) WithDelay(d time.Duration) WindowSpec { w.Delay = d.Milliseconds(); return w }

// WithIdle returns w with an idle timeout for inputs.
func (w WindowSpec) WithIdle(d time.Duration) WindowSpec { w.Idle = d.Milliseconds(); return w }

// EmitOnUpdate returns w emitting on every update.
func (w WindowSpec) EmitOnUpdate() WindowSpec { w.Emit = EmitUpdate; return w }

// Validate reports a window spec that cannot work.
func (w WindowSpec) Validate() error {
	switch w.Kind {
	case TumblingWindows, HoppingWindows, SlidingWindows:
		if w.Size <= 0 {
			return fmt.Errorf("window size must be positive, not %dms", w.Size)
		}
		if w.Kind == HoppingWindows && (w.Advance <= 0 || w.Advance > w.Size) {
			return fmt.Errorf("window advance must be positive and at most the size (%dms), not %dms", w.Size, w.Advance)
		}
	case SessionWindows:
		if w.Gap <= 0 {
			return fmt.Errorf("session gap must be positive, not %dms", w.Gap)
		}
	default:
		return fmt.Errorf("unknown window kind %d", w.Kind)
	}
	if w.Grace < 0 || w.Delay < 0 || w.Idle < 0 {
		return fmt.Errorf("grace, delay and idle must not be negative")
	}
	return nil
}

// WindowKey is the key of a window's result: the record key and the
// window's bounds, [Start, End) in Unix ms.
type WindowKey[K any] struct {
	Key   K     `json:"key"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Windowed is a keyed stream cut into windows, waiting for its
// aggregation.
type Windowed[K comparable, V any] struct {
	s    Stream[K, V]
	spec WindowSpec
	name string
	late *Stream[K, V]
}

// Window cuts a keyed stream into windows. Records are placed by their
// event time (Record.Time; see WithTime).
func Window[K comparable, V any](s Stream[K, V], spec WindowSpec, o ...Opt) *Windowed[K, V] {
	if err := spec.Validate(); err != nil {
		s.g.setErr(fmt.Errorf("engine: window: %w", err))
	}
	if spec.Kind == TumblingWindows {
		spec.Advance = spec.Size
	}
	return &Windowed[K, V]{s: s, spec: spec, name: nameOf(o)}
}

// Late returns the records that arrived after every window they belong to
// had closed. Call it after Aggregate. Late records of a window without a
// late output are counted (Metrics.Late) and dropped.
func (w *Windowed[K, V]) Late() Stream[K, V] {
	if w.late == nil {
		w.s.g.setErr(fmt.Errorf("engine: Late of a window before its Aggregate"))
		return Stream[K, V]{g: w.s.g, n: w.s.n}
	}
	return *w.late
}

// Aggregate aggregates each window of each key with agg. The results are
// keyed by WindowKey and stamped with the window's last millisecond
// (End-1) as event time.
func Aggregate[K comparable, V, A, R any](w *Windowed[K, V], agg Agg[V, A, R], o ...Opt) Stream[WindowKey[K], R] {
	g := w.s.g
	name := nameOf(o)
	if name == "" {
		name = w.name
	}
	n := g.add(name, "window", kindOp, w.s.n)
	n.stateful = true
	if w.late != nil {
		g.setErr(fmt.Errorf("engine: %s: a window has one Aggregate", n.name))
	}
	if w.spec.Kind == SessionWindows && agg.Merge == nil {
		g.setErr(fmt.Errorf("engine: %s: session windows need an aggregation with Merge", n.name))
	}
	late := g.add(n.name+".late", "", kindOp, n)
	late.build = func(_ *Task, outs []any) any { return collector[K, V](outs) }
	w.late = &Stream[K, V]{g: g, n: late}
	spec := w.spec
	n.build = func(t *Task, outs []any) any {
		b := windowBase[K, V, A, R]{
			t: t, name: n.name, spec: spec, agg: agg,
			late: collector[K, V](outs[:1]),
			out:  collector[WindowKey[K], R](outs[1:]),
		}
		b.wm.init(spec)
		var op windowOp[K, V]
		switch spec.Kind {
		case SessionWindows:
			op = &sessionWindows[K, V, A, R]{windowBase: b, byKey: map[K][]*session[A]{}}
		case SlidingWindows:
			op = &slidingWindows[K, V, A, R]{windowBase: b, byKey: map[K]*slidingKey[V]{}, pendingSet: map[slidingID[K]]bool{}}
		default:
			op = &alignedWindows[K, V, A, R]{windowBase: b}
		}
		return windowCollector[K, V]{op}
	}
	return Stream[WindowKey[K], R]{g: g, n: n}
}

// windowOp is what the window kinds implement.
type windowOp[K comparable, V any] interface {
	Collect(r *Record[K, V])
	clocked
	stater
}

// windowCollector exposes the operator to the task (operator()).
type windowCollector[K comparable, V any] struct{ op windowOp[K, V] }

func (c windowCollector[K, V]) Collect(r *Record[K, V]) { c.op.Collect(r) }
func (c windowCollector[K, V]) operator() any           { return c.op }

// windowBase holds what all window kinds share.
type windowBase[K comparable, V, A, R any] struct {
	t    *Task
	name string
	spec WindowSpec
	agg  Agg[V, A, R]
	late Collector[K, V]
	out  Collector[WindowKey[K], R]
	wm   watermarks
	pos  *Pos // of the record being processed, for results it triggers
	res  Record[WindowKey[K], R]
}

func (b *windowBase[K, V, A, R]) emit(k K, start, end int64, acc A) {
	b.res.Key = WindowKey[K]{k, start, end}
	b.res.Value = b.agg.Result(acc)
	b.res.Time = end - 1
	if b.pos != nil {
		b.res.Pos = *b.pos
	} else {
		b.res.Pos = Pos{}
	}
	b.out.Collect(&b.res)
}

func (b *windowBase[K, V, A, R]) clearPos() { b.pos = nil }

func (b *windowBase[K, V, A, R]) lateRecord(r *Record[K, V]) {
	b.t.metrics.Late.Add(1)
	b.late.Collect(r)
}

func (b *windowBase[K, V, A, R]) watermark() int64 { return b.wm.current }

// observeRecord moves the watermark for a record: by its input and event
// time, or, after a repartition, by the watermark its upstream task had.
func (b *windowBase[K, V, A, R]) observeRecord(r *Record[K, V]) {
	if o := &b.t.origin; o.set {
		b.wm.observe(o.in, o.wm)
		return
	}
	b.wm.observe(r.Pos.Input, r.Time)
}

// closed reports whether a window ending at end is closed.
func (b *windowBase[K, V, A, R]) closed(end int64) bool {
	return b.wm.current != math.MinInt64 && end+b.spec.Grace <= b.wm.current
}

// watermarks tracks a window operator's watermark: per input, the largest
// event time seen minus the delay; the operator's watermark is the
// smallest of them over the inputs that are not idle, and never goes back.
type watermarks struct {
	delay, idle int64
	inputs      []inputWatermark
	last        int // index of the last input seen
	current     int64
}

type inputWatermark struct {
	Input Input `json:"input"`
	Max   int64 `json:"max"`
	// Expected inputs hold the watermark back before their first record:
	// the upstream tasks of a repartition topic.
	Expected bool  `json:"expected,omitempty"`
	Seen     bool  `json:"seen,omitempty"`  // a record since the last tick
	Since    int64 `json:"since,omitempty"` // wall clock of the last tick that saw a record
	Idle     bool  `json:"idle,omitempty"`
}

func (w *watermarks) init(spec WindowSpec) {
	w.delay, w.idle, w.current = spec.Delay, spec.Idle, math.MinInt64
}

// observe notes a record and returns the new watermark. Results of an
// upstream window fired by a watermark carry no input: they do not move
// the watermark (the task advances every window in the same call).
func (w *watermarks) observe(in Input, ts int64) int64 {
	if in == (Input{}) {
		return w.current
	}
	i := w.last
	if i >= len(w.inputs) || w.inputs[i].Input != in {
		i = -1
		for j := range w.inputs {
			if w.inputs[j].Input == in {
				i = j
				break
			}
		}
		if i < 0 {
			w.inputs = append(w.inputs, inputWatermark{Input: in, Max: math.MinInt64})
			i = len(w.inputs) - 1
		}
		w.last = i
	}
	p := &w.inputs[i]
	p.Seen = true
	p.Idle = false
	if ts <= p.Max {
		return w.current
	}
	p.Max = ts
	return w.recompute()
}

// idleInput marks an input idle until its next record.
func (w *watermarks) idleInput(in Input) int64 {
	for i := range w.inputs {
		if w.inputs[i].Input == in {
			w.inputs[i].Idle = true
			return w.recompute()
		}
	}
	w.inputs = append(w.inputs, inputWatermark{Input: in, Max: math.MinInt64, Idle: true})
	return w.recompute()
}

// expect registers an input that holds the watermark back until it
// shows progress or goes idle.
func (w *watermarks) expect(in Input) {
	for i := range w.inputs {
		if w.inputs[i].Input == in {
			w.inputs[i].Expected = true
			return
		}
	}
	w.inputs = append(w.inputs, inputWatermark{Input: in, Max: math.MinInt64, Expected: true})
}

func (w *watermarks) recompute() int64 {
	wm := int64(math.MaxInt64)
	any := false
	for i := range w.inputs {
		if w.inputs[i].Idle {
			continue
		}
		if w.inputs[i].Max == math.MinInt64 {
			if w.inputs[i].Expected {
				return w.current
			}
			continue
		}
		any = true
		wm = min(wm, w.inputs[i].Max-w.delay)
	}
	if any && wm > w.current {
		w.current = wm
	}
	return w.current
}

// tick marks inputs without records for longer than the idle timeout as
// idle, and returns the new watermark.
func (w *watermarks) tick(now int64) int64 {
	if w.idle <= 0 {
		return w.current
	}
	for i := range w.inputs {
		p := &w.inputs[i]
		if p.Seen || p.Since == 0 {
			p.Seen, p.Since = false, now
			continue
		}
		if now-p.Since >= w.idle {
			p.Idle = true
		}
	}
	return w.recompute()
}

// settle moves the watermark to at least to, for the end of a bounded
// input (closeAll): to closes exactly the windows that were open. The
// inputs then hold the watermark back again, each at its own: idleness
// is about a live input, and a later run starts live.
func (w *watermarks) settle(to int64) {
	if to > w.current {
		w.current = to
	}
	for i := range w.inputs {
		w.inputs[i].Idle = false
	}
}

// watermarkState is the snapshot of a watermarks.
type watermarkState struct {
	Current int64            `json:"current"`
	Inputs  []inputWatermark `json:"inputs,omitempty"`
}

func (w *watermarks) state() watermarkState {
	return watermarkState{w.current, append([]inputWatermark(nil), w.inputs...)}
}

func (w *watermarks) setState(s watermarkState) {
	w.current, w.inputs, w.last = s.Current, s.Inputs, 0
}

// alignedWindows are tumbling and hopping windows: fixed starts, so a
// window is found by its start. Open windows are kept sorted by start; a
// record usually lands in the last few, found by scanning from the end.
type alignedWindows[K comparable, V, A, R any] struct {
	windowBase[K, V, A, R]
	open []*alignedWindow[K, A]
}

type alignedWindow[K comparable, A any] struct {
	start, end int64
	entries    []entry[K, A] // in first-seen order, for a deterministic output
	index      map[K]int32   // of each key's entry
}

func (w *alignedWindows[K, V, A, R]) Collect(r *Record[K, V]) {
	w.pos = &r.Pos
	ts := r.Time
	size, adv := w.spec.Size, w.spec.Advance
	// The last window starting at or before ts; windows are aligned to 0.
	last := ts - mod(ts, adv)
	placed := false
	for start := last; start > ts-size; start -= adv {
		end := start + size
		if w.closed(end) {
			break // earlier windows end earlier: closed too
		}
		win := w.window(start, end)
		i, ok := win.index[r.Key]
		if !ok {
			i = int32(len(win.entries))
			win.index[r.Key] = i
			win.entries = append(win.entries, entry[K, A]{r.Key, w.agg.Init()})
		}
		e := &win.entries[i]
		e.Acc = w.agg.Add(e.Acc, r.Value)
		placed = true
		if w.spec.Emit == EmitUpdate {
			w.emit(r.Key, start, end, e.Acc)
		}
	}
	if !placed {
		w.lateRecord(r)
	}
	w.observeRecord(r)
	if len(w.open) > 0 && w.closed(w.open[0].end) {
		w.fire()
	}
	w.pos = nil
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// window finds or opens the window starting at start.
func (w *alignedWindows[K, V, A, R]) window(start, end int64) *alignedWindow[K, A] {
	i := len(w.open)
	for i > 0 && w.open[i-1].start > start {
		i--
	}
	if i > 0 && w.open[i-1].start == start {
		return w.open[i-1]
	}
	win := &alignedWindow[K, A]{start: start, end: end, index: map[K]int32{}}
	w.open = append(w.open, nil)
	copy(w.open[i+1:], w.open[i:])
	w.open[i] = win
	return win
}

// fire closes the windows the watermark passed, in order of end.
func (w *alignedWindows[K, V, A, R]) fire() {
	n := 0
	for n < len(w.open) && w.closed(w.open[n].end) {
		win := w.open[n]
		if w.spec.Emit == EmitFinal {
			for _, e := range win.entries {
				w.emit(e.Key, win.start, win.end, e.Acc)
			}
		}
		w.open[n] = nil
		n++
	}
	w.open = w.open[n:]
}

func (w *alignedWindows[K, V, A, R]) tick(now int64) {
	w.pos = nil
	w.wm.tick(now)
	w.fire()
}

// closeAll fires every open window: the watermark goes to the end of the
// last one plus the grace, the least that closes them all.
func (w *alignedWindows[K, V, A, R]) closeAll(at *Pos) int {
	n, to := 0, w.wm.current
	for _, win := range w.open {
		n += len(win.entries)
		to = max(to, win.end+w.spec.Grace)
	}
	w.pos = at
	w.wm.settle(to)
	w.fire()
	w.pos = nil
	return n
}

func (w *alignedWindows[K, V, A, R]) openWindows() int {
	n := 0
	for _, win := range w.open {
		n += len(win.entries)
	}
	return n
}

func (w *alignedWindows[K, V, A, R]) advance(wm int64) {
	w.pos = nil
	if wm > w.wm.current {
		w.wm.current = wm
	}
	w.fire()
}

type alignedState[K comparable, A any] struct {
	Watermarks watermarkState             `json:"watermarks"`
	Windows    []alignedWindowState[K, A] `json:"windows"`
}

type alignedWindowState[K comparable, A any] struct {
	Start   int64         `json:"start"`
	End     int64         `json:"end"`
	Entries []entry[K, A] `json:"entries"`
}

type entry[K, A any] struct {
	Key K `json:"k"`
	Acc A `json:"a"`
}

func (w *alignedWindows[K, V, A, R]) snapshot() (json.RawMessage, error) {
	s := alignedState[K, A]{Watermarks: w.wm.state()}
	for _, win := range w.open {
		ws := alignedWindowState[K, A]{Start: win.start, End: win.end, Entries: win.entries}
		s.Windows = append(s.Windows, ws)
	}
	return json.Marshal(s)
}

func (w *alignedWindows[K, V, A, R]) restore(b json.RawMessage) error {
	var s alignedState[K, A]
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	w.wm.setState(s.Watermarks)
	w.open = w.open[:0]
	for _, ws := range s.Windows {
		win := &alignedWindow[K, A]{start: ws.Start, end: ws.End, entries: ws.Entries, index: make(map[K]int32, len(ws.Entries))}
		for i, e := range ws.Entries {
			win.index[e.Key] = int32(i)
		}
		w.open = append(w.open, win)
	}
	return nil
}

func (w *alignedWindows[K, V, A, R]) observeInput(in Input, wm int64) {
	w.pos = nil
	w.wm.observe(in, wm)
	w.fire()
}

func (w *alignedWindows[K, V, A, R]) expect(in Input) { w.wm.expect(in) }

func (w *alignedWindows[K, V, A, R]) idleInput(in Input) {
	w.pos = nil
	w.wm.idleInput(in)
	w.fire()
}
