package connect_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

// The end of a bounded input with StageConfig.CloseWindows.

// endInput appends the input of the tests: task 0 reads a, b, then a
// 13s later; task 1 reads one a. Only [0s, 10s) of task 0 is closed by
// a watermark.
func endInput(src *connecttest.Source) {
	src.Append(in0, connecttest.Rec("a", "1", 1000), connecttest.Rec("b", "2", 2000), connecttest.Rec("a", "3", 15000))
	src.Append(in1, connecttest.Rec("a", "4", 3000))
}

// restoredOpen restores snap into a task of countGraph and returns its
// open windows and watermark.
func restoredOpen(t *testing.T, snap []byte) (int, int64) {
	t.Helper()
	task, err := countGraph().NewTask(0, 0, engine.OutputFunc(func(string, *engine.Raw) {}))
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Restore(snap); err != nil {
		t.Fatal(err)
	}
	return task.OpenWindows(), task.Metrics().Watermark.Load()
}

// TestCloseWindowsAtTheEnd: at the end of the input every window closes,
// its result committed with the last records, and the snapshot committed
// then has no window left; without CloseWindows the last windows stay
// open in the state.
func TestCloseWindowsAtTheEnd(t *testing.T) {
	t.Parallel()
	for _, close := range []bool{false, true} {
		rig := newCountRig(connecttest.NewExactlyOnceSink)
		src, out, st := rig.src, rig.out, rig.st
		endInput(src)
		src.Push(connecttest.Assign(0, 1), connecttest.EndOfInput())
		cfg := rig.cfg
		cfg.CheckpointInterval, cfg.CloseWindows = time.Hour, close
		rn := startRun(t, cfg)
		if err := rn.wait(); err != nil {
			t.Fatalf("close %t: Run: %v", close, err)
		}
		want0, want1 := map[string]int64{"a@0": 1, "b@0": 1}, map[string]int64{}
		open0, wm0, open1, closed := 1, int64(15000), 1, int64(0)
		if close {
			want0["a@10000"], want1["a@0"] = 1, 1
			open0, wm0, open1, closed = 0, 20000, 0, 2
		}
		if got := windowCounts(t, out.Output(0)); !equalCounts(got, want0) {
			t.Errorf("close %t: task 0 wrote %v, want %v", close, got, want0)
		}
		if got := windowCounts(t, out.Output(1)); !equalCounts(got, want1) {
			t.Errorf("close %t: task 1 wrote %v, want %v", close, got, want1)
		}
		if n := len(out.Commits()); n != 1 {
			t.Errorf("close %t: %d commits, want the one at the end", close, n)
		}
		requirePositions(t, "task 0's committed positions", out.Positions(0), engine.Positions{in0: 3})
		for id, want := range map[connect.TaskID][2]int64{0: {int64(open0), wm0}, 1: {int64(open1), 3000}} {
			snaps := st.Snapshots(countStage, id)
			if len(snaps) != 1 || !snaps[0].Positions.Equal(out.Positions(id)) {
				t.Fatalf("close %t: task %d's snapshots %+v, want one at the sink's positions", close, id, snaps)
			}
			if open, wm := restoredOpen(t, snaps[0].State); open != int(want[0]) || (close && id == 0 && wm != want[1]) {
				t.Errorf("close %t: task %d's snapshot has %d windows open, watermark %d; want %d, %d", close, id, open, wm, want[0], want[1])
			}
		}
		if s := rn.r.Stats(); s.Closed != closed {
			t.Errorf("close %t: Stats.Closed %d, want %d", close, s.Closed, closed)
		}
	}
}

// TestCloseWindowsWhenTheSourceTellsTheEnd: a task whose source says it
// read its input to the end (connect.Ender) closes its windows in the
// next checkpoint, before the end of the whole input, which then commits
// nothing more.
func TestCloseWindowsWhenTheSourceTellsTheEnd(t *testing.T) {
	t.Parallel()
	rig := newCountRig(connecttest.NewExactlyOnceSink)
	src, out, st := rig.src, rig.out, rig.st
	endInput(src)
	src.SetAtEnd(0, 1)
	src.Push(connecttest.Assign(0, 1))
	cfg := rig.cfg
	cfg.CloseWindows = true
	rn := startRun(t, cfg)
	rn.until("the last windows committed", func() bool {
		return windowCounts(t, out.Output(0))["a@10000"] == 1 && windowCounts(t, out.Output(1))["a@0"] == 1
	})
	commits := len(out.CallsOf("Commit"))
	src.Push(connecttest.EndOfInput())
	if err := rn.wait(); err != nil {
		t.Fatal(err)
	}
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 1, "b@0": 1, "a@10000": 1}; !equalCounts(got, want) {
		t.Fatalf("task 0 wrote %v, want %v", got, want)
	}
	if got, want := windowCounts(t, out.Output(1)), map[string]int64{"a@0": 1}; !equalCounts(got, want) {
		t.Fatalf("task 1 wrote %v, want %v", got, want)
	}
	for _, c := range out.CallsOf("Commit")[commits:] {
		if len(c.Checkpoint) > 0 {
			t.Errorf("a task was committed again after its end: %v", c.Checkpoint)
		}
	}
	snaps := st.Snapshots(countStage, 0)
	if open, _ := restoredOpen(t, snaps[0].State); open != 0 || !snaps[0].Positions.Equal(engine.Positions{in0: 3}) {
		t.Errorf("task 0's last snapshot at %v has %d windows open; want none, at in/0 3", snaps[0].Positions, open)
	}
}

