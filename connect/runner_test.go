package connect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

// The runner's tests drive connect.Runner over the fakes of connecttest:
// a scripted source, exactly-once and at-least-once sinks that record
// their calls, and an in-memory state store, all noting their calls in one
// journal. They never assert on timing: they wait, with a deadline, for
// what they expect to become true.

var (
	quiet = slog.New(slog.DiscardHandler)
	in0   = connecttest.Input("in", 0)
	in1   = connecttest.Input("in", 1)
	// errCrash stands for a process dying in the middle of a checkpoint.
	errCrash = errors.New("crash")
)

const waitTimeout = 10 * time.Second

// upperGraph reads strings from "in" and writes them upper-cased to "out".
func upperGraph() *engine.Graph {
	g := engine.NewGraph("upper")
	g.SetLogger(quiet)
	in := engine.From(g, "in", engine.String(), engine.String())
	up := engine.Map(in, func(r engine.Record[string, string]) (string, error) { return strings.ToUpper(r.Value), nil })
	engine.To(up, "out", engine.String(), engine.String())
	return g
}

// countStage is where countGraph's state is stored: its stage 0.
const countStage = "counts/0"

// countGraph counts the records of each key of "in" in tumbling windows of
// 10s and writes each window's count to "out" when the watermark (the
// largest event time seen) passes its end.
func countGraph() *engine.Graph {
	g := engine.NewGraph("counts")
	g.SetLogger(quiet)
	in := engine.From(g, "in", engine.String(), engine.String())
	counts := engine.Aggregate(engine.Window(in, engine.Tumbling(10*time.Second)), engine.Count[string](), engine.Name("counts"))
	engine.To(counts, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	return g
}

// doubleGraph reads decimal integers from "in" and writes them doubled to
// "out"; a value that is not an integer goes to the policy.
func doubleGraph(p engine.ErrorPolicy) *engine.Graph {
	g := engine.NewGraph("double")
	g.SetLogger(quiet)
	g.SetErrorPolicy(p)
	in := engine.From(g, "in", engine.String(), engine.Int64())
	twice := engine.Map(in, func(r engine.Record[string, int64]) (int64, error) { return 2 * r.Value, nil })
	engine.To(twice, "out", engine.String(), engine.Int64())
	return g
}

// run is a Runner running in its own goroutine.
type run struct {
	t      *testing.T
	r      *connect.Runner
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startRun(t *testing.T, cfg connect.StageConfig) *run {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	r, err := connect.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &run{t: t, r: r, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rn.done)
		rn.err = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rn.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return after its context was canceled")
		}
	})
	return rn
}

