package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/enginetest"
)

// event is a test record of the typed tests: a word and a number.
type event struct {
	Word string `json:"word"`
	N    int    `json:"n"`
}

func readAll[K, V any](t *testing.T, d *enginetest.Driver, name string, keys engine.Serde[K], values engine.Serde[V]) []engine.Record[K, V] {
	t.Helper()
	rs, err := enginetest.Read(d, name, keys, values)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestStatelessOperators(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("ops")
	in := engine.From(g, "in", engine.String(), engine.JSON[event]())
	var peeked []string
	s := engine.Filter(in, func(r engine.Record[string, event]) bool { return r.Value.N > 0 })
	words := engine.FlatMap(s, func(r engine.Record[string, event]) ([]string, error) {
		return strings.Fields(r.Value.Word), nil
	})
	words = engine.Peek(words, func(r engine.Record[string, string]) { peeked = append(peeked, r.Value) })
	lens := engine.Map(words, func(r engine.Record[string, string]) (int64, error) { return int64(len(r.Value)), nil })
	lens = engine.WithTime(lens, func(r engine.Record[string, int64]) (int64, error) { return r.Time * 10, nil })
	engine.To(lens, "out", engine.String(), engine.Int64())
	d := newDriver(t, g)
	noErr(t, d.SendRaw("in", &engine.Raw{Key: []byte("k1"), Value: []byte(`{"word":"to be","n":1}`), Time: 5,
		Headers: []engine.Header{{Key: "h", Value: []byte("v")}},
		Pos:     engine.Pos{Input: engine.Input{Stream: "in", Partition: 3}, Offset: 40, Next: 41}}))
	noErr(t, d.Send("in", []byte("k2"), []byte(`{"word":"dropped","n":0}`), 6))
	noErr(t, d.Send("in", []byte("k3"), []byte(`{"word":"","n":2}`), 7))
	got := readAll(t, d, "out", engine.String(), engine.Int64())
	if len(got) != 2 {
		t.Fatalf("got %d records, want 2: %+v", len(got), got)
	}
	for i, want := range []int64{2, 2} {
		r := got[i]
		if r.Key != "k1" || r.Value != want || r.Time != 50 || r.Pos.Offset != 40 || r.Pos.Partition != 3 {
			t.Errorf("record %d: %+v", i, r)
		}
		if v, ok := r.Header("h"); !ok || string(v) != "v" {
			t.Errorf("record %d lost its header: %+v", i, r.Headers)
		}
	}
	if !slices.Equal(peeked, []string{"to", "be"}) {
		t.Errorf("peeked %q", peeked)
	}
}

func TestMapRecordKeepsPosition(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("maprecord")
	in := engine.From(g, "in", engine.String(), engine.Int64())
	out := engine.MapRecord(in, func(r engine.Record[string, int64]) (engine.Record[int64, string], error) {
		return engine.Record[int64, string]{
			Key: r.Value, Value: strings.ToUpper(r.Key), Time: 99,
			Headers: []engine.Header{{Key: "x", Value: []byte("1")}},
			Pos:     engine.Pos{Offset: 12345}, // ignored: the source position is kept
		}, nil
	})
	engine.To(out, "out", engine.Int64(), engine.String())
	d := newDriver(t, g)
	noErr(t, d.Send("in", []byte("abc"), []byte("7"), 1))
	got := readAll(t, d, "out", engine.Int64(), engine.String())
	if len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
	r := got[0]
	if r.Key != 7 || r.Value != "ABC" || r.Time != 99 || r.Pos.Offset != 0 || r.Pos.Stream != "in" || len(r.Headers) != 1 {
		t.Errorf("got %+v", r)
	}
}

func TestOperatorErrorsGoToPolicy(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	build := func(g *engine.Graph) {
		in := engine.From(g, "in", engine.String(), engine.Int64())
		s := engine.MapRecord(in, func(r engine.Record[string, int64]) (engine.Record[string, int64], error) {
			if r.Value == 1 {
				return r, boom
			}
			return r, nil
		}, engine.Name("maprecord"))
		s = engine.FlatMap(s, func(r engine.Record[string, int64]) ([]int64, error) {
			if r.Value == 2 {
				return nil, boom
			}
			return []int64{r.Value}, nil
		}, engine.Name("flatmap"))
		s = engine.WithTime(s, func(r engine.Record[string, int64]) (int64, error) {
			if r.Value == 3 {
				return 0, boom
			}
			return r.Time, nil
		}, engine.Name("withtime"))
		engine.To(s, "out", engine.String(), engine.Int64())
	}
	g := engine.NewGraph("errs")
	g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.DeadLetter, DeadLetter: "dlq"})
	build(g)
	d := newDriver(t, g)
	for v := 1; v <= 4; v++ {
		noErr(t, d.SendAt("in", 5, []byte("k"), []byte(strconv.Itoa(v)), int64(v)))
	}
	if n := len(d.Output("out")); n != 1 {
		t.Errorf("%d records passed, want 1", n)
	}
	dl := d.Output("dlq")
	if len(dl) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dl))
	}
	for i, op := range []string{"maprecord", "flatmap", "withtime"} {
		r := dl[i]
		want := map[string]string{
			engine.HeaderError:     "boom",
			engine.HeaderOperator:  op,
			engine.HeaderTopic:     "in",
			engine.HeaderPartition: "5",
			engine.HeaderOffset:    strconv.Itoa(i),
		}
		for k, v := range want {
			if got, ok := r.Header(k); !ok || string(got) != v {
				t.Errorf("dead letter %d: header %s = %q, want %q", i, k, got, v)
			}
		}
		if string(r.Value) != strconv.Itoa(i+1) || r.Pos.Offset != int64(i) {
			t.Errorf("dead letter %d is not the source record: %+v", i, r)
		}
	}
	if n := d.Task().Metrics().DeadLettered.Load(); n != 3 {
		t.Errorf("DeadLettered = %d, want 3", n)
	}
}

