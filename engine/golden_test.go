package engine_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/enginetest"
)

// The engine's golden tests: each file in testdata/golden is a script of
// blocks. A block is one or more command lines, a "----" line, and the
// output the commands produced, up to a blank line. Lines starting with #
// outside the output are comments. Run with -update to regenerate the
// expected outputs, then review every changed line by hand:
//
//	go test ./engine -run Golden -update
//
// A block whose first line is "pipeline" declares a new graph: the
// pipeline line, then one operator per line. It prints "ok" or the
// graph's validation error. Every other block runs commands against the
// last graph, through enginetest.
//
// Pipelines read the source "in" with string keys and int64 values
// (decimal text; anything else is a decode error). Stateless streams keep
// those types; a window's results go to the output "out" (key: the
// WindowKey as JSON; value: the result as JSON) and its late records to
// "late". A stream left unsunk at the end of the block goes to "out".
//
//	pipeline [name=<graph>] [policy=fail|skip|deadletter] [pos]
//	         [window=<kind> <window args>]        shorthand for a last window line
//	map add=N | mul=N | fail=N                    (fail: an error for value N)
//	filter gt=N | lt=N | even | odd
//	flatmap range | fail=N                        (range: values 1..v)
//	peek                                          prints "peek <key> <value> t=<ts>"
//	withtime value | add=N | fail=N               event time := value, time+N
//	keyby value | first | mod=N                   key := value, first letter, value%N
//	branch <case>=gt:N|lt:N|even|odd ... [<default case>]
//	as <stream>                                   name the current stream
//	use <stream>                                  continue from a named stream
//	merge <stream> <stream>...
//	sink <output>
//	window <kind> size= advance= gap= grace= delay= idle= emit=final|update agg=<agg>
//	    kinds: tumbling hopping sliding session
//	    aggs: count sum min max avg count_distinct reduce (reduce: a*10+b)
//	Every operator line takes name=<operator name>.
//
// Commands:
//
//	send key=<k> ts=<ms> [value=<bytes>] [partition=N] [source=in] [header=k:v]
//	                          (value defaults to 1; offsets count per partition)
//	watermark <ms>            Task.AdvanceWatermark
//	close                     watermark to the end of time
//	end                       Task.CloseWindows (the end of a bounded input)
//	tick <ms>                 Task.Tick (wall clock)
//	restart                   Snapshot, a new task of the same graph, Restore
//	metrics                   the task's counters
//	windows                   the open windows (per key), and those the end closed
//	stages                    Graph.Stages
//
// After each command the outputs are printed, output by output in name
// order: "<output> <key> <value> t=<time>" (with "@<stream>/<partition>:<offset>"
// under pos), then the record's headers, indented. Peeked records come
// first. A command with an error prints "error: ..." after its outputs. A
// block that wrote nothing prints "(none)".
var update = flag.Bool("update", false, "rewrite the expected outputs of testdata/golden/*.txt")

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			runGoldenFile(t, f)
		})
	}
}

type goldenBlock struct {
	pre   []string // comments and blank lines before the block
	line  int      // of the first command
	input []string
	want  []string
}

func parseGoldenFile(t *testing.T, path string) (blocks []goldenBlock, tail []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	n := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		n++
		return sc.Text(), true
	}
	var pre []string
	for {
		line, ok := next()
		if !ok {
			break
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			pre = append(pre, line)
			continue
		}
		b := goldenBlock{pre: pre, line: n, input: []string{line}}
		pre = nil
		for {
			l, ok := next()
			if !ok {
				t.Fatalf("%s:%d: the block has no ----", path, b.line)
			}
			if l == "----" {
				break
			}
			if strings.TrimSpace(l) == "" {
				t.Fatalf("%s:%d: blank line before ----", path, n)
			}
			b.input = append(b.input, l)
		}
		for {
			l, ok := next()
			if !ok || l == "" {
				break
			}
			b.want = append(b.want, l)
		}
		blocks = append(blocks, b)
	}
	return blocks, pre
}