// until waits for cond, failing the test if Run returns first or the
// deadline passes.
func (rn *run) until(what string, cond func() bool) {
	rn.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		select {
		case <-rn.done:
			if cond() {
				return
			}
			rn.t.Fatalf("Run returned (err: %v) before %s", rn.err, what)
		default:
		}
		if time.Now().After(deadline) {
			rn.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// wait waits for Run to return by itself and returns its error.
func (rn *run) wait() error {
	rn.t.Helper()
	select {
	case <-rn.done:
		return rn.err
	case <-time.After(waitTimeout):
		rn.t.Fatal("Run did not return")
		return nil
	}
}

// stop cancels Run's context and returns its error.
func (rn *run) stop() error {
	rn.t.Helper()
	rn.cancel()
	return rn.wait()
}

func values(recs []*connect.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// windowCounts decodes countGraph's output as "key@start" -> count; a
// window reported twice is an error: each must be written exactly once.
func windowCounts(t *testing.T, recs []*connect.Record) map[string]int64 {
	t.Helper()
	keys, counts := engine.JSON[engine.WindowKey[string]](), engine.Int64()
	out := map[string]int64{}
	for _, r := range recs {
		k, err := keys.Decode(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := counts.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("%s@%d", k.Key, k.Start)
		if _, dup := out[id]; dup {
			t.Errorf("the window %s was written twice (%d, then %d)", id, out[id], n)
		}
		out[id] = n
	}
	return out
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// snapshotOf returns the state of countGraph's task after recs.
func snapshotOf(t *testing.T, recs ...*connect.Record) []byte {
	t.Helper()
	task, err := countGraph().NewTask(0, 0, engine.OutputFunc(func(string, *engine.Raw) {}))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		r.Pos = engine.Pos{Input: in0, Offset: int64(i), Next: int64(i) + 1}
		if err := task.Process("in", r); err != nil {
			t.Fatal(err)
		}
	}
	b, err := task.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireCheckpoint(t *testing.T, what string, got, want connect.Checkpoint) {
	t.Helper()
	ok := len(got) == len(want)
	for id, p := range want {
		ok = ok && got[id].Equal(p)
	}
	if !ok {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func requirePositions(t *testing.T, what string, got, want engine.Positions) {
	t.Helper()
	if !got.Equal(want) || (got == nil) != (want == nil) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

func requireValues(t *testing.T, what string, got []*connect.Record, want ...string) {
	t.Helper()
	if v := values(got); !slices.Equal(v, want) {
		t.Fatalf("%s: %q, want %q", what, v, want)
	}
}

// requireConsistent checks, for a stateless graph writing one output per
// record of in0, that what is committed agrees: the output of every
// record before the committed position, and of none after it. The
// committed position is the sink's (exactly-once) or the source's
// (at-least-once).
func requireConsistent(t *testing.T, src *connecttest.Source, out *connecttest.Sink) {
	t.Helper()
	var pos int64
	if out.Delivery() == connect.ExactlyOnce {
		pos = out.Positions(0)[in0]
	} else {
		pos, _ = src.Committed(in0)
	}
	var got []int64
	for _, r := range out.Output(0) {
		if r.Pos.Offset >= pos {
			continue // at least once: it may be written again
		}
		got = append(got, r.Pos.Offset)
	}
	slices.Sort(got)
	got = slices.Compact(got)
	if int64(len(got)) != pos {
		t.Fatalf("committed position %d, but the committed output covers offsets %v: records were lost", pos, got)
	}
}

// requireOrder checks that the journal holds each of entries, the first
// occurrence of each after that of the one before.
func requireOrder(t *testing.T, j *connecttest.Journal, entries ...string) {
	t.Helper()
	last := -1
	for _, e := range entries {
		i := j.Index(e)
		if i < 0 || i < last {
			t.Fatalf("want %q in this order; the journal:\n%s", entries, j)
		}
		last = i
	}
}

// TestExactlyOnceResumesWhereTheSinkSays: the positions an exactly-once
// sink reports are where the source resumes, whatever was committed to the
// source; a task the sink knows nothing of resumes where the source would;
// the outputs are committed with the positions of the last record
// processed (its Pos.Next, which for a file is not Offset+1), then
// committed to the source for monitoring.
func TestExactlyOnceResumesWhereTheSinkSays(t *testing.T) {
	t.Parallel()
	j := &connecttest.Journal{}
	src := connecttest.NewSource(j)
	out := connecttest.NewExactlyOnceSink("out", j)
	for i := range 5 {
		src.Append(in0, connecttest.Rec("k", fmt.Sprintf("a%d", i), 1000))
	}
	// Task 1 reads lines of a file: positions are byte offsets.
	var off int64
	for _, v := range []string{"b0", "b1x", "b2xx", "b3"} {
		r := connecttest.Rec("k", v, 1000)
		r.Pos = engine.Pos{Offset: off, Next: off + int64(len(v)) + 1}
		off = r.Pos.Next
		src.Append(in1, r)
	}
	out.SetPositions(0, engine.Positions{in0: 2})
	src.SetCommitted(in0, 4) // the sink wins over this
	src.SetCommitted(in1, 3) // the sink has nothing: the source's own position, "b1x"
	src.Push(connecttest.Assign(0, 1))

	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src,
		Sinks: map[string]connect.Sink{"out": out}, CheckpointInterval: time.Hour})
	rn.until("6 records processed", func() bool { return rn.r.Stats().In == 6 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}

	res := src.Resumes()
	if len(res) != 1 || res[0].Err != nil {
		t.Fatalf("Assigned calls: %+v, want one without error", res)
	}
	requirePositions(t, "task 0 resumes at", res[0].Positions[0], engine.Positions{in0: 2})
	if p, ok := res[0].Positions[1]; ok {
		t.Fatalf("task 1 resumes at %v: the sink has no positions for it, the source decides", p)
	}
	requireValues(t, "task 0's output", out.Output(0), "A2", "A3", "A4")
	requireValues(t, "task 1's output", out.Output(1), "B1X", "B2XX", "B3")
	if p := out.Output(0)[0].Pos; p.Input != in0 || p.Offset != 2 {
		t.Fatalf("the first output of task 0 carries the position %+v, want in/0 offset 2", p)
	}
	want := connect.Checkpoint{0: {in0: 5}, 1: {in1: 15}}
	commits := out.Commits()
	if len(commits) != 1 {
		t.Fatalf("%d commits, want 1 (the one at the stop)", len(commits))
	}
	requireCheckpoint(t, "the sink's commit", commits[0], want)
	requirePositions(t, "the sink's positions of task 1", out.Positions(1), engine.Positions{in1: 15})
	scs := src.Commits()
	if len(scs) != 1 {
		t.Fatalf("%d commits to the source, want 1", len(scs))
	}
	requireCheckpoint(t, "the source's commit", scs[0], want)
	requireOrder(t, j, "source.Open", "source.Assigned([0 1])", "out.OpenTask(0)", "out.Write(0)", "out.Commit", "source.Commit", "source.Close")
}

// countRig is countGraph over fakes: a journal, a source, the sink out
// and a state store, checkpointing every 5ms.
type countRig struct {
	j   *connecttest.Journal
	src *connecttest.Source
	out *connecttest.Sink
	st  *connecttest.State
	cfg connect.StageConfig
}

func newCountRig(newSink func(string, *connecttest.Journal) *connecttest.Sink) countRig {
	j := &connecttest.Journal{}
	r := countRig{j: j, src: connecttest.NewSource(j), out: newSink("out", j), st: connecttest.NewState(j)}
	r.cfg = connect.StageConfig{Graph: countGraph(), Source: r.src, Sinks: map[string]connect.Sink{"out": r.out},
		State: r.st, CheckpointInterval: 5 * time.Millisecond}
	return r
}

// TestExactlyOnceSavesStateBeforeCommitAndRestores: a stateful task's
// snapshot is saved before the sink commits; a process dying between the
// two leaves a snapshot newer than the sink's positions, and the next run
// restores the one whose positions are the sink's, resumes there, and
// counts on without counting a record twice.
func TestExactlyOnceSavesStateBeforeCommitAndRestores(t *testing.T) {
	t.Parallel()
	rig := newCountRig(connecttest.NewExactlyOnceSink)
	j, src, out, st, cfg := rig.j, rig.src, rig.out, rig.st, rig.cfg

	src.Push(connecttest.Assign(0))
	rn := startRun(t, cfg)
	src.Append(in0, connecttest.Rec("a", "1", 1000), connecttest.Rec("b", "2", 2000))
	rn.until("the first commit", func() bool { return len(out.Commits()) == 1 })
	out.FailCommit(2, errCrash)
	src.Append(in0, connecttest.Rec("a", "3", 3000))
	if err := rn.wait(); !errors.Is(err, errCrash) {
		t.Fatalf("Run: %v, want the crash", err)
	}
	if got := j.Only("state.Save", "out.Commit"); !slices.Equal(got, []string{"state.Save", "out.Commit", "state.Save", "out.Commit"}) {
		t.Fatalf("saves and commits: %q, want each save before its commit", got)
	}
	snaps := st.Snapshots(countStage, 0)
	if len(snaps) != 2 || snaps[0].Seq != 2 || snaps[1].Seq != 1 {
		t.Fatalf("stored snapshots %+v, want seqs 2 and 1", snaps)
	}
	requirePositions(t, "snapshot 2", snaps[0].Positions, engine.Positions{in0: 3})
	requirePositions(t, "snapshot 1", snaps[1].Positions, engine.Positions{in0: 2})
	requirePositions(t, "the sink's positions", out.Positions(0), engine.Positions{in0: 2})

	// The next process.
	src.Push(connecttest.Assign(0))
	rn = startRun(t, cfg)
	src.Append(in0, connecttest.Rec("a", "4", 4000), connecttest.Rec("c", "5", 12000)) // closes [0s, 10s)
	rn.until("the window's counts committed", func() bool { return len(out.Output(0)) >= 2 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	res := src.Resumes()
	requirePositions(t, "the restarted task resumes at", res[len(res)-1].Positions[0], engine.Positions{in0: 2})
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 3, "b@0": 1}; !equalCounts(got, want) {
		t.Fatalf("window counts %v, want %v", got, want)
	}
	requirePositions(t, "the sink's positions at the end", out.Positions(0), engine.Positions{in0: 5})
	// The restored snapshot was the first: the next one is the second
	// again, so that it replaces the orphan and keeps the first, which
	// the sink's positions still point at until the commit.
	saves := st.Saves()
	if len(saves) < 3 || saves[2][0].Seq != 2 {
		t.Fatalf("the first save after the restart: %+v, want seq 2", saves[2:])
	}
}

// TestSnapshotMismatchFails: an exactly-once sink's positions that no
// stored snapshot has stop the stage with an error saying so, before
// anything is written.
func TestSnapshotMismatchFails(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	st := connecttest.NewState(nil)
	snap := snapshotOf(t, connecttest.Rec("a", "1", 1000))
	st.Put(countStage, 0, connect.Snapshot{Seq: 1, Positions: engine.Positions{in0: 1}, State: snap})
	st.Put(countStage, 0, connect.Snapshot{Seq: 2, Positions: engine.Positions{in0: 2}, State: snap})
	out.SetPositions(0, engine.Positions{in0: 5})
	for i := range 6 {
		src.Append(in0, connecttest.Rec("a", "x", int64(1000*i)))
	}
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: countGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		State: st, CheckpointInterval: time.Hour})
	err := rn.wait()
	if err == nil || !strings.Contains(err.Error(), "no stored state matches") || !strings.Contains(err.Error(), "task 0") {
		t.Fatalf("Run: %v, want the snapshot mismatch of task 0", err)
	}
	if c := out.CallsOf("Write"); len(c) > 0 {
		t.Fatalf("%d writes after a snapshot mismatch", len(c))
	}
	if c := out.CallsOf("Commit"); len(c) > 0 {
		t.Fatalf("%d commits after a snapshot mismatch", len(c))
	}
}

// TestSinkWithoutPositionsIgnoresSnapshots: an exactly-once sink with no
// positions for a task has no output of it: stored snapshots are not
// restored (they would count records the sink never saw).
func TestSinkWithoutPositionsIgnoresSnapshots(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	st := connecttest.NewState(nil)
	five := make([]*connect.Record, 5)
	for i := range five {
		five[i] = connecttest.Rec("a", "x", 1000)
	}
	st.Put(countStage, 0, connect.Snapshot{Seq: 1, Positions: engine.Positions{in0: 5}, State: snapshotOf(t, five...)})
	src.Append(in0, connecttest.Rec("a", "1", 2000), connecttest.Rec("z", "2", 20000))
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: countGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		State: st, CheckpointInterval: time.Hour})
	rn.until("both records processed", func() bool { return rn.r.Stats().In == 2 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	if res := src.Resumes(); len(res) != 1 || res[0].Positions[0] != nil {
		t.Fatalf("Assigned returned %+v, want no positions for task 0", res)
	}
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 1}; !equalCounts(got, want) {
		t.Fatalf("window counts %v, want %v (the stored snapshot ignored)", got, want)
	}
}

// TestAtLeastOnceCommitsFirstAndRestartsFromNewestSnapshot: with an
// at-least-once sink the order is the sink's commit, the snapshot, the
// source's commit; a process dying before the last finds the newest
// snapshot newer than the source's positions, and resumes from the
// snapshot's.
func TestAtLeastOnceCommitsFirstAndRestartsFromNewestSnapshot(t *testing.T) {
	t.Parallel()
	rig := newCountRig(connecttest.NewAtLeastOnceSink)
	j, src, out, cfg := rig.j, rig.src, rig.out, rig.cfg

	src.Push(connecttest.Assign(0))
	rn := startRun(t, cfg)
	src.Append(in0, connecttest.Rec("a", "1", 1000), connecttest.Rec("b", "2", 2000))
	rn.until("the first checkpoint", func() bool { return len(src.Commits()) == 1 })
	src.FailCommit(2, errCrash)
	src.Append(in0, connecttest.Rec("a", "3", 3000))
	if err := rn.wait(); !errors.Is(err, errCrash) {
		t.Fatalf("Run: %v, want the crash", err)
	}
	want := []string{"out.Commit", "state.Save", "source.Commit", "out.Commit", "state.Save", "source.Commit"}
	if got := j.Only("out.Commit", "state.Save", "source.Commit"); !slices.Equal(got, want) {
		t.Fatalf("commits and saves: %q, want %q", got, want)
	}
	if off, _ := src.Committed(in0); off != 2 {
		t.Fatalf("the source's position: %d, want 2", off)
	}

	src.Push(connecttest.Assign(0))
	rn = startRun(t, cfg)
	src.Append(in0, connecttest.Rec("a", "4", 4000), connecttest.Rec("c", "5", 12000))
	rn.until("the window's counts committed", func() bool { return len(out.Output(0)) >= 2 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	res := src.Resumes()
	requirePositions(t, "the restarted task resumes at", res[len(res)-1].Positions[0], engine.Positions{in0: 3})
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 3, "b@0": 1}; !equalCounts(got, want) {
		t.Fatalf("window counts %v, want %v", got, want)
	}
}

// TestAbortedCommitRollsBack: a commit the sink aborts (and after which
// the source reads again from the committed positions) puts the tasks
// back to their committed state, so that the records read again are
// counted once.
func TestAbortedCommitRollsBack(t *testing.T) {
	t.Parallel()
	rig := newCountRig(connecttest.NewExactlyOnceSink)
	src, out := rig.src, rig.out
	out.OnAbort(func() {
		for _, id := range src.Assigned() {
			src.Rewind(id, out.Positions(id))
		}
	})
	out.FailCommit(2, connect.ErrAborted)
	src.Push(connecttest.Assign(0, 1))
	rn := startRun(t, rig.cfg)

	src.Append(in0, connecttest.Rec("a", "1", 1000), connecttest.Rec("a", "2", 2000))
	rn.until("the first commit", func() bool { return len(out.Commits()) == 1 })
	// Task 1 gets its first records in the aborted transaction: it goes
	// back to no state at all.
	src.AppendEach(map[engine.Input][]*connect.Record{
		in0: {connecttest.Rec("a", "3", 3000), connecttest.Rec("b", "4", 4000)},
		in1: {connecttest.Rec("d", "5", 5000)},
	})
	rn.until("the commit after the aborted one", func() bool { return len(out.Commits()) == 2 })
	if n := src.Delivered(); n != 8 {
		t.Fatalf("the source delivered %d records, want 8: the 3 of the aborted commit twice", n)
	}
	src.Append(in0, connecttest.Rec("z", "6", 20000))
	src.Append(in1, connecttest.Rec("z", "7", 20000))
	rn.until("the windows' counts committed", func() bool { return len(out.Output(0)) >= 2 && len(out.Output(1)) >= 1 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 3, "b@0": 1}; !equalCounts(got, want) {
		t.Fatalf("task 0's window counts %v, want %v", got, want)
	}
	if got, want := windowCounts(t, out.Output(1)), map[string]int64{"d@0": 1}; !equalCounts(got, want) {
		t.Fatalf("task 1's window counts %v, want %v", got, want)
	}
	calls := out.CallsOf("Commit")
	if len(calls) < 3 || !errors.Is(calls[1].Err, connect.ErrAborted) {
		t.Fatalf("commits %+v, want the second aborted", calls)
	}
	requireCheckpoint(t, "the commit after the abort", calls[2].Checkpoint, connect.Checkpoint{0: {in0: 4}, 1: {in1: 1}})
	// The 3 records of the aborted commit were processed twice, and are
	// counted once; so are the windows written.
	st := rn.r.Stats()
	if written := len(out.Output(0)) + len(out.Output(1)); st.In != 7 || st.Written["out"] != int64(written) {
		t.Fatalf("stats %+v, want 7 in and %d written", st, written)
	}
}

// teeGraph writes every record of "in" to "a" and to "b".
func teeGraph() *engine.Graph {
	g := engine.NewGraph("tee")
	g.SetLogger(quiet)
	in := engine.From(g, "in", engine.String(), engine.String())
	engine.To(in, "a", engine.String(), engine.String())
	engine.To(in, "b", engine.String(), engine.String())
	return g
}

// TestSecondaryExactlyOnceSinkIsNotWrittenTwice: a stage with two
// exactly-once sinks commits the other one first; a process dying (or a
// transaction aborted) between that commit and the primary's leaves it
// ahead. The replay from the primary's positions does not write it again
// what it holds, nor moves its positions back.
func TestSecondaryExactlyOnceSinkIsNotWrittenTwice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fail error
	}{{"crash", errCrash}, {"abort", connect.ErrAborted}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := connecttest.NewSource(nil)
			a, b := connecttest.NewExactlyOnceSink("a", nil), connecttest.NewExactlyOnceSink("b", nil)
			b.OnAbort(func() {
				for _, id := range src.Assigned() {
					src.Rewind(id, b.Positions(id))
				}
			})
			cfg := connect.StageConfig{Graph: teeGraph(), Source: src, Sinks: map[string]connect.Sink{"a": a, "b": b},
				Primary: "b", CheckpointInterval: 5 * time.Millisecond}
			src.Push(connecttest.Assign(0))
			rn := startRun(t, cfg)
			src.Append(in0, connecttest.Rec("k", "1", 1), connecttest.Rec("k", "2", 2))
			rn.until("the first commit", func() bool { return len(b.Commits()) == 1 })
			b.FailCommit(2, tc.fail)
			src.Append(in0, connecttest.Rec("k", "3", 3))
			if tc.fail == errCrash {
				if err := rn.wait(); !errors.Is(err, errCrash) {
					t.Fatalf("Run: %v, want the crash", err)
				}
				requirePositions(t, "a, ahead", a.Positions(0), engine.Positions{in0: 3})
				requirePositions(t, "b, behind", b.Positions(0), engine.Positions{in0: 2})
				src.Push(connecttest.Assign(0))
				rn = startRun(t, cfg)
			}
			rn.until("the commit after the failed one", func() bool { return len(b.Commits()) >= 2 })
			src.Append(in0, connecttest.Rec("k", "4", 4))
			rn.until("record 4 committed", func() bool { return len(b.Output(0)) == 4 && len(a.Output(0)) >= 4 })
			if err := rn.stop(); err != nil {
				t.Fatal(err)
			}
			if n := src.Delivered(); n != 5 {
				t.Fatalf("the source delivered %d records, want 5: record 3 twice", n)
			}
			requireValues(t, "b", b.Output(0), "1", "2", "3", "4")
			requireValues(t, "a", a.Output(0), "1", "2", "3", "4")
			last := int64(0)
			for _, cp := range a.Commits() {
				if off := cp[0][in0]; off < last {
					t.Fatalf("a's commits %v: its positions went back", a.Commits())
				} else {
					last = off
				}
			}
		})
	}
}

// TestRevokedCommitsThenCloses: tasks taken away in a rebalance are
// committed, then closed in the sinks; their counters stay in Stats.
func TestRevokedCommitsThenCloses(t *testing.T) {
	t.Parallel()
	j := &connecttest.Journal{}
	src := connecttest.NewSource(j)
	out := connecttest.NewExactlyOnceSink("out", j)
	src.Append(in0, connecttest.Rec("k", "a", 1), connecttest.Rec("k", "b", 2), connecttest.Rec("k", "c", 3))
	src.Append(in1, connecttest.Rec("k", "d", 1), connecttest.Rec("k", "e", 2))
	src.Push(connecttest.Assign(0, 1))
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour})
	rn.until("5 records processed", func() bool { return rn.r.Stats().In == 5 })
	src.Push(connecttest.Revoke(0))
	rn.until("task 0 closed", func() bool { return j.Index("out.CloseTask(0)") >= 0 })
	requireOrder(t, j, "source.Revoked([0])", "out.Commit", "source.Commit", "out.CloseTask(0)")
	commits := out.Commits()
	if len(commits) != 1 {
		t.Fatalf("%d commits, want 1", len(commits))
	}
	requireCheckpoint(t, "the commit before the revocation", commits[0], connect.Checkpoint{0: {in0: 3}, 1: {in1: 2}})
	requireValues(t, "task 0's output", out.Output(0), "A", "B", "C")
	if s := rn.r.Stats(); s.Tasks != 1 || s.In != 5 || s.Out != 5 || s.Checkpoints != 1 {
		t.Fatalf("stats after the revocation %+v, want 1 task, 5 in, 5 out, 1 checkpoint", s)
	}
	src.Append(in1, connecttest.Rec("k", "f", 3))
	rn.until("task 1's next record", func() bool { return rn.r.Stats().In == 6 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	requireValues(t, "task 1's output", out.Output(1), "D", "E", "F")
	if n := j.Count("out.CloseTask(0)"); n != 1 {
		t.Fatalf("task 0 closed %d times", n)
	}
}

// TestLostDropsWithoutCommitting: tasks lost (the group session expired)
// are closed without a commit, their uncommitted work dropped; assigned
// again, they read again from the sink's positions and write their
// output once.
func TestLostDropsWithoutCommitting(t *testing.T) {
	t.Parallel()
	j := &connecttest.Journal{}
	src := connecttest.NewSource(j)
	out := connecttest.NewExactlyOnceSink("out", j)
	src.Append(in0, connecttest.Rec("k", "a", 1), connecttest.Rec("k", "b", 2), connecttest.Rec("k", "c", 3))
	src.Append(in1, connecttest.Rec("k", "d", 1))
	src.Push(connecttest.Assign(0, 1))
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour})
	rn.until("4 records processed", func() bool { return rn.r.Stats().In == 4 })
	src.Push(connecttest.Lose(0))
	rn.until("task 0 closed", func() bool { return j.Index("out.CloseTask(0)") >= 0 })
	if n := j.Count("out.Commit") + j.Count("source.Commit"); n != 0 {
		t.Fatalf("%d commits for a lost task", n)
	}
	if p := out.Pending(0); len(p) != 0 {
		t.Fatalf("the lost task's writes are still pending: %q", values(p))
	}
	// The lost task's work is not counted: it is done again, here.
	if s := rn.r.Stats(); s.Tasks != 1 || s.In != 1 {
		t.Fatalf("stats after the loss %+v, want 1 task and 1 in", s)
	}
	src.Push(connecttest.Assign(0))
	rn.until("task 0 read again", func() bool { return rn.r.Stats().In == 4 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	requireValues(t, "task 0's output", out.Output(0), "A", "B", "C")
	requireValues(t, "task 1's output", out.Output(1), "D")
	commits := out.Commits()
	if len(commits) != 1 {
		t.Fatalf("%d commits, want 1 (the one at the stop)", len(commits))
	}
	requireCheckpoint(t, "the commit", commits[0], connect.Checkpoint{0: {in0: 3}, 1: {in1: 1}})
}

// TestStats: Stats sums the counters of the tasks, keeps those of revoked
// tasks, gives the lowest watermark and the source's lag.
func TestStats(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	src.Push(connecttest.Assign(0, 1))
	rn := startRun(t, connect.StageConfig{Graph: countGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		State: connecttest.NewState(nil), CheckpointInterval: time.Hour})
	if s := rn.r.Stats(); s.Watermark != math.MinInt64 || s.In != 0 || s.Lag != 0 {
		t.Fatalf("stats before any record %+v, want no watermark, nothing in, no lag", s)
	}
	src.AppendEach(map[engine.Input][]*connect.Record{
		in0: {
			connecttest.Rec("a", "1", 1000), connecttest.Rec("a", "2", 5000),
			connecttest.Rec("a", "3", 15000), // closes [0s, 10s)
			connecttest.Rec("a", "4", 2000),  // late
		},
		in1: {connecttest.Rec("b", "5", 3000)},
	})
	// What the sink took is counted once committed.
	rn.until("5 records processed", func() bool { s := rn.r.Stats(); return s.In == 5 && s.Out == 1 })
	want := connect.Stats{Tasks: 2, In: 5, Out: 1, Late: 1, Watermark: 3000, Lag: 0, Written: map[string]int64{"out": 0}}
	if s := rn.r.Stats(); !reflect.DeepEqual(s, want) {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
	src.SetLag(map[connect.TaskID]int64{0: 4, 1: 6})
	if s := rn.r.Stats(); s.Lag != 10 {
		t.Fatalf("lag %d, want 10", s.Lag)
	}
	src.SetLag(map[connect.TaskID]int64{0: 4, 1: -1})
	if s := rn.r.Stats(); s.Lag != -1 {
		t.Fatalf("lag %d, want -1 (unknown for task 1)", s.Lag)
	}
	src.SetLag(nil)
	src.Push(connecttest.Revoke(1))
	rn.until("task 1 revoked", func() bool { return rn.r.Stats().Tasks == 1 })
	want = connect.Stats{Tasks: 1, In: 5, Out: 1, Late: 1, Watermark: 15000, Lag: 0, Checkpoints: 1, Written: map[string]int64{"out": 1}}
	if s := rn.r.Stats(); !reflect.DeepEqual(s, want) {
		t.Fatalf("stats after revoking task 1 %+v, want %+v", s, want)
	}
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestDeadLetter: a record that cannot be decoded goes to the dead-letter
// output, with the error and its position in headers, and the stage goes
// on; the dead-letter sink commits before the primary one.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	j := &connecttest.Journal{}
	src := connecttest.NewSource(j)
	out := connecttest.NewExactlyOnceSink("out", j)
	dlq := connecttest.NewAtLeastOnceSink("dlq", j)
	src.Append(in0, connecttest.Rec("k", "1", 1), connecttest.Rec("k", "x", 2), connecttest.Rec("k", "3", 3))
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{
		Graph:  doubleGraph(engine.ErrorPolicy{Mode: engine.DeadLetter, DeadLetter: "dlq"}),
		Source: src, Sinks: map[string]connect.Sink{"out": out, "dlq": dlq}, CheckpointInterval: time.Hour})
	rn.until("3 records processed", func() bool { return rn.r.Stats().In == 3 })
	if s := rn.r.Stats(); s.DeadLettered != 1 {
		t.Fatalf("%d dead letters, want 1", s.DeadLettered)
	}
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	requireValues(t, "the output", out.Output(0), "2", "6")
	requirePositions(t, "the primary's positions", out.Positions(0), engine.Positions{in0: 3})
	dead := dlq.Output(0)
	requireValues(t, "the dead letters", dead, "x")
	for h, want := range map[string]string{
		engine.HeaderOperator: "in", engine.HeaderTopic: "in", engine.HeaderPartition: "0", engine.HeaderOffset: "1",
	} {
		if v, _ := dead[0].Header(h); string(v) != want {
			t.Errorf("dead letter header %s: %q, want %q", h, v, want)
		}
	}
	if v, _ := dead[0].Header(engine.HeaderError); !strings.Contains(string(v), "not an integer") {
		t.Errorf("dead letter error header %q", v)
	}
	requireOrder(t, j, "dlq.Commit", "out.Commit")
}

// TestFailPolicyStops: under the Fail policy a record that cannot be
// decoded stops the stage with an *engine.RecordError naming it, and
// nothing after the last checkpoint is committed: not even when the
// source, closing, revokes its tasks.
func TestFailPolicyStops(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	src.Append(in0, connecttest.Rec("k", "1", 1), connecttest.Rec("k", "x", 2), connecttest.Rec("k", "3", 3))
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: doubleGraph(engine.ErrorPolicy{}), Source: src,
		Sinks: map[string]connect.Sink{"out": out}, CheckpointInterval: time.Hour})
	err := rn.wait()
	var re *engine.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("Run: %v, want an *engine.RecordError", err)
	}
	if re.Pos.Input != in0 || re.Pos.Offset != 1 || re.Operator != "in" {
		t.Fatalf("the record error names %s at %+v, want in at in/0 offset 1", re.Operator, re.Pos)
	}
	// Record 0 was processed, record 1 failed before the outputs of the
	// batch were written: committing now would lose record 0.
	requireConsistent(t, src, out)
	if c := out.Commits(); len(c) != 0 {
		t.Fatalf("commits after a failed record: %v", c)
	}
}