func TestBranchDefaultAndMerge(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("branch")
	in := engine.From(g, "in", engine.String(), engine.Int64())
	b := engine.Branch(in,
		engine.Case[string, int64]{Name: "neg", When: func(r engine.Record[string, int64]) bool { return r.Value < 0 }},
		engine.Case[string, int64]{Name: "big", When: func(r engine.Record[string, int64]) bool { return r.Value > 100 }},
		engine.Case[string, int64]{Name: "other"},
	)
	if len(b) != 3 {
		t.Fatalf("%d streams, want 3", len(b))
	}
	engine.To(b["neg"], "neg", engine.String(), engine.Int64())
	engine.To(engine.Merge(b["big"], b["other"]), "rest", engine.String(), engine.Int64())
	d := newDriver(t, g)
	for _, v := range []string{"-1", "200", "5", "-300", "0"} {
		noErr(t, d.Send("in", []byte("k"), []byte(v), 0))
	}
	values := func(name string) []int64 {
		var vs []int64
		for _, r := range readAll(t, d, name, engine.String(), engine.Int64()) {
			vs = append(vs, r.Value)
		}
		return vs
	}
	if got := values("neg"); !slices.Equal(got, []int64{-1, -300}) {
		t.Errorf("neg: %v", got)
	}
	if got := values("rest"); !slices.Equal(got, []int64{200, 5, 0}) {
		t.Errorf("rest: %v", got)
	}
}

func TestMergeOfNoStreamsPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Merge() did not panic")
		}
	}()
	engine.Merge[string, int64]()
}