func runGoldenFile(t *testing.T, path string) {
	blocks, tail := parseGoldenFile(t, path)
	h := &goldenHarness{t: t}
	var out strings.Builder
	for _, b := range blocks {
		got := h.block(b.input)
		for _, l := range b.pre {
			out.WriteString(l + "\n")
		}
		for _, l := range b.input {
			out.WriteString(l + "\n")
		}
		out.WriteString("----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		out.WriteString("\n")
		if !*update && !slices.Equal(got, b.want) {
			t.Errorf("%s:%d:\n\t%s\n got:\n\t%s\nwant:\n\t%s", path, b.line,
				strings.Join(b.input, "\n\t"), strings.Join(got, "\n\t"), strings.Join(b.want, "\n\t"))
		}
	}
	for _, l := range tail {
		out.WriteString(l + "\n")
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// goldenArg is one word of a command line: key=value, or a bare word (value "").
type goldenArg struct{ k, v string }

type goldenArgs []goldenArg

func parseGoldenArgs(s string) (string, goldenArgs) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", nil
	}
	var as goldenArgs
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		as = append(as, goldenArg{k, v})
	}
	return fields[0], as
}

func (as goldenArgs) get(k string) (string, bool) {
	for _, a := range as {
		if a.k == k {
			return a.v, true
		}
	}
	return "", false
}

func (as goldenArgs) has(k string) bool { _, ok := as.get(k); return ok }

// goldenHarness runs the blocks of one golden file.
type goldenHarness struct {
	t       *testing.T
	g       *engine.Graph
	d       *enginetest.Driver
	pos     bool
	outputs []string // every output the graph writes
	peeks   []string
	offsets map[engine.Input]int64
}

// errGolden is a script error, which fails the test.
type errGolden struct{ error }

func (h *goldenHarness) block(lines []string) (out []string) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(errGolden)
			if !ok {
				panic(r)
			}
			h.t.Fatalf("%v (in %q)", e.error, lines)
		}
	}()
	if cmd, _ := parseGoldenArgs(lines[0]); cmd == "pipeline" {
		return h.pipeline(lines)
	}
	if h.g == nil {
		panic(errGolden{errors.New("no pipeline declared")})
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, h.command(l)...)
	}
	if len(out) == 0 {
		out = []string{"(none)"}
	}
	return out
}

func scriptErrorf(format string, a ...any) { panic(errGolden{fmt.Errorf(format, a...)}) }

func (h *goldenHarness) command(line string) []string {
	cmd, as := parseGoldenArgs(line)
	var err error
	var extra []string
	num := func() int64 {
		if len(as) != 1 {
			scriptErrorf("%s takes one number", cmd)
		}
		return parseMillis(as[0].k)
	}
	switch cmd {
	case "send":
		err = h.send(as)
	case "watermark":
		err = h.d.Watermark(num())
	case "close":
		err = h.d.Close()
	case "end":
		err = h.d.End()
	case "tick":
		err = h.d.Tick(num())
	case "restart":
		err = h.restart()
	case "metrics":
		m := h.d.Task().Metrics()
		extra = append(extra, fmt.Sprintf("in=%d out=%d late=%d skipped=%d dead=%d wm=%s",
			m.In.Load(), m.Out.Load(), m.Late.Load(), m.Skipped.Load(), m.DeadLettered.Load(), fmtMillis(m.Watermark.Load())))
	case "windows":
		extra = append(extra, fmt.Sprintf("open=%d closed=%d", h.d.Task().OpenWindows(), h.d.Task().Metrics().Closed.Load()))
	case "stages":
		stages, serr := h.g.Stages()
		if serr != nil {
			err = serr
			break
		}
		for _, s := range stages {
			extra = append(extra, fmt.Sprintf("stage %d source=%s repartition=%t sinks=%s stateful=%t",
				s.Index, s.Source, s.Repartition, strings.Join(s.Sinks, ","), s.Stateful))
		}
	default:
		scriptErrorf("unknown command %q", cmd)
	}
	out := h.drain()
	out = append(out, extra...)
	if err != nil {
		out = append(out, "error: "+err.Error())
	}
	return out
}

func fmtMillis(ms int64) string {
	switch ms {
	case math.MinInt64:
		return "none"
	case math.MaxInt64:
		return "max"
	}
	return strconv.FormatInt(ms, 10)
}