// TestFailedWriteCommitsNothing: a sink's Write failing stops the stage;
// the records of that write are not committed as processed, whatever
// happens to the source afterwards (closing it revokes its tasks).
func TestFailedWriteCommitsNothing(t *testing.T) {
	t.Parallel()
	errDisk := errors.New("disk full")
	for _, d := range []connect.Delivery{connect.ExactlyOnce, connect.AtLeastOnce} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			src := connecttest.NewSource(nil)
			out := connecttest.NewExactlyOnceSink("out", nil)
			if d == connect.AtLeastOnce {
				out = connecttest.NewAtLeastOnceSink("out", nil)
			}
			out.FailWrite(2, errDisk)
			src.Push(connecttest.Assign(0))
			rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src,
				Sinks: map[string]connect.Sink{"out": out}, CheckpointInterval: time.Hour})
			src.Append(in0, connecttest.Rec("k", "a", 1), connecttest.Rec("k", "b", 2))
			rn.until("the first write", func() bool { return len(out.CallsOf("Write")) == 1 })
			src.Append(in0, connecttest.Rec("k", "c", 3))
			if err := rn.wait(); !errors.Is(err, errDisk) {
				t.Fatalf("Run: %v, want the write's error", err)
			}
			requireConsistent(t, src, out)
		})
	}
}