func TestKeyByLocal(t *testing.T) {
	t.Parallel()
	g := engine.NewGraph("keyby")
	in := engine.From(g, "in", engine.String(), engine.JSON[event]())
	byWord := engine.KeyBy(in, func(r engine.Record[string, event]) string { return r.Value.Word })
	engine.To(engine.Map(byWord, func(r engine.Record[string, event]) (int64, error) { return int64(r.Value.N), nil }),
		"out", engine.String(), engine.Int64())
	d := newDriver(t, g)
	noErr(t, d.Send("in", []byte("x"), []byte(`{"word":"w","n":3}`), 1))
	got := readAll(t, d, "out", engine.String(), engine.Int64())
	if len(got) != 1 || got[0].Key != "w" || got[0].Value != 3 {
		t.Errorf("got %+v", got)
	}
}

// keyedGraph counts events by word in tumbling windows, after a KeyBy
// named "byword": a two-stage graph.
func keyedGraph(policy engine.ErrorPolicy) *engine.Graph {
	g := engine.NewGraph("words")
	g.SetErrorPolicy(policy)
	in := engine.From(g, "in", engine.String(), engine.JSON[event]())
	keyed := engine.KeyBy(in, func(r engine.Record[string, event]) string { return r.Value.Word }, engine.Name("byword"))
	w := engine.Window(keyed, engine.Tumbling(10*time.Second))
	engine.To(engine.Aggregate(w, engine.Sum(func(e event) int64 { return int64(e.N) }), engine.Name("sums")),
		"out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	return g
}

func TestStagesSplitAtKeyBy(t *testing.T) {
	t.Parallel()
	g := keyedGraph(engine.ErrorPolicy{Mode: engine.DeadLetter, DeadLetter: "dlq"})
	stages, err := g.Stages()
	noErr(t, err)
	want := []engine.Stage{
		{Index: 0, Source: "in", Sinks: []string{"words-byword-repartition", "dlq"}},
		{Index: 1, Source: "words-byword-repartition", Repartition: true, Sinks: []string{"out", "dlq"}, Stateful: true},
	}
	if fmt.Sprint(stages) != fmt.Sprint(want) {
		t.Fatalf("stages:\n%+v\nwant:\n%+v", stages, want)
	}

	type write struct {
		output string
		r      *engine.Raw
	}
	var w0, w1 []write
	t0, err := g.NewTask(0, 0, engine.OutputFunc(func(o string, r *engine.Raw) { c := *r; w0 = append(w0, write{o, &c}) }))
	noErr(t, err)
	t1, err := g.NewTask(1, 0, engine.OutputFunc(func(o string, r *engine.Raw) { c := *r; w1 = append(w1, write{o, &c}) }))
	noErr(t, err)
	if t0.Stateful() || !t1.Stateful() {
		t.Errorf("stage 0 stateful=%t, stage 1 stateful=%t; want false, true", t0.Stateful(), t1.Stateful())
	}
	if err := t0.Process("words-byword-repartition", &engine.Raw{}); err == nil {
		t.Error("stage 0 reads the repartition topic")
	}
	if err := t1.Process("in", &engine.Raw{}); err == nil {
		t.Error("stage 1 reads the source")
	}
	events := []struct {
		json string
		ts   int64
	}{
		{`{"word":"a","n":1}`, 1000},
		{`{"word":"b","n":2}`, 2000},
		{`{"word":"a","n":4}`, 3000},
		{`{"word":"b","n":8}`, 12000},
	}
	for i, e := range events {
		noErr(t, t0.Process("in", &engine.Raw{Key: []byte("k"), Value: []byte(e.json), Time: e.ts,
			Pos: engine.Pos{Input: engine.Input{Stream: "in"}, Offset: int64(i), Next: int64(i + 1)}}))
	}
	if len(w0) != len(events) {
		t.Fatalf("stage 0 wrote %d records, want %d", len(w0), len(events))
	}
	for i, w := range w0 {
		if w.output != "words-byword-repartition" {
			t.Fatalf("stage 0 wrote to %q", w.output)
		}
		// The repartition record carries the new key, encoded as JSON.
		var e event
		noErr(t, json.Unmarshal([]byte(events[i].json), &e))
		if string(w.r.Key) != strconv.Quote(e.Word) || string(w.r.Value) != events[i].json || w.r.Time != events[i].ts {
			t.Errorf("repartition record %d: key %s value %s time %d", i, w.r.Key, w.r.Value, w.r.Time)
		}
		r := *w.r
		r.Pos = engine.Pos{Input: engine.Input{Stream: w.output}, Offset: int64(i), Next: int64(i + 1)}
		noErr(t, t1.Process(w.output, &r))
	}
	noErr(t, t1.AdvanceWatermark(1<<62))
	var got []string
	for _, w := range w1 {
		got = append(got, w.output+" "+string(w.r.Key)+" "+string(w.r.Value))
	}
	wantOut := []string{
		`out {"key":"a","start":0,"end":10000} 5`,
		`out {"key":"b","start":0,"end":10000} 2`,
		`out {"key":"b","start":10000,"end":20000} 8`,
	}
	if !slices.Equal(got, wantOut) {
		t.Errorf("stage 1 wrote:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantOut, "\n"))
	}

	// A repartition record that does not decode goes to the policy, named
	// after the KeyBy.
	noErr(t, t1.Process("words-byword-repartition", &engine.Raw{Key: []byte("nope"), Value: []byte(`{}`),
		Pos: engine.Pos{Input: engine.Input{Stream: "words-byword-repartition"}, Offset: 9}}))
	last := w1[len(w1)-1]
	if op, _ := last.r.Header(engine.HeaderOperator); last.output != "dlq" || string(op) != "byword" {
		t.Errorf("got %s %+v, want a dead letter of byword", last.output, last.r)
	}
}

func TestGraphValidate(t *testing.T) {
	t.Parallel()
	src := func(g *engine.Graph, name string) engine.Stream[string, int64] {
		return engine.From(g, name, engine.String(), engine.Int64())
	}
	sink := func(s engine.Stream[string, int64], name string) {
		engine.To(s, name, engine.String(), engine.Int64())
	}
	id := func(r engine.Record[string, int64]) (int64, error) { return r.Value, nil }
	for _, c := range []struct {
		name  string
		build func(g *engine.Graph)
		err   string
	}{
		{"ok", func(g *engine.Graph) { sink(src(g, "in"), "out") }, ""},
		{"no source", func(g *engine.Graph) {}, "engine: graph g has no source"},
		{"no sink", func(g *engine.Graph) { engine.Map(src(g, "in"), id) }, "engine: graph g has no sink"},
		{"duplicate operator", func(g *engine.Graph) {
			s := engine.Map(src(g, "in"), id, engine.Name("m"))
			sink(engine.Map(s, id, engine.Name("m")), "out")
		}, `engine: two operators are named "m"`},
		{"source named like a sink", func(g *engine.Graph) { sink(src(g, "x"), "x") }, `engine: two operators are named "x"`},
		{"empty branch name", func(g *engine.Graph) {
			b := engine.Branch(src(g, "in"), engine.Case[string, int64]{Name: ""})
			sink(b[""], "out")
		}, "branch names must be unique and not empty"},
		{"merge across a KeyBy", func(g *engine.Graph) {
			s := src(g, "in")
			k := engine.KeyBy(s, func(r engine.Record[string, int64]) string { return r.Key })
			sink(engine.Merge(s, k), "out")
		}, "merges streams of different stages"},
		{"merge of two sources", func(g *engine.Graph) {
			sink(engine.Merge(src(g, "a"), src(g, "b")), "out")
		}, "merges streams of different stages"},
		{"two sources, two sinks", func(g *engine.Graph) { sink(src(g, "a"), "x"); sink(src(g, "b"), "y") }, ""},
		{"late before aggregate", func(g *engine.Graph) {
			w := engine.Window(src(g, "in"), engine.Tumbling(time.Second))
			sink(w.Late(), "late")
		}, "engine: Late of a window before its Aggregate"},
		{"two aggregates", func(g *engine.Graph) {
			w := engine.Window(src(g, "in"), engine.Tumbling(time.Second))
			engine.Aggregate(w, engine.Count[int64]())
			r := engine.Aggregate(w, engine.Count[int64]())
			engine.To(r, "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
		}, "a window has one Aggregate"},
		{"session without merge", func(g *engine.Graph) {
			w := engine.Window(src(g, "in"), engine.Session(time.Second))
			agg := engine.Count[int64]()
			agg.Merge = nil
			engine.To(engine.Aggregate(w, agg), "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
		}, "session windows need an aggregation with Merge"},
		{"bad window", func(g *engine.Graph) {
			w := engine.Window(src(g, "in"), engine.Hopping(time.Second, 0))
			engine.To(engine.Aggregate(w, engine.Count[int64]()), "out", engine.JSON[engine.WindowKey[string]](), engine.Int64())
		}, "engine: window: window advance must be positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := engine.NewGraph("g")
			c.build(g)
			err := g.Validate()
			if c.err == "" {
				noErr(t, err)
				return
			}
			wantErr(t, err, c.err)
			if _, err := g.NewLocalTask(0, engine.OutputFunc(func(string, *engine.Raw) {})); err == nil {
				t.Error("NewLocalTask accepted the graph")
			}
			if _, err := g.Stages(); err == nil {
				t.Error("Stages accepted the graph")
			}
		})
	}
}

func TestRecordHeaderAndPositions(t *testing.T) {
	t.Parallel()
	r := engine.Raw{Headers: []engine.Header{{Key: "a", Value: []byte("1")}, {Key: "b"}, {Key: "a", Value: []byte("2")}}}
	if v, ok := r.Header("a"); !ok || string(v) != "2" {
		t.Errorf("Header(a) = %q, %t; want the last one", v, ok)
	}
	if _, ok := r.Header("c"); ok {
		t.Error("Header(c) found")
	}
	p := engine.Positions{{Stream: "t", Partition: 0}: 5, {Stream: "t", Partition: 1}: 7}
	c := p.Clone()
	if !p.Equal(c) || !c.Equal(p) {
		t.Error("a clone is not equal")
	}
	c[engine.Input{Stream: "t", Partition: 1}] = 8
	if p.Equal(c) || p[engine.Input{Stream: "t", Partition: 1}] != 7 {
		t.Error("the clone shares its map")
	}
	delete(c, engine.Input{Stream: "t", Partition: 1})
	c[engine.Input{Stream: "u"}] = 7
	if p.Equal(c) {
		t.Error("different inputs compare equal")
	}
}

func TestSerdes(t *testing.T) {
	t.Parallel()
	if _, err := engine.Int64().Decode([]byte("12x")); err == nil || err.Error() != `not an integer: "12x"` {
		t.Errorf("Int64 decode error: %v", err)
	}
	long := strings.Repeat("x", 100)
	if _, err := engine.Int64().Decode([]byte(long)); err == nil || !strings.Contains(err.Error(), strings.Repeat("x", 64)+`..."`) {
		t.Errorf("a long value is not truncated: %v", err)
	}
	if b, _ := engine.Int64().Encode(-42); string(b) != "-42" {
		t.Errorf("Int64 encodes -42 as %q", b)
	}
	if s, err := engine.String().Decode(nil); s != "" || err != nil {
		t.Errorf("String decodes nil as %q, %v", s, err)
	}
	if b, _ := engine.Bytes().Encode([]byte("x")); string(b) != "x" {
		t.Errorf("Bytes encodes x as %q", b)
	}
	_, err := engine.JSON[event]().Decode([]byte("{"))
	var se *json.SyntaxError
	if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), `decoding JSON "{": `) {
		t.Errorf("JSON decode error: %v", err)
	}
	b, _ := engine.JSON[engine.WindowKey[string]]().Encode(engine.WindowKey[string]{Key: "k", Start: -1, End: 2})
	if string(b) != `{"key":"k","start":-1,"end":2}` {
		t.Errorf("WindowKey encodes as %s", b)
	}
}
