package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/enginetest"
)

// newDriver returns a driver of g, failing the test on error.
func newDriver(t *testing.T, g *engine.Graph) *enginetest.Driver {
	t.Helper()
	d, err := enginetest.New(g)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err's text contains want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got error %v, want one containing %q", err, want)
	}
}

// countsGraph counts records per key in tumbling windows of 10s, to
// "out", late records to "late".
func countsGraph(name string) *engine.Graph {
	g := engine.NewGraph(name)
	in := engine.From(g, "in", engine.String(), engine.Int64())
	w := engine.Window(in, engine.Tumbling(10*time.Second))
	engine.To(engine.Aggregate(w, engine.Count[int64](), engine.Name("counts")), "out",
		engine.JSON[engine.WindowKey[string]](), engine.Int64())
	engine.To(w.Late(), "late", engine.String(), engine.Int64())
	return g
}

var errRefused = errors.New("refused")

func TestFailPolicyReturnsRecordError(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("fail")
	in := engine.From(g, "in", engine.String(), engine.Int64())
	m := engine.Map(in, func(r engine.Record[string, int64]) (int64, error) {
		if r.Value < 0 {
			return 0, errRefused
		}
		return r.Value, nil
	}, engine.Name("positive"))
	engine.To(m, "out", engine.String(), engine.Int64())
	d := newDriver(t, g)
	noErr(t, d.SendAt("in", 2, []byte("a"), []byte("1"), 10))
	noErr(t, d.SendAt("in", 2, []byte("a"), []byte("2"), 20))
	err := d.SendAt("in", 2, []byte("a"), []byte("-1"), 30)
	var re *engine.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("got %T %v, want a *engine.RecordError", err, err)
	}
	want := engine.Pos{Input: engine.Input{Stream: "in", Partition: 2}, Offset: 2, Next: 3}
	if re.Operator != "positive" || re.Pos != want {
		t.Errorf("got operator %q at %+v, want positive at %+v", re.Operator, re.Pos, want)
	}
	if !errors.Is(err, errRefused) {
		t.Errorf("%v does not unwrap to the map's error", err)
	}
	if got, want := err.Error(), "positive: record at in/2 offset 2: refused"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if n := len(d.Output("out")); n != 2 {
		t.Errorf("%d records reached the output before the failure, want 2", n)
	}

	// A decode error names the source.
	d = newDriver(t, g)
	err = d.Send("in", []byte("a"), []byte("x"), 0)
	if !errors.As(err, &re) || re.Operator != "in" || re.Pos.Offset != 0 {
		t.Fatalf("got %v, want a RecordError of the source in at offset 0", err)
	}
	wantErr(t, err, `decoding value: not an integer: "x"`)
}

func TestDeadLetterWithoutOutputFails(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("dl")
	g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.DeadLetter})
	engine.To(engine.From(g, "in", engine.String(), engine.Int64()), "out", engine.String(), engine.Int64())
	d := newDriver(t, g)
	err := d.Send("in", []byte("a"), []byte("x"), 0)
	if !errors.Is(err, engine.ErrNoDeadLetter) {
		t.Fatalf("got %v, want ErrNoDeadLetter", err)
	}
	var re *engine.RecordError
	if !errors.As(err, &re) || re.Operator != "in" {
		t.Fatalf("got %v, want a RecordError of in", err)
	}
}