// TestEndOfInputCommits: a bounded source's end stops Run, which commits
// first and returns nil.
func TestEndOfInputCommits(t *testing.T) {
	t.Parallel()
	j := &connecttest.Journal{}
	src := connecttest.NewSource(j)
	out := connecttest.NewExactlyOnceSink("out", j)
	src.Append(in0, connecttest.Rec("k", "a", 1), connecttest.Rec("k", "b", 2))
	src.Append(in1, connecttest.Rec("k", "c", 1))
	src.Push(connecttest.Assign(0, 1), connecttest.EndOfInput())
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour})
	if err := rn.wait(); err != nil {
		t.Fatalf("Run at the end of the input: %v", err)
	}
	requireValues(t, "task 0's output", out.Output(0), "A", "B")
	requireValues(t, "task 1's output", out.Output(1), "C")
	requireCheckpoint(t, "the sink's commit", out.Commits()[0], connect.Checkpoint{0: {in0: 2}, 1: {in1: 1}})
	requireOrder(t, j, "out.Commit", "source.Commit", "source.Close")
}

// TestCancelCommits: the end of Run's context stops it; it commits first
// and returns nil.
func TestCancelCommits(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewAtLeastOnceSink("out", nil)
	st := connecttest.NewState(nil)
	src.Append(in0, connecttest.Rec("a", "1", 1000), connecttest.Rec("a", "2", 12000))
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: countGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		State: st, CheckpointInterval: time.Hour})
	rn.until("2 records processed", func() bool { return rn.r.Stats().In == 2 })
	if n := len(out.Commits()); n != 0 {
		t.Fatalf("%d commits before the stop with an interval of an hour", n)
	}
	if err := rn.stop(); err != nil {
		t.Fatalf("Run after its context was canceled: %v", err)
	}
	if got, want := windowCounts(t, out.Output(0)), map[string]int64{"a@0": 1}; !equalCounts(got, want) {
		t.Fatalf("window counts %v, want %v", got, want)
	}
	if off, ok := src.Committed(in0); !ok || off != 2 {
		t.Fatalf("the source's position: %d, want 2", off)
	}
	if s := st.Snapshots(countStage, 0); len(s) != 1 || !s[0].Positions.Equal(engine.Positions{in0: 2}) {
		t.Fatalf("stored snapshots %+v, want one at in/0 2", s)
	}
}

