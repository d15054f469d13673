package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/enginetest"
)

func TestWindowSpecValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		spec engine.WindowSpec
		err  string
	}{
		{engine.Tumbling(time.Second), ""},
		{engine.Hopping(10*time.Second, 10*time.Second), ""},
		{engine.Hopping(10*time.Second, time.Second), ""},
		{engine.Sliding(time.Millisecond), ""},
		{engine.Session(time.Minute).WithGrace(time.Second).WithDelay(time.Second).WithIdle(time.Second).EmitOnUpdate(), ""},
		{engine.Tumbling(0), "window size must be positive, not 0ms"},
		{engine.Tumbling(-time.Second), "window size must be positive, not -1000ms"},
		{engine.Tumbling(time.Microsecond), "window size must be positive, not 0ms"},
		{engine.Hopping(10*time.Second, 0), "window advance must be positive and at most the size (10000ms), not 0ms"},
		{engine.Hopping(10*time.Second, 11*time.Second), "window advance must be positive and at most the size (10000ms), not 11000ms"},
		{engine.Hopping(10*time.Second, -time.Second), "window advance must be positive and at most the size (10000ms), not -1000ms"},
		{engine.Sliding(0), "window size must be positive, not 0ms"},
		{engine.Session(0), "session gap must be positive, not 0ms"},
		{engine.Session(-time.Second), "session gap must be positive, not -1000ms"},
		{engine.Tumbling(time.Second).WithGrace(-time.Millisecond), "grace, delay and idle must not be negative"},
		{engine.Tumbling(time.Second).WithDelay(-time.Millisecond), "grace, delay and idle must not be negative"},
		{engine.Tumbling(time.Second).WithIdle(-time.Millisecond), "grace, delay and idle must not be negative"},
		{engine.WindowSpec{Kind: 9, Size: 1}, "unknown window kind 9"},
	} {
		err := c.spec.Validate()
		if c.err == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.spec, err)
			}
		} else if err == nil || err.Error() != c.err {
			t.Errorf("%+v: got %v, want %q", c.spec, err, c.err)
		}
	}
	s := engine.Hopping(10*time.Second, 2*time.Second).WithGrace(3 * time.Second).WithDelay(4 * time.Second).WithIdle(5 * time.Second).EmitOnUpdate()
	want := engine.WindowSpec{Kind: engine.HoppingWindows, Size: 10000, Advance: 2000, Grace: 3000, Delay: 4000, Idle: 5000, Emit: engine.EmitUpdate}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}