func (h *goldenHarness) send(as goldenArgs) error {
	source, ok := as.get("source")
	if !ok {
		source = "in"
	}
	key, _ := as.get("key")
	value, ok := as.get("value")
	if !ok {
		value = "1"
	}
	ts, ok := as.get("ts")
	if !ok {
		scriptErrorf("send needs ts=")
	}
	var part int32
	if p, ok := as.get("partition"); ok {
		part = int32(goldenAtoi(p))
	}
	r := &engine.Raw{Key: []byte(key), Value: []byte(value), Time: parseMillis(ts)}
	for _, a := range as {
		if a.k == "header" {
			k, v, _ := strings.Cut(a.v, ":")
			r.Headers = append(r.Headers, engine.Header{Key: k, Value: []byte(v)})
		}
	}
	in := engine.Input{Stream: source, Partition: part}
	off := h.offsets[in]
	h.offsets[in] = off + 1
	r.Pos = engine.Pos{Input: in, Offset: off, Next: off + 1}
	return h.d.SendRaw(source, r)
}

func (h *goldenHarness) restart() error {
	snap, err := h.d.Task().Snapshot()
	if err != nil {
		return err
	}
	d, err := enginetest.New(h.g)
	if err != nil {
		return err
	}
	h.d = d
	return d.Task().Restore(snap)
}

// drain prints and forgets what the last command wrote.
func (h *goldenHarness) drain() []string {
	out := h.peeks
	h.peeks = nil
	names := slices.Clone(h.outputs)
	sort.Strings(names)
	for _, name := range slices.Compact(names) {
		for _, r := range h.d.Output(name) {
			l := fmt.Sprintf("%s %s %s t=%d", name, showBytes(r.Key), showBytes(r.Value), r.Time)
			if h.pos {
				l += fmt.Sprintf(" @%s/%d:%d", r.Pos.Stream, r.Pos.Partition, r.Pos.Offset)
			}
			out = append(out, l)
			for _, hd := range r.Headers {
				out = append(out, fmt.Sprintf("  %s: %s", hd.Key, hd.Value))
			}
		}
	}
	return out
}

func showBytes(b []byte) string {
	if len(b) == 0 || strings.ContainsAny(string(b), " \n") {
		return strconv.Quote(string(b))
	}
	return string(b)
}

func goldenAtoi(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		scriptErrorf("not a number: %q", s)
	}
	return n
}

// parseMillis reads milliseconds: a plain integer, or a Go duration.
func parseMillis(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		scriptErrorf("not milliseconds nor a duration: %q", s)
	}
	return d.Milliseconds()
}

func parseGoldenDuration(s string) time.Duration {
	return time.Duration(parseMillis(s)) * time.Millisecond
}

// goldenStream is the type of every stateless stream of a golden pipeline.
type goldenStream = engine.Stream[string, int64]

// goldenBuilder declares a golden pipeline.
type goldenBuilder struct {
	h     *goldenHarness
	g     *engine.Graph
	cur   *goldenStream
	sunk  bool
	named map[string]goldenStream
}

func (h *goldenHarness) pipeline(lines []string) []string {
	_, as := parseGoldenArgs(lines[0])
	name, ok := as.get("name")
	if !ok {
		name = "golden"
	}
	g := engine.NewGraph(name)
	h.g, h.d, h.pos, h.outputs, h.peeks = g, nil, as.has("pos"), nil, nil
	h.offsets = map[engine.Input]int64{}
	if p, ok := as.get("policy"); ok {
		switch p {
		case "fail":
			g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.Fail})
		case "skip":
			g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.Skip})
			g.SetLogger(discardLogger())
		case "deadletter":
			g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.DeadLetter, DeadLetter: "dead"})
			h.outputs = append(h.outputs, "dead")
		default:
			scriptErrorf("unknown policy %q", p)
		}
	}
	in := engine.From(g, "in", engine.String(), engine.Int64())
	b := &goldenBuilder{h: h, g: g, cur: &in, named: map[string]goldenStream{}}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "#") {
			continue
		}
		op, oas := parseGoldenArgs(l)
		b.op(op, oas)
	}
	if kind, ok := as.get("window"); ok {
		wargs := goldenArgs{{kind, ""}}
		for _, a := range as {
			if a.k != "window" && a.k != "name" && a.k != "policy" && a.k != "pos" {
				wargs = append(wargs, a)
			}
		}
		b.op("window", wargs)
	}
	if b.cur != nil && !b.sunk {
		b.sink("out")
	}
	d, err := enginetest.New(g)
	if err != nil {
		h.g = nil
		return []string{"error: " + err.Error()}
	}
	h.d = d
	return []string{"ok"}
}