// A stop while a slow sink is writing (issue 12: SIGTERM ended a run in
// 31 ms without committing what it had written since the last commit):
// the write is not cut short by the stop, the batch is processed, and
// everything is committed before Run returns nil. Progress (Stats) does
// not wait for the slow sink meanwhile.
func TestStopLetsASlowSinkFinishAndCommits(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	writing, release := make(chan struct{}, 1), make(chan struct{})
	out.SetWriteHook(func(ctx context.Context) error {
		select {
		case writing <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done(): // a sink honours its context, as pgx does
			return ctx.Err()
		}
	})
	src.Append(in0, connecttest.Rec("a", "x", 1), connecttest.Rec("a", "y", 2))
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour})
	<-writing
	// The runner is inside the sink's Write: Stats answers all the same.
	statsDone := make(chan connect.Stats)
	go func() { statsDone <- rn.r.Stats() }()
	select {
	case s := <-statsDone:
		if s.In != 2 || s.Tasks != 1 {
			t.Errorf("stats during the write %+v, want 2 in, 1 task", s)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Stats waited for the sink's Write")
	}
	rn.cancel() // the stop (SIGTERM)
	close(release)
	if err := rn.wait(); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}
	requireValues(t, "committed output", out.Output(0), "X", "Y")
	requireCheckpoint(t, "the commit", out.Commits()[len(out.Commits())-1], connect.Checkpoint{0: {in0: 2}})
	if s := rn.r.Stats(); s.Written["out"] != 2 {
		t.Fatalf("written %v, want 2 to out", s.Written)
	}
}

