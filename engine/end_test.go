package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/enginetest"
)

// The end of a bounded input across a KeyBy: keyedGraph run as two
// stage-0 tasks writing to one stage-1 task, the records and markers
// carried by hand (enginetest.Forward), as the repartition topic does.

const repartition = "words-byword-repartition"

type endRig struct {
	t    *testing.T
	up   [2]*enginetest.Driver // stage 0, tasks 0 and 1
	down *enginetest.Driver    // stage 1, task 0
}

func newEndRig(t *testing.T, upstreams int) *endRig {
	t.Helper()
	g := keyedGraph(engine.ErrorPolicy{})
	r := &endRig{t: t}
	for i := range r.up {
		d, err := enginetest.NewStage(g, 0, int32(i), 0)
		noErr(t, err)
		r.up[i] = d
	}
	d, err := enginetest.NewStage(g, 1, 0, upstreams)
	noErr(t, err)
	r.down = d
	return r
}

// send makes upstream task i read a word at ts and carries what it wrote
// downstream.
func (r *endRig) send(i int, word string, n int, ts int64) {
	r.t.Helper()
	noErr(r.t, r.up[i].SendAt("in", int32(i), []byte("k"), []byte(fmt.Sprintf(`{"word":%q,"n":%d}`, word, n)), ts))
	noErr(r.t, r.down.Forward(repartition, r.up[i].Output(repartition)...))
}

// forward carries markers downstream.
func (r *endRig) forward(ms []engine.Marker) {
	r.t.Helper()
	for _, m := range ms {
		if m.Output != repartition {
			r.t.Fatalf("a marker for %q", m.Output)
		}
		noErr(r.t, r.down.Forward(m.Output, m.Record))
	}
}

// out returns the sums written downstream since the last call, as
// "word@start=sum".
func (r *endRig) out() []string {
	r.t.Helper()
	var got []string
	for _, rec := range readAll(r.t, r.down, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64()) {
		got = append(got, fmt.Sprintf("%s@%d=%d", rec.Key.Key, rec.Key.Start, rec.Value))
	}
	return got
}

func requireOut(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: wrote %q, want %q", what, got, want)
	}
}

// fill writes a few words: task 0 up to 25s, task 1 up to 12s, so that
// the downstream watermark is 12000 and [0,10000) is the only window
// closed.
func (r *endRig) fill() {
	r.t.Helper()
	r.send(0, "a", 1, 1000)
	r.send(1, "a", 2, 2000)
	r.send(1, "b", 4, 12000)
	r.send(0, "a", 8, 25000)
	requireOut(r.t, "the words", r.out(), "a@0=3")
}