func (b *goldenBuilder) sink(name string) {
	engine.To(*b.cur, name, engine.String(), engine.Int64())
	b.h.outputs = append(b.h.outputs, name)
	b.sunk = true
}

func (b *goldenBuilder) set(s goldenStream) { b.cur, b.sunk = &s, false }

// goldenCond parses gt:N, lt:N, even, odd (with : or =).
func goldenCond(s string) func(engine.Record[string, int64]) bool {
	s = strings.Replace(s, "=", ":", 1)
	k, v, _ := strings.Cut(s, ":")
	switch k {
	case "gt":
		n := goldenAtoi(v)
		return func(r engine.Record[string, int64]) bool { return r.Value > n }
	case "lt":
		n := goldenAtoi(v)
		return func(r engine.Record[string, int64]) bool { return r.Value < n }
	case "even":
		return func(r engine.Record[string, int64]) bool { return r.Value%2 == 0 }
	case "odd":
		return func(r engine.Record[string, int64]) bool { return r.Value%2 != 0 }
	}
	scriptErrorf("unknown condition %q", s)
	return nil
}

func refuse(n int64) func(int64) error {
	return func(v int64) error {
		if v == n {
			return fmt.Errorf("value %d refused", v)
		}
		return nil
	}
}

func (b *goldenBuilder) op(op string, as goldenArgs) {
	var o []engine.Opt
	if n, ok := as.get("name"); ok {
		o = append(o, engine.Name(n))
	}
	first := func() goldenArg {
		if len(as) == 0 {
			scriptErrorf("%s needs an argument", op)
		}
		return as[0]
	}
	need := func() goldenStream {
		if b.cur == nil {
			scriptErrorf("%s: no current stream (use one)", op)
		}
		return *b.cur
	}
	switch op {
	case "map":
		a := first()
		n := goldenAtoi(a.v)
		var fn func(engine.Record[string, int64]) (int64, error)
		switch a.k {
		case "add":
			fn = func(r engine.Record[string, int64]) (int64, error) { return r.Value + n, nil }
		case "mul":
			fn = func(r engine.Record[string, int64]) (int64, error) { return r.Value * n, nil }
		case "fail":
			check := refuse(n)
			fn = func(r engine.Record[string, int64]) (int64, error) { return r.Value, check(r.Value) }
		default:
			scriptErrorf("unknown map %q", a.k)
		}
		b.set(engine.Map(need(), fn, o...))
	case "filter":
		a := first()
		b.set(engine.Filter(need(), goldenCond(a.k+":"+a.v), o...))
	case "flatmap":
		a := first()
		var fn func(engine.Record[string, int64]) ([]int64, error)
		switch a.k {
		case "range":
			fn = func(r engine.Record[string, int64]) ([]int64, error) {
				var vs []int64
				for i := int64(1); i <= r.Value; i++ {
					vs = append(vs, i)
				}
				return vs, nil
			}
		case "fail":
			check := refuse(goldenAtoi(a.v))
			fn = func(r engine.Record[string, int64]) ([]int64, error) {
				return []int64{r.Value}, check(r.Value)
			}
		default:
			scriptErrorf("unknown flatmap %q", a.k)
		}
		b.set(engine.FlatMap(need(), fn, o...))
	case "peek":
		h := b.h
		b.set(engine.Peek(need(), func(r engine.Record[string, int64]) {
			h.peeks = append(h.peeks, fmt.Sprintf("peek %s %d t=%d", showBytes([]byte(r.Key)), r.Value, r.Time))
		}, o...))
	case "withtime":
		a := first()
		var fn func(engine.Record[string, int64]) (int64, error)
		switch a.k {
		case "value":
			fn = func(r engine.Record[string, int64]) (int64, error) { return r.Value, nil }
		case "add":
			n := goldenAtoi(a.v)
			fn = func(r engine.Record[string, int64]) (int64, error) { return r.Time + n, nil }
		case "fail":
			check := refuse(goldenAtoi(a.v))
			fn = func(r engine.Record[string, int64]) (int64, error) { return r.Time, check(r.Value) }
		default:
			scriptErrorf("unknown withtime %q", a.k)
		}
		b.set(engine.WithTime(need(), fn, o...))
	case "keyby":
		a := first()
		var fn func(engine.Record[string, int64]) string
		switch a.k {
		case "value":
			fn = func(r engine.Record[string, int64]) string { return strconv.FormatInt(r.Value, 10) }
		case "first":
			fn = func(r engine.Record[string, int64]) string {
				if r.Key == "" {
					return ""
				}
				return r.Key[:1]
			}
		case "mod":
			n := goldenAtoi(a.v)
			fn = func(r engine.Record[string, int64]) string { return strconv.FormatInt(r.Value%n, 10) }
		default:
			scriptErrorf("unknown keyby %q", a.k)
		}
		b.set(engine.KeyByWith(need(), fn, engine.String(), engine.Int64(), o...))
	case "branch":
		var cases []engine.Case[string, int64]
		for _, a := range as {
			c := engine.Case[string, int64]{Name: a.k}
			if a.v != "" {
				c.When = goldenCond(a.v)
			}
			cases = append(cases, c)
		}
		for name, s := range engine.Branch(need(), cases...) {
			b.named[name] = s
		}
		b.cur = nil
	case "as":
		b.named[first().k] = need()
		b.sunk = true // a named stream is sunk where it is used
	case "use":
		s, ok := b.named[first().k]
		if !ok {
			scriptErrorf("no stream %q", first().k)
		}
		b.set(s)
	case "merge":
		var ss []goldenStream
		for _, a := range as {
			s, ok := b.named[a.k]
			if !ok {
				scriptErrorf("no stream %q", a.k)
			}
			ss = append(ss, s)
		}
		b.set(engine.Merge(ss...))
	case "sink":
		need()
		b.sink(first().k)
	case "window":
		b.window(need(), as, o)
		b.cur = nil
	default:
		scriptErrorf("unknown operator %q", op)
	}
}