// A stop that cannot commit within StopTimeout (a sink that never
// finishes) fails with ErrStopTimeout, saying what is not committed.
func TestStopTimeoutSaysWhatWasNotCommitted(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	writing := make(chan struct{}, 1)
	out.SetWriteHook(func(ctx context.Context) error {
		select {
		case writing <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	})
	src.Append(in0, connecttest.Rec("a", "x", 1), connecttest.Rec("a", "y", 2))
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour, StopTimeout: 50 * time.Millisecond})
	<-writing
	err := rn.stop()
	if !errors.Is(err, connect.ErrStopTimeout) || !strings.Contains(err.Error(), "in[0] offsets 0 to 1") {
		t.Fatalf("Run after a stop that could not commit: %v; want ErrStopTimeout naming in[0] offsets 0 to 1", err)
	}
	if n := len(out.Output(0)); n != 0 {
		t.Fatalf("%d records committed", n)
	}
	t.Log(err)
}

// TestRollerTriggersCheckpoint: a sink that wants a commit gets one
// before the interval is up.
func TestRollerTriggersCheckpoint(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	out.SetRollAfter(3)
	src.Push(connecttest.Assign(0))
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour})
	src.Append(in0, connecttest.Rec("k", "a", 1), connecttest.Rec("k", "b", 2))
	rn.until("2 records processed", func() bool { return rn.r.Stats().In == 2 })
	src.Append(in0, connecttest.Rec("k", "c", 3))
	rn.until("a commit at the sink's request", func() bool { return len(out.Commits()) == 1 })
	requireCheckpoint(t, "the rolled commit", out.Commits()[0], connect.Checkpoint{0: {in0: 3}})
	if s := rn.r.Stats(); s.Checkpoints != 1 {
		t.Fatalf("%d checkpoints, want 1", s.Checkpoints)
	}
	src.Append(in0, connecttest.Rec("k", "d", 4))
	rn.until("4 records processed", func() bool { return rn.r.Stats().In == 4 })
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	commits := out.Commits()
	if len(commits) != 2 {
		t.Fatalf("%d commits, want 2: the sink's request and the stop", len(commits))
	}
	requireValues(t, "the output", out.Output(0), "A", "B", "C", "D")
}