// logRecorder is a slog handler keeping what it is given.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func TestSkipPolicyLogsAndCounts(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("skip")
	logs := &logRecorder{}
	g.SetLogger(slog.New(logs))
	g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.Skip})
	in := engine.From(g, "in", engine.String(), engine.Int64())
	engine.To(engine.Map(in, func(r engine.Record[string, int64]) (int64, error) { return 0, errRefused }, engine.Name("m")),
		"out", engine.String(), engine.Int64())
	d := newDriver(t, g)
	noErr(t, d.SendAt("in", 1, []byte("a"), []byte("1"), 0))
	noErr(t, d.SendAt("in", 1, []byte("a"), []byte("y"), 0))
	if n := d.Task().Metrics().Skipped.Load(); n != 2 {
		t.Errorf("skipped %d, want 2", n)
	}
	want := []string{
		"WARN skipping a record operator=m topic=in partition=1 offset=0 err=refused",
		`WARN skipping a record operator=in topic=in partition=1 offset=1 err=decoding value: not an integer: "y"`,
	}
	if strings.Join(logs.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(logs.lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestProcessUnknownSource(t *testing.T) {
	t.Parallel()
	d := newDriver(t, countsGraph("g"))
	wantErr(t, d.Send("nope", nil, []byte("1"), 0), `engine: task 0 of g reads no source "nope"`)
}

func TestRestoreRejectsUnknownOperator(t *testing.T) {
	t.Parallel()
	d := newDriver(t, countsGraph("g"))
	noErr(t, d.Send("in", []byte("a"), []byte("1"), 1000))
	snap, err := d.Task().Snapshot()
	noErr(t, err)

	// The same graph with the window renamed: its state has no owner.
	g2 := engine.NewGraph("g")
	in := engine.From(g2, "in", engine.String(), engine.Int64())
	w := engine.Window(in, engine.Tumbling(10*time.Second))
	engine.To(engine.Aggregate(w, engine.Count[int64](), engine.Name("renamed")), "out",
		engine.JSON[engine.WindowKey[string]](), engine.Int64())
	d2 := newDriver(t, g2)
	wantErr(t, d2.Task().Restore(snap), `the snapshot holds state of operator "counts", which the graph no longer has`)

	// A graph without state rejects it too.
	g3 := engine.NewGraph("g")
	engine.To(engine.From(g3, "in", engine.String(), engine.Int64()), "out", engine.String(), engine.Int64())
	d3 := newDriver(t, g3)
	if d3.Task().Stateful() {
		t.Error("a graph without windows is stateful")
	}
	wantErr(t, d3.Task().Restore(snap), `operator "counts"`)
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ snap, err string }{
		{`not json`, "engine: decoding snapshot"},
		{`{"v":2,"operators":{}}`, "engine: snapshot version 2 is not supported"},
		{`{"operators":{}}`, "engine: snapshot version 0 is not supported"},
		{`{"v":1,"operators":{"counts":"nope"}}`, "engine: restoring counts"},
	} {
		d := newDriver(t, countsGraph("g"))
		wantErr(t, d.Task().Restore([]byte(c.snap)), c.err)
	}
}

func TestRestoreWithoutOperatorStartsEmpty(t *testing.T) {
	t.Parallel()
	d := newDriver(t, countsGraph("g"))
	noErr(t, d.Task().Restore([]byte(`{"v":1,"operators":{}}`)))
	noErr(t, d.Send("in", []byte("a"), []byte("1"), 1000))
	noErr(t, d.Close())
	if n := len(d.Output("out")); n != 1 {
		t.Errorf("%d results, want 1", n)
	}
}

func TestSnapshotIsJSONByOperator(t *testing.T) {
	t.Parallel()
	d := newDriver(t, countsGraph("g"))
	if !d.Task().Stateful() {
		t.Fatal("a graph with a window is not stateful")
	}
	noErr(t, d.Send("in", []byte("a"), []byte("1"), 1000))
	snap, err := d.Task().Snapshot()
	noErr(t, err)
	var s struct {
		V         int                        `json:"v"`
		Operators map[string]json.RawMessage `json:"operators"`
	}
	noErr(t, json.Unmarshal(snap, &s))
	if s.V != 1 || len(s.Operators) != 1 || s.Operators["counts"] == nil {
		t.Errorf("snapshot %s: want version 1 and the state of counts", snap)
	}
}

func TestNewTaskStages(t *testing.T) {
	t.Parallel()
	g := countsGraph("g")
	if _, err := g.NewTask(1, 0, engine.OutputFunc(func(string, *engine.Raw) {})); err == nil {
		t.Error("NewTask of stage 1 of a one-stage graph succeeded")
	}
	if _, err := g.NewTask(-1, 0, engine.OutputFunc(func(string, *engine.Raw) {})); err == nil {
		t.Error("NewTask of stage -1 succeeded")
	}
	task, err := g.NewTask(0, 7, engine.OutputFunc(func(string, *engine.Raw) {}))
	noErr(t, err)
	if task.ID() != 7 || !task.Stateful() {
		t.Errorf("task %d stateful=%t, want 7 and stateful", task.ID(), task.Stateful())
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	d := newDriver(t, countsGraph("g"))
	m := d.Task().Metrics()
	if wm := m.Watermark.Load(); wm != math.MinInt64 {
		t.Errorf("watermark %d before any record, want MinInt64", wm)
	}
	noErr(t, d.Send("in", []byte("a"), []byte("1"), 12000))
	noErr(t, d.Send("in", []byte("a"), []byte("1"), 1000)) // late
	noErr(t, d.Watermark(20000))
	if got := [4]int64{m.In.Load(), m.Out.Load(), m.Late.Load(), m.Watermark.Load()}; got != [4]int64{2, 2, 1, 20000} {
		t.Errorf("in, out, late, watermark = %v, want [2 2 1 20000]", got)
	}
}