// TestTumblingSpecLiteral: WindowSpec documents Advance as a hopping
// field, so a tumbling spec written as a literal (without Advance, or with
// one) must give tumbling windows.
func TestTumblingSpecLiteral(t *testing.T) {
	t.Parallel()
	if err := (engine.WindowSpec{Kind: engine.TumblingWindows, Size: 10000}).Validate(); err != nil {
		t.Errorf("a tumbling spec without Advance: %v", err)
	}
	g := engine.NewGraph("g")
	in := engine.From(g, "in", engine.String(), engine.Int64())
	w := engine.Window(in, engine.WindowSpec{Kind: engine.TumblingWindows, Size: 10000, Advance: 5000})
	engine.To(engine.Aggregate(w, engine.Count[int64]()), "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	d := newDriver(t, g)
	noErr(t, d.Send("in", []byte("a"), []byte("1"), 7000))
	noErr(t, d.Close())
	got := readAll(t, d, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	if len(got) != 1 || got[0].Key.Start != 0 || got[0].Key.End != 10000 {
		t.Errorf("tumbling windows of 10s gave %+v, want one window [0,10000)", got)
	}
}

func TestAggregations(t *testing.T) {
	t.Parallel()
	vals := []int64{3, -1, 4, -1, 5}
	// fold adds vals[:k] and vals[k:] separately, then merges: the result
	// must not depend on k.
	check := func(name string, want string, run func(k int) string) {
		t.Helper()
		for k := 0; k <= len(vals); k++ {
			if got := run(k); got != want {
				t.Errorf("%s split at %d: got %s, want %s", name, k, got, want)
			}
		}
	}
	id := func(v int64) int64 { return v }
	check("count", "5", func(k int) string { return fmt.Sprint(fold(engine.Count[int64](), vals, k)) })
	check("sum", "10", func(k int) string { return fmt.Sprint(fold(engine.Sum(id), vals, k)) })
	check("min", "-1", func(k int) string { return fmt.Sprint(fold(engine.Min(id), vals, k)) })
	check("max", "5", func(k int) string { return fmt.Sprint(fold(engine.Max(id), vals, k)) })
	check("avg", "2", func(k int) string { return fmt.Sprint(fold(engine.Avg(id), vals, k)) })
	check("count_distinct", "4", func(k int) string { return fmt.Sprint(fold(engine.CountDistinct(id), vals, k)) })
	check("reduce", "10", func(k int) string {
		return fmt.Sprint(fold(engine.Reduce(func(a, b int64) int64 { return a + b }), vals, k))
	})
	// Empty accumulators.
	if r := engine.Avg(id).Result(engine.AvgAcc{}); r != 0 {
		t.Errorf("avg of nothing: %v", r)
	}
	if r := engine.Max(id).Result(engine.Max(id).Init()); r != 0 {
		t.Errorf("max of nothing: %v", r)
	}
	neg := []int64{-7, -3, -9}
	if r := fold(engine.Max(id), neg, 1); r != -3 {
		t.Errorf("max of %v: %d", neg, r)
	}
	if r := fold(engine.Min(func(v int64) string { return strconv.FormatInt(v, 10) }), []int64{10, 9, 100}, 2); r != "10" {
		t.Errorf("min of strings: %s", r)
	}
}

func fold[A, R any](agg engine.Agg[int64, A, R], vals []int64, k int) R {
	a, b := agg.Init(), agg.Init()
	for _, v := range vals[:k] {
		a = agg.Add(a, v)
	}
	for _, v := range vals[k:] {
		b = agg.Add(b, v)
	}
	return agg.Result(agg.Merge(a, b))
}

// genStep is one action of a generated run.
type genStep struct {
	tick  bool // Tick(ts) instead of a record
	key   string
	part  int32
	ts    int64
	value int64
}

// windowGraph sums values per key in windows of spec, to "out"; late
// records to "late".
func windowGraph(spec engine.WindowSpec) *engine.Graph {
	g := engine.NewGraph("w")
	in := engine.From(g, "in", engine.String(), engine.Int64())
	w := engine.Window(in, spec, engine.Name("sums"))
	engine.To(engine.Aggregate(w, engine.Sum(func(v int64) int64 { return v })), "out",
		engine.JSON[engine.WindowKey[string]](), engine.Int64())
	engine.To(w.Late(), "late", engine.String(), engine.Int64())
	return g
}

// runSteps runs steps against d, numbering offsets by step index, and
// returns what each step wrote.
func runSteps(t *testing.T, d *enginetest.Driver, steps []genStep, from int) [][]string {
	t.Helper()
	var out [][]string
	for i, s := range steps {
		var err error
		if s.tick {
			err = d.Tick(s.ts)
		} else {
			err = d.SendRaw("in", &engine.Raw{Key: []byte(s.key), Value: strconv.AppendInt(nil, s.value, 10), Time: s.ts,
				Pos: engine.Pos{Input: engine.Input{Stream: "in", Partition: s.part}, Offset: int64(from + i), Next: int64(from + i + 1)}})
		}
		noErr(t, err)
		out = append(out, drainAll(d))
	}
	noErr(t, d.Close())
	return append(out, drainAll(d))
}

func drainAll(d *enginetest.Driver) []string {
	var lines []string
	for _, name := range []string{"late", "out"} {
		for _, r := range d.Output(name) {
			lines = append(lines, fmt.Sprintf("%s %s %s t=%d @%d/%d", name, r.Key, r.Value, r.Time, r.Pos.Partition, r.Pos.Offset))
		}
	}
	return lines
}

// genSteps makes n records over keys a-c and two partitions, times
// mostly increasing, out of order by up to disorder ms, and with wall
// clock ticks every few records if ticks.
func genSteps(rng *rand.Rand, n int, disorder int64, ticks bool) []genStep {
	var steps []genStep
	var hi int64
	wall := int64(1_000_000)
	for range n {
		hi += rng.Int64N(1500)
		ts := hi
		if disorder > 0 {
			ts -= rng.Int64N(disorder + 1)
		}
		s := genStep{key: string(rune('a' + rng.IntN(3))), part: int32(rng.IntN(2)), ts: ts, value: rng.Int64N(9) + 1}
		if ticks && s.part == 1 && rng.IntN(3) > 0 {
			s.part = 0 // partition 1 is quieter, and goes idle
		}
		steps = append(steps, s)
		if ticks && rng.IntN(4) == 0 {
			wall += rng.Int64N(3000)
			steps = append(steps, genStep{tick: true, ts: wall})
		}
	}
	return steps
}

func kinds() map[string]engine.WindowSpec {
	return map[string]engine.WindowSpec{
		"tumbling": engine.Tumbling(5 * time.Second),
		"hopping":  engine.Hopping(6*time.Second, 2*time.Second),
		"sliding":  engine.Sliding(4 * time.Second),
		"session":  engine.Session(2 * time.Second),
	}
}

// TestSnapshotRestoreMidStream: for each window kind and emit mode, a run
// interrupted after k records by Snapshot, a new task and Restore writes
// after k exactly what the uninterrupted run writes.
func TestSnapshotRestoreMidStream(t *testing.T) {
	t.Parallel()
	for kind, spec := range kinds() {
		for _, emit := range []string{"final", "update"} {
			spec := spec.WithDelay(2 * time.Second).WithGrace(time.Second)
			if emit == "update" {
				spec = spec.EmitOnUpdate()
			}
			t.Run(kind+"/"+emit, func(t *testing.T) {
				t.Parallel()
				for seed := range uint64(5) {
					steps := genSteps(rand.New(rand.NewPCG(seed, 1)), 120, 4000, false)
					checkRestore(t, windowGraph(spec), steps, seed)
				}
			})
		}
	}
}

func checkRestore(t *testing.T, g *engine.Graph, steps []genStep, seed uint64) {
	t.Helper()
	whole := runSteps(t, newDriver(t, g), steps, 0)
	for _, k := range []int{1, len(steps) / 3, len(steps) / 2, len(steps) - 1} {
		// Run 1..k, without closing.
		d := newDriver(t, g)
		for i, s := range steps[:k] {
			if s.tick {
				noErr(t, d.Tick(s.ts))
				continue
			}
			noErr(t, d.SendRaw("in", &engine.Raw{Key: []byte(s.key), Value: strconv.AppendInt(nil, s.value, 10), Time: s.ts,
				Pos: engine.Pos{Input: engine.Input{Stream: "in", Partition: s.part}, Offset: int64(i), Next: int64(i + 1)}}))
		}
		drainAll(d)
		snap, err := d.Task().Snapshot()
		noErr(t, err)
		restored := newDriver(t, g)
		noErr(t, restored.Task().Restore(snap))
		if got, want := restored.Task().Metrics().Watermark.Load(), d.Task().Metrics().Watermark.Load(); got != want {
			t.Errorf("seed %d, k=%d: restored watermark %d, want %d", seed, k, got, want)
		}
		rest := runSteps(t, restored, steps[k:], k)
		for i := range rest {
			if !slices.Equal(rest[i], whole[k+i]) {
				t.Fatalf("seed %d, restored after %d steps: step %d wrote\n\t%s\nuninterrupted:\n\t%s", seed, k, k+i,
					strings.Join(rest[i], "\n\t"), strings.Join(whole[k+i], "\n\t"))
			}
		}
	}
}

// TestSnapshotRestoreWithIdleInputs is TestSnapshotRestoreMidStream with
// an idle timeout and wall-clock ticks: whether an input is idle is part
// of what decides the watermark, so it must survive a restore too.
func TestSnapshotRestoreWithIdleInputs(t *testing.T) {
	t.Parallel()
	for kind, spec := range kinds() {
		spec := spec.WithDelay(time.Second).WithIdle(2 * time.Second)
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(5) {
				steps := genSteps(rand.New(rand.NewPCG(seed, 2)), 150, 2000, true)
				checkRestore(t, windowGraph(spec), steps, seed)
			}
		})
	}
}