func (b *goldenBuilder) window(s goldenStream, as goldenArgs, o []engine.Opt) {
	dur := func(k string) time.Duration {
		v, ok := as.get(k)
		if !ok {
			return 0
		}
		return parseGoldenDuration(v)
	}
	var spec engine.WindowSpec
	switch kind := as[0].k; kind {
	case "tumbling":
		spec = engine.Tumbling(dur("size"))
	case "hopping":
		spec = engine.Hopping(dur("size"), dur("advance"))
	case "sliding":
		spec = engine.Sliding(dur("size"))
	case "session":
		spec = engine.Session(dur("gap"))
	default:
		scriptErrorf("unknown window kind %q", kind)
	}
	spec = spec.WithGrace(dur("grace")).WithDelay(dur("delay")).WithIdle(dur("idle"))
	switch e, _ := as.get("emit"); e {
	case "", "final":
	case "update":
		spec = spec.EmitOnUpdate()
	default:
		scriptErrorf("unknown emit %q", e)
	}
	w := engine.Window(s, spec)
	agg, _ := as.get("agg")
	id := func(v int64) int64 { return v }
	switch agg {
	case "count":
		goldenAggregate(b, w, engine.Count[int64](), o)
	case "sum":
		goldenAggregate(b, w, engine.Sum(id), o)
	case "min":
		goldenAggregate(b, w, engine.Min(id), o)
	case "max":
		goldenAggregate(b, w, engine.Max(id), o)
	case "avg":
		goldenAggregate(b, w, engine.Avg(id), o)
	case "count_distinct":
		goldenAggregate(b, w, engine.CountDistinct(id), o)
	case "reduce":
		goldenAggregate(b, w, engine.Reduce(func(a, v int64) int64 { return a*10 + v }), o)
	default:
		scriptErrorf("unknown agg %q", agg)
	}
}

func goldenAggregate[A, R any](b *goldenBuilder, w *engine.Windowed[string, int64], agg engine.Agg[int64, A, R], o []engine.Opt) {
	res := engine.Aggregate(w, agg, o...)
	engine.To(res, "out", engine.JSON[engine.WindowKey[string]](), engine.JSON[R]())
	engine.To(w.Late(), "late", engine.String(), engine.Int64())
	b.h.outputs = append(b.h.outputs, "out", "late")
}

// discardLogger is the logger of graphs whose skipped records the test
// does not want logged.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