// TestSourceErrorStops: an error of the source stops Run with it.
func TestSourceErrorStops(t *testing.T) {
	t.Parallel()
	src := connecttest.NewSource(nil)
	out := connecttest.NewExactlyOnceSink("out", nil)
	errBroken := errors.New("broken")
	src.Append(in0, connecttest.Rec("k", "a", 1))
	src.Push(connecttest.Assign(0), connecttest.Fail(errBroken))
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": out},
		CheckpointInterval: time.Hour})
	if err := rn.wait(); !errors.Is(err, errBroken) {
		t.Fatalf("Run: %v, want the source's error", err)
	}
	requireConsistent(t, src, out)
}

// TestNewRunnerChecks: NewRunner refuses a configuration it cannot run.
func TestNewRunnerChecks(t *testing.T) {
	t.Parallel()
	eos := func() connect.Sink { return connecttest.NewExactlyOnceSink("s", nil) }
	src := connecttest.NewSource(nil)
	branches := func() *engine.Graph {
		g := engine.NewGraph("two")
		in := engine.From(g, "in", engine.String(), engine.String())
		engine.To(in, "a", engine.String(), engine.String())
		engine.To(in, "b", engine.String(), engine.String())
		return g
	}
	for _, tc := range []struct {
		name string
		cfg  connect.StageConfig
		err  string // "" when valid
	}{
		{"valid", connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": eos()}}, ""},
		{"no stage", connect.StageConfig{Graph: upperGraph(), Stage: 1, Source: src, Sinks: map[string]connect.Sink{"out": eos()}}, "has no stage 1"},
		{"no source", connect.StageConfig{Graph: upperGraph(), Sinks: map[string]connect.Sink{"out": eos()}}, "no source bound"},
		{"unbound output", connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"other": eos()}}, `no sink bound to the output "out"`},
		{"stateful without state", connect.StageConfig{Graph: countGraph(), Source: src, Sinks: map[string]connect.Sink{"out": eos()}}, "needs a state store"},
		{"two exactly-once sinks", connect.StageConfig{Graph: branches(), Source: src, Sinks: map[string]connect.Sink{"a": eos(), "b": eos()}}, ""},
		{"two named", connect.StageConfig{Graph: branches(), Source: src, Sinks: map[string]connect.Sink{"a": eos(), "b": eos()}, Primary: "b"}, ""},
		{"primary not an output", connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": eos()}, Primary: "x"}, `"x" is not an output`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := connect.NewRunner(tc.cfg)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("NewRunner: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("NewRunner: %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestSinkRejections: records a sink refuses, at Write or at Prepare, go
// to the error policy with the reason: the dead letter (in the same
// checkpoint, committed before the primary), a skip, or a stop; the other
// records are committed, each once.
func TestSinkRejections(t *testing.T) {
	t.Parallel()
	tooBig := func(r *connect.Record) error {
		if len(r.Value) > 1 {
			return fmt.Errorf("value %s does not fit the column", r.Value)
		}
		return nil
	}
	for _, tc := range []struct {
		name    string
		prepare bool
		mode    engine.ErrorMode
	}{
		{"write/dead letter", false, engine.DeadLetter},
		{"prepare/dead letter", true, engine.DeadLetter},
		{"write/skip", false, engine.Skip},
		{"prepare/skip", true, engine.Skip},
		{"write/fail", false, engine.Fail},
		{"prepare/fail", true, engine.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := &connecttest.Journal{}
			src := connecttest.NewSource(j)
			var out connect.Sink
			var outputOf func(connect.TaskID) []*connect.Record
			if tc.prepare {
				s := connecttest.NewPreparingSink("out", j)
				s.Reject(tooBig)
				out, outputOf = s, s.Output
			} else {
				s := connecttest.NewExactlyOnceSink("out", j)
				s.Reject(tooBig)
				out, outputOf = s, s.Output
			}
			dlq := connecttest.NewAtLeastOnceSink("dlq", j)
			policy := engine.ErrorPolicy{Mode: tc.mode}
			sinks := map[string]connect.Sink{"out": out}
			if tc.mode == engine.DeadLetter {
				policy.DeadLetter, sinks["dlq"] = "dlq", dlq
			}
			// Doubled: 2, 14 (refused), 6, 18 (refused).
			src.Append(in0, connecttest.Rec("k", "1", 1), connecttest.Rec("k", "7", 2), connecttest.Rec("k", "3", 3), connecttest.Rec("k", "9", 4))
			src.Push(connecttest.Assign(0))
			rn := startRun(t, connect.StageConfig{Graph: doubleGraph(policy), Source: src, Sinks: sinks, CheckpointInterval: time.Hour})
			if tc.mode == engine.Fail {
				// A refusal at Write stops the stage at once; one at
				// Prepare, at the checkpoint of the stop.
				var err error
				if tc.prepare {
					rn.until("the input read", func() bool { return rn.r.Stats().In == 4 })
					err = rn.stop()
				} else {
					err = rn.wait()
				}
				if err == nil || !strings.Contains(err.Error(), "value 14 does not fit the column") {
					t.Fatalf("Run: %v, want the reason of the refusal", err)
				}
				if got := outputOf(0); len(got) != 0 {
					t.Fatalf("committed %q after a refusal under Fail", values(got))
				}
				return
			}
			rn.until("4 records processed", func() bool { return rn.r.Stats().In == 4 })
			if err := rn.stop(); err != nil {
				t.Fatal(err)
			}
			requireValues(t, "the output", outputOf(0), "2", "6")
			st := rn.r.Stats()
			if tc.mode == engine.Skip {
				if st.Skipped != 2 || st.DeadLettered != 0 {
					t.Fatalf("stats %+v, want 2 skipped", st)
				}
				return
			}
			if st.DeadLettered != 2 {
				t.Fatalf("stats %+v, want 2 dead letters", st)
			}
			dead := dlq.Output(0)
			requireValues(t, "the dead letters", dead, "14", "18")
			for i, off := range []string{"1", "3"} {
				for h, want := range map[string]string{
					engine.HeaderOperator: "sink out", engine.HeaderTopic: "in", engine.HeaderPartition: "0", engine.HeaderOffset: off,
				} {
					if v, _ := dead[i].Header(h); string(v) != want {
						t.Errorf("dead letter %d header %s: %q, want %q", i, h, v, want)
					}
				}
				if v, _ := dead[i].Header(engine.HeaderError); !strings.Contains(string(v), "does not fit the column") {
					t.Errorf("dead letter %d error header %q", i, v)
				}
			}
			requireOrder(t, j, "dlq.Commit", "out.Commit")
			if tc.prepare {
				requireOrder(t, j, "out.Prepare", "dlq.Commit")
			}
		})
	}
}