// TestCloseWindowsPutsCheckpointsOff: with a source that cannot tell
// where a task's input ends, a checkpoint between the last records and
// the end of the input would commit the task at its end with its windows
// open, and nothing could close them exactly once after that: the
// checkpoints wait for the end.
func TestCloseWindowsPutsCheckpointsOff(t *testing.T) {
	t.Parallel()
	rig := newCountRig(connecttest.NewExactlyOnceSink)
	src, out := rig.src, rig.out
	endInput(src)
	src.SetMaxPoll(1) // a checkpoint is due after every record
	src.Push(connecttest.Assign(0, 1), connecttest.EndOfInput())
	cfg := rig.cfg
	cfg.Source = struct{ connect.Source }{src} // not an Ender
	cfg.CheckpointInterval, cfg.CloseWindows = time.Nanosecond, true
	rn := startRun(t, cfg)
	if err := rn.wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(out.Commits()); n != 1 {
		t.Errorf("%d commits, want only the one at the end", n)
	}
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 1, "b@0": 1, "a@10000": 1}; !equalCounts(got, want) {
		t.Fatalf("task 0 wrote %v, want %v", got, want)
	}
}

// TestCloseWindowsOfATaskCommittedAtItsEnd: windows that an earlier run
// left open at the end of the input cannot close in a run with nothing
// new to read (see closeAtEndLocked); they close in the first run that
// reads records again.
func TestCloseWindowsOfATaskCommittedAtItsEnd(t *testing.T) {
	t.Parallel()
	rig := newCountRig(connecttest.NewExactlyOnceSink)
	out := rig.out
	// Each run reads the same logs from a source of its own (a script's
	// end stays at its head), resuming where the sink says.
	runOnce := func(close bool, more ...*connect.Record) {
		t.Helper()
		src := connecttest.NewSource(nil)
		endInput(src)
		src.Append(in0, more...)
		src.Push(connecttest.Assign(0, 1), connecttest.EndOfInput())
		cfg := rig.cfg
		cfg.Source, cfg.CloseWindows = src, close
		if err := startRun(t, cfg).wait(); err != nil {
			t.Fatal(err)
		}
	}
	runOnce(false)
	runOnce(true)
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 1, "b@0": 1}; !equalCounts(got, want) {
		t.Fatalf("after a run with nothing to read, task 0 wrote %v, want %v", got, want)
	}
	runOnce(true, connecttest.Rec("c", "5", 16000))
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 1, "b@0": 1, "a@10000": 1, "c@10000": 1}; !equalCounts(got, want) {
		t.Fatalf("after a run with a record, task 0 wrote %v, want %v", got, want)
	}
	if got := windowCounts(t, out.Output(1)); len(got) != 0 {
		t.Fatalf("task 1, with nothing new, wrote %v", got)
	}
}

// broadcastSink is an exactly-once sink that notes the markers broadcast
// through it.
type broadcastSink struct {
	*connecttest.Sink
	mu      sync.Mutex
	markers []string
}

func (s *broadcastSink) Broadcast(_ context.Context, task connect.TaskID, rec *connect.Record) error {
	v, _ := rec.Header(engine.HeaderWatermark)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.markers = append(s.markers, strings.ReplaceAll(string(v), "\x00", "|"))
	return nil
}

// TestClosingMarkers: at the end of its input, a stage writing a KeyBy
// says that it ended when it closes windows, and gives only its last
// watermark otherwise.
func TestClosingMarkers(t *testing.T) {
	t.Parallel()
	for _, close := range []bool{false, true} {
		g := engine.NewGraph("keyed")
		g.SetLogger(quiet)
		in := engine.From(g, "in", engine.String(), engine.String())
		keyed := engine.KeyBy(in, func(r engine.Record[string, string]) string { return r.Value }, engine.Name("by"))
		w := engine.Window(keyed, engine.Tumbling(10*time.Second))
		engine.To(engine.Aggregate(w, engine.Count[string]()), "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
		src := connecttest.NewSource(nil)
		src.Append(in0, connecttest.Rec("k", "a", 1000))
		src.Push(connecttest.Assign(0, 1), connecttest.EndOfInput())
		bs := &broadcastSink{Sink: connecttest.NewExactlyOnceSink("repartition", nil)}
		rn := startRun(t, connect.StageConfig{Graph: g, Source: src, Sinks: map[string]connect.Sink{"keyed-by-repartition": bs},
			CheckpointInterval: time.Hour, CloseWindows: close})
		if err := rn.wait(); err != nil {
			t.Fatal(err)
		}
		want := []string{"0|1000", "1|idle"}
		if close {
			want = []string{"0|1000", "0|end", "1|end", "1|idle"} // sorted
		}
		bs.mu.Lock()
		got := slices.Clone(bs.markers)
		bs.mu.Unlock()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("close %t: markers %q, want %q", close, got, want)
		}
	}
}