// TestEndMarkersCloseAtTheLastUpstreamEnd: an end marker says that its
// writer is done for the run; the reader closes its windows when the
// last upstream task's end arrives, and only then, with the results
// stamped with that marker's position.
func TestEndMarkersCloseAtTheLastUpstreamEnd(t *testing.T) {
	t.Parallel()
	r := newEndRig(t, 2)
	r.fill()

	r.forward(r.up[0].Task().ClosingMarkers())
	requireOut(t, "after task 0's end", r.out())
	if n := r.down.Task().OpenWindows(); n != 2 || r.down.Task().UpstreamsEnded() {
		t.Fatalf("after task 0's end: %d windows open, ended %t; want 2 and false", n, r.down.Task().UpstreamsEnded())
	}

	r.forward(r.up[1].Task().ClosingMarkers())
	got := readAll(t, r.down, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	var sums []string
	for _, rec := range got {
		sums = append(sums, fmt.Sprintf("%s@%d=%d", rec.Key.Key, rec.Key.Start, rec.Value))
		// Task 1's markers: its watermark, then its end, the fourth
		// marker read (offset 7 after 4 records and 3 markers).
		if want := (engine.Pos{Input: engine.Input{Stream: repartition}, Offset: 7, Next: 8}); rec.Pos != want {
			t.Errorf("%s carries %+v, want the end marker's position %+v", sums[len(sums)-1], rec.Pos, want)
		}
	}
	requireOut(t, "after both ends", sums, "b@10000=4", "a@20000=8")
	m := r.down.Task().Metrics()
	if n := r.down.Task().OpenWindows(); n != 0 || !r.down.Task().UpstreamsEnded() || m.Closed.Load() != 2 {
		t.Fatalf("after both ends: %d open, ended %t, closed %d; want 0, true, 2", n, r.down.Task().UpstreamsEnded(), m.Closed.Load())
	}
	// The watermark closes exactly what was open: [20000,30000).
	if wm := m.Watermark.Load(); wm != 30000 {
		t.Errorf("watermark %d after the end, want 30000", wm)
	}
}

// TestEndMarkersKeepWindowsOpen: the markers of a run that does not close
// windows (EndMarkers) move the watermark to the writers' last ones and
// leave the later windows open, for a later run.
func TestEndMarkersKeepWindowsOpen(t *testing.T) {
	t.Parallel()
	r := newEndRig(t, 2)
	r.fill()
	r.forward(r.up[0].Task().EndMarkers())
	r.forward(r.up[1].Task().EndMarkers())
	requireOut(t, "after both ends", r.out())
	if n := r.down.Task().OpenWindows(); n != 2 || r.down.Task().UpstreamsEnded() || r.down.Task().Metrics().Closed.Load() != 0 {
		t.Fatalf("%d windows open, ended %t; want 2 and false, none closed", n, r.down.Task().UpstreamsEnded())
	}
}

// TestEndMarkerOfAnIdleTask: a task that wrote nothing says it is idle
// (it holds nothing back) and that it ended; an idle marker alone is no
// end.
func TestEndMarkerOfAnIdleTask(t *testing.T) {
	t.Parallel()
	r := newEndRig(t, 2)
	r.send(0, "a", 1, 1000)
	r.send(0, "a", 2, 15000)
	requireOut(t, "with task 1 silent", r.out())

	r.forward(r.up[1].Task().Markers(true))
	requireOut(t, "task 1 idle", r.out(), "a@0=1")
	if r.down.Task().UpstreamsEnded() {
		t.Fatal("an idle marker ended task 1")
	}

	// Told idle already, task 1 only ends; a task that never wrote nor
	// said so says both.
	ms := r.up[1].Task().ClosingMarkers()
	if got := markerValues(ms); !slices.Equal(got, []string{"1|end"}) {
		t.Fatalf("task 1's closing markers %q, want only its end", got)
	}
	fresh, err := enginetest.NewStage(keyedGraph(engine.ErrorPolicy{}), 0, 3, 0)
	noErr(t, err)
	if got, want := markerValues(fresh.Task().ClosingMarkers()), []string{"3|idle", "3|end"}; !slices.Equal(got, want) {
		t.Fatalf("a silent task's closing markers %q, want %q", got, want)
	}
	r.forward(ms)
	r.forward(r.up[0].Task().ClosingMarkers())
	requireOut(t, "both ended", r.out(), "a@10000=2")
}

// markerValues returns the HeaderWatermark values of markers, with | for
// the NUL between task and watermark.
func markerValues(ms []engine.Marker) []string {
	var out []string
	for _, m := range ms {
		v, _ := m.Record.Header(engine.HeaderWatermark)
		out = append(out, strings.ReplaceAll(string(v), "\x00", "|"))
	}
	return out
}

// TestEndsAreNotInTheSnapshot: a task restored part-way through the ends
// waits for them all again, and closes nothing meanwhile; the ends of a
// later run close its windows.
func TestEndsAreNotInTheSnapshot(t *testing.T) {
	t.Parallel()
	r := newEndRig(t, 2)
	r.fill()
	r.forward(r.up[0].Task().ClosingMarkers())
	snap, err := r.down.Task().Snapshot()
	noErr(t, err)
	d, err := enginetest.NewStage(keyedGraph(engine.ErrorPolicy{}), 1, 0, 2)
	noErr(t, err)
	noErr(t, d.Task().Restore(snap))
	r.down = d

	r.forward(r.up[1].Task().ClosingMarkers())
	requireOut(t, "task 1's end after the restore", r.out())
	if n := d.Task().OpenWindows(); n != 2 || d.Task().UpstreamsEnded() {
		t.Fatalf("%d windows open, ended %t; want 2 and false", n, d.Task().UpstreamsEnded())
	}
	r.forward(r.up[0].Task().ClosingMarkers())
	requireOut(t, "task 0's end again", r.out(), "b@10000=4", "a@20000=8")
}

// TestRecordAfterEndStartsARun: an upstream task that writes after its
// end is in a later run: its end counts no more until it ends again.
func TestRecordAfterEndStartsARun(t *testing.T) {
	t.Parallel()
	r := newEndRig(t, 2)
	r.fill()
	r.forward(r.up[0].Task().ClosingMarkers())
	r.send(0, "c", 16, 26000)
	r.forward(r.up[1].Task().ClosingMarkers())
	requireOut(t, "task 1's end after task 0 wrote again", r.out())
	r.forward(r.up[0].Task().ClosingMarkers())
	requireOut(t, "both ended", r.out(), "b@10000=4", "a@20000=8", "c@20000=16")
}

// TestEndsWithoutExpectedUpstreams: a task not told how many upstream
// tasks there are closes when every one it has heard of ended.
func TestEndsWithoutExpectedUpstreams(t *testing.T) {
	t.Parallel()
	r := newEndRig(t, 0)
	r.fill()
	r.forward(r.up[1].Task().ClosingMarkers())
	requireOut(t, "task 1's end", r.out())
	r.forward(r.up[0].Task().ClosingMarkers())
	requireOut(t, "both ended", r.out(), "b@10000=4", "a@20000=8")
}

// TestCloseWindowsInGraphOrder: windows feeding windows close upstream
// first, so that the last results of the first reach the second before
// it closes.
func TestCloseWindowsInGraphOrder(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("chain")
	in := engine.From(g, "in", engine.String(), engine.Int64())
	tens := engine.Aggregate(engine.Window(in, engine.Tumbling(10*time.Second)), engine.Count[int64](), engine.Name("tens"))
	byKey := engine.Map(tens, func(r engine.Record[engine.WindowKey[string], int64]) (int64, error) { return r.Value, nil })
	rekeyed := engine.KeyBy(byKey, func(r engine.Record[engine.WindowKey[string], int64]) string { return r.Key.Key })
	minutes := engine.Aggregate(engine.Window(rekeyed, engine.Tumbling(time.Minute)), engine.Sum(func(v int64) int64 { return v }), engine.Name("minutes"))
	engine.To(minutes, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	d := newDriver(t, g)
	for _, ts := range []int64{1000, 2000, 15000, 61000} {
		noErr(t, d.Send("in", []byte("a"), []byte("1"), ts))
	}
	noErr(t, d.End())
	var got []string
	for _, rec := range readAll(t, d, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64()) {
		got = append(got, fmt.Sprintf("%s@%d=%d", rec.Key.Key, rec.Key.Start, rec.Value))
	}
	requireOut(t, "the minutes", got, "a@0=3", "a@60000=1")
	if n := d.Task().Metrics().Closed.Load(); n != 3 {
		t.Errorf("%d windows closed by the end, want 3 ([60s,70s) of tens, and both minutes)", n)
	}
}