// TestIdleInputSurvivesRestore is the smallest case of the above.
func TestIdleInputSurvivesRestore(t *testing.T) {
	t.Parallel()
	g := windowGraph(engine.Tumbling(10 * time.Second).WithIdle(5 * time.Second))
	d := newDriver(t, g)
	noErr(t, d.SendAt("in", 0, []byte("a"), []byte("1"), 1000))
	noErr(t, d.SendAt("in", 1, []byte("a"), []byte("1"), 1000))
	noErr(t, d.Tick(100_000))
	noErr(t, d.SendAt("in", 0, []byte("a"), []byte("1"), 2000))
	noErr(t, d.Tick(105_000)) // partition 1 is idle from here
	snap, err := d.Task().Snapshot()
	noErr(t, err)
	restored := newDriver(t, g)
	noErr(t, restored.Task().Restore(snap))
	for _, dr := range []*enginetest.Driver{d, restored} {
		noErr(t, dr.SendRaw("in", &engine.Raw{Key: []byte("a"), Value: []byte("1"), Time: 12000,
			Pos: engine.Pos{Input: engine.Input{Stream: "in"}, Offset: 2, Next: 3}}))
	}
	want, got := drainAll(d), drainAll(restored)
	if len(want) != 1 || !slices.Equal(got, want) {
		t.Errorf("after the restore:\n\t%s\nuninterrupted:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestWindowsMatchReference feeds random records, out of order within the
// watermark delay, to windows counting per key, and compares every step's
// output with a naive reference model written from the definitions.
// Tumbling and hopping runs also get records beyond the delay, with a
// grace, to check lateness.
func TestWindowsMatchReference(t *testing.T) {
	t.Parallel()
	specs := []struct {
		name string
		spec engine.WindowSpec
		late bool // also records later than the delay
	}{
		{"tumbling", engine.Tumbling(5 * time.Second).WithDelay(3 * time.Second), false},
		{"tumbling-late", engine.Tumbling(5 * time.Second).WithDelay(time.Second).WithGrace(time.Second), true},
		{"hopping", engine.Hopping(6*time.Second, 2*time.Second).WithDelay(3 * time.Second), false},
		{"hopping-uneven", engine.Hopping(5*time.Second, 2*time.Second).WithDelay(2 * time.Second), false},
		{"hopping-late", engine.Hopping(6*time.Second, 3*time.Second).WithDelay(time.Second).WithGrace(2 * time.Second), true},
		{"sliding", engine.Sliding(4 * time.Second).WithDelay(3 * time.Second), false},
		{"session", engine.Session(2 * time.Second).WithDelay(3 * time.Second), false},
	}
	for _, c := range specs {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(10) {
				rng := rand.New(rand.NewPCG(seed, 3))
				steps := genReferenceSteps(rng, 300, c.spec.Delay, c.late)
				g := engine.NewGraph("ref")
				in := engine.From(g, "in", engine.String(), engine.Int64())
				w := engine.Window(in, c.spec)
				engine.To(engine.Aggregate(w, engine.Count[int64]()), "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
				engine.To(w.Late(), "late", engine.String(), engine.Int64())
				d := newDriver(t, g)
				ref := newReference(c.spec)
				var late, early int // late records; results before Close
				for i, s := range steps {
					noErr(t, d.SendAt("in", s.part, []byte(s.key), []byte("1"), s.ts))
					want := ref.send(s)
					got := readCounts(t, d)
					if !slices.Equal(got, want) {
						t.Fatalf("seed %d, step %d (%+v):\n got:\n\t%s\nwant:\n\t%s", seed, i, s,
							strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
					}
					for _, l := range got {
						if strings.HasPrefix(l, "late ") {
							late++
						} else {
							early++
						}
					}
				}
				if early == 0 || (c.late && late == 0) || (!c.late && late > 0) {
					t.Fatalf("seed %d: %d late records and %d results before the end: the run does not test what it should", seed, late, early)
				}
				noErr(t, d.Close())
				if got, want := readCounts(t, d), ref.close(); !slices.Equal(got, want) {
					t.Fatalf("seed %d, at the end:\n got:\n\t%s\nwant:\n\t%s", seed, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
				}
			}
		})
	}
}

// genReferenceSteps makes records over keys a-d and two partitions, each
// at most delay behind the largest time so far; with late, one in eight
// is up to 10 delays behind instead.
func genReferenceSteps(rng *rand.Rand, n int, delay int64, late bool) []genStep {
	var steps []genStep
	hi := int64(-20000) // negative times too
	for range n {
		hi += rng.Int64N(800)
		back := rng.Int64N(delay + 1)
		if late && rng.IntN(8) == 0 {
			back = rng.Int64N(10*delay + 1)
		}
		steps = append(steps, genStep{key: string(rune('a' + rng.IntN(4))), part: int32(rng.IntN(2)), ts: hi - back})
	}
	return steps
}

func readCounts(t *testing.T, d *enginetest.Driver) []string {
	t.Helper()
	var out []string
	for _, r := range readAll(t, d, "late", engine.String(), engine.Int64()) {
		out = append(out, fmt.Sprintf("late %s %d", r.Key, r.Time))
	}
	for _, r := range readAll(t, d, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64()) {
		l := fmt.Sprintf("%s [%d,%d) %d", r.Key.Key, r.Key.Start, r.Key.End, r.Value)
		if r.Time != r.Key.End-1 {
			l += fmt.Sprintf(" at %d, not end-1", r.Time)
		}
		out = append(out, l)
	}
	return out
}

// reference is the naive model: every accepted record is kept with the
// watermark it arrived at; when a window closes, its count is computed
// from the records.
type reference struct {
	spec   engine.WindowSpec
	wm     int64
	max    map[int32]int64
	recs   []refRecord // accepted: not late
	closed map[refWindowID]bool
}

type refRecord struct {
	key string
	ts  int64
	idx int   // arrival
	wm  int64 // the watermark it arrived at
}

type refWindowID struct {
	key        string
	start, end int64
}

type refWindow struct {
	refWindowID
	order int // among windows closing at the same end
}

func newReference(spec engine.WindowSpec) *reference {
	return &reference{spec: spec, wm: math.MinInt64, max: map[int32]int64{}, closed: map[refWindowID]bool{}}
}

func floorTo(ts, m int64) int64 {
	q := ts / m
	if ts%m != 0 && ts < 0 {
		q--
	}
	return q * m
}

// closedAt reports whether a window ending at end is closed at watermark
// wm: wm has reached end plus the grace.
func (r *reference) closedAt(wm, end int64) bool {
	return wm != math.MinInt64 && wm >= end+r.spec.Grace
}

// aligned lists the tumbling or hopping windows holding ts: [start,
// start+size) for every multiple start of the advance.
func (r *reference) aligned(key string, ts int64) []refWindowID {
	var ids []refWindowID
	for start := floorTo(ts, r.spec.Advance); start+r.spec.Size > ts; start -= r.spec.Advance {
		ids = append(ids, refWindowID{key, start, start + r.spec.Size})
	}
	return ids
}

// placed reports whether rec counts in window id: aligned windows take a
// record only if they were open when it came. (The sliding and session
// runs have no record later than the delay: nothing is ever late there.)
func (r *reference) placed(rec refRecord, id refWindowID) bool {
	return rec.key == id.key && rec.ts >= id.start && rec.ts < id.end && !r.closedAt(rec.wm, id.end)
}

func (r *reference) send(s genStep) []string {
	rec := refRecord{s.key, s.ts, len(r.recs), r.wm}
	accepted := false
	switch r.spec.Kind {
	case engine.TumblingWindows, engine.HoppingWindows:
		for _, id := range r.aligned(s.key, s.ts) {
			accepted = accepted || r.placed(rec, id)
		}
	case engine.SlidingWindows:
		accepted = !r.closedAt(r.wm, s.ts+1)
	case engine.SessionWindows:
		accepted = !r.closedAt(r.wm, s.ts+r.spec.Gap)
	}
	var out []string
	if accepted {
		r.recs = append(r.recs, rec)
	} else {
		out = append(out, fmt.Sprintf("late %s %d", s.key, s.ts))
	}
	if m, ok := r.max[s.part]; !ok || s.ts > m {
		r.max[s.part] = s.ts
	}
	wm := int64(math.MaxInt64)
	for _, m := range r.max {
		wm = min(wm, m-r.spec.Delay)
	}
	r.wm = max(r.wm, wm)
	return append(out, r.fire()...)
}

func (r *reference) close() []string {
	r.wm = math.MaxInt64
	return r.fire()
}

// fire lists the windows of the accepted records that have closed and
// were not written yet, with their counts, in the order the engine
// documents: by end; at the same end, aligned windows by the first record
// of the key in the window, sliding windows by the record that opened
// them, sessions by the last record that joined them.
func (r *reference) fire() []string {
	var due []refWindow
	seen := map[refWindowID]bool{}
	add := func(w refWindow) {
		if !r.closed[w.refWindowID] && !seen[w.refWindowID] && r.closedAt(r.wm, w.end) {
			seen[w.refWindowID] = true
			due = append(due, w)
		}
	}
	switch r.spec.Kind {
	case engine.TumblingWindows, engine.HoppingWindows:
		for _, rec := range r.recs {
			for _, id := range r.aligned(rec.key, rec.ts) {
				if r.placed(rec, id) {
					add(refWindow{id, rec.idx}) // recs are in arrival order: the first wins
				}
			}
		}
	case engine.SlidingWindows:
		for _, rec := range r.recs {
			add(refWindow{refWindowID{rec.key, rec.ts + 1 - r.spec.Size, rec.ts + 1}, rec.idx})
		}
	case engine.SessionWindows:
		// A session is a run of the key's records each less than the gap
		// after the previous one.
		byKey := map[string][]refRecord{}
		for _, rec := range r.recs {
			byKey[rec.key] = append(byKey[rec.key], rec)
		}
		for key, recs := range byKey {
			sort.SliceStable(recs, func(i, j int) bool { return recs[i].ts < recs[j].ts })
			for i := 0; i < len(recs); {
				j, last := i+1, recs[i].idx
				for j < len(recs) && recs[j].ts < recs[j-1].ts+r.spec.Gap {
					last = max(last, recs[j].idx)
					j++
				}
				add(refWindow{refWindowID{key, recs[i].ts, recs[j-1].ts + r.spec.Gap}, last})
				i = j
			}
		}
	}
	sort.SliceStable(due, func(i, j int) bool {
		if due[i].end != due[j].end {
			return due[i].end < due[j].end
		}
		return due[i].order < due[j].order
	})
	var out []string
	for _, w := range due {
		r.closed[w.refWindowID] = true
		n := 0
		for _, rec := range r.recs {
			if r.placed(rec, w.refWindowID) {
				n++
			}
		}
		out = append(out, fmt.Sprintf("%s [%d,%d) %d", w.key, w.start, w.end, n))
	}
	return out
}

// TestChainedWindowsAfterWatermark: a window fed by another window's
// results. Results fired by AdvanceWatermark (or by Tick) must not stop
// the downstream window's watermark: its inputs are the task's inputs.
func TestChainedWindowsAfterWatermark(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"watermark", "tick"} {
		t.Run(how, func(t *testing.T) {
			g := engine.NewGraph("chain")
			in := engine.From(g, "in", engine.String(), engine.Int64())
			w1 := engine.Window(in, engine.Tumbling(10*time.Second).WithIdle(time.Second))
			perTen := engine.Aggregate(w1, engine.Count[int64](), engine.Name("per-10s"))
			rekeyed := engine.MapRecord(perTen, func(r engine.Record[engine.WindowKey[string], int64]) (engine.Record[string, int64], error) {
				return engine.Record[string, int64]{Key: r.Key.Key, Value: r.Value, Time: r.Time}, nil
			})
			w2 := engine.Window(rekeyed, engine.Tumbling(30*time.Second))
			engine.To(engine.Aggregate(w2, engine.Sum(func(v int64) int64 { return v }), engine.Name("per-30s")), "out",
				engine.JSON[engine.WindowKey[string]](), engine.Int64())
			d := newDriver(t, g)
			noErr(t, d.SendAt("in", 0, []byte("a"), []byte("1"), 1000))
			switch how {
			case "watermark":
				noErr(t, d.Watermark(10000)) // closes per-10s [0,10000)
			case "tick":
				// Partition 1 holds the watermark back, then goes idle:
				// per-10s [0,10000) closes on the tick.
				noErr(t, d.SendAt("in", 1, []byte("b"), []byte("1"), 0))
				noErr(t, d.SendAt("in", 0, []byte("a"), []byte("1"), 10000))
				noErr(t, d.Tick(1_000_000))
				noErr(t, d.SendAt("in", 0, []byte("a"), []byte("1"), 10001))
				noErr(t, d.Tick(1_001_000))
			}
			// Records close per-10s windows up to [80000,90000), whose
			// results (at 19999 ... 89999) reach per-30s: [0,30000) and
			// [30000,60000) close. (With ticks, per-10s [10000,20000)
			// holds 10000, 10001 and 11000.)
			for ts := int64(11000); ts <= 91000; ts += 10000 {
				noErr(t, d.SendAt("in", 0, []byte("a"), []byte("1"), ts))
			}
			var got []string
			for _, r := range readAll(t, d, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64()) {
				got = append(got, fmt.Sprintf("%s [%d,%d) %d", r.Key.Key, r.Key.Start, r.Key.End, r.Value))
			}
			want := []string{"a [0,30000) 3", "a [30000,60000) 3"}
			if how == "tick" {
				want = []string{"a [0,30000) 5", "b [0,30000) 1", "a [30000,60000) 3"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("per-30s wrote %q, want %q", got, want)
			}
		})
	}
}
