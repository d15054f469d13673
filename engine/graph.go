package engine

import (
	"fmt"
	"log/slog"
	"sync"
)

// Graph is a pipeline's dataflow: sources, operators and sinks, declared
// through the typed functions of this package (From, Map, Window, To...).
// It is a template: every task instantiates its own operators and state
// from it (NewTask), one task per input partition.
//
// KeyBy splits the graph into stages: when the graph runs distributed, a
// KeyBy writes its records to a repartition topic keyed by the new key and
// the next stage reads them back, so that all records of one key meet in
// one task. Run locally (NewLocalTask, the test driver, the benchmarks) a
// KeyBy only sets the key.
type Graph struct {
	name   string
	nodes  []*node
	names  map[string]bool
	policy ErrorPolicy
	logger *slog.Logger
	err    error // first declaration error, reported by Validate
	owner  any
	mu     sync.Mutex // Validate: the stages of nodes are computed there
}

// SetOwner attaches v to the graph: the package that builds a graph with
// its connectors (pipelines) finds itself again from a stream.
func (g *Graph) SetOwner(v any) { g.owner = v }

// Owner returns what SetOwner attached.
func (g *Graph) Owner() any { return g.owner }

// NewGraph returns an empty graph. The name identifies the pipeline: it
// prefixes consumer groups, repartition and state topics.
func NewGraph(name string) *Graph {
	return &Graph{name: name, names: map[string]bool{}, logger: slog.Default()}
}

// Name returns the graph's name.
func (g *Graph) Name() string { return g.name }

// SetErrorPolicy sets what happens to a record that an operator cannot
// process (a decode error, an error returned by a user function, an
// encode error at a sink). The default is Fail.
func (g *Graph) SetErrorPolicy(p ErrorPolicy) { g.policy = p }

// ErrorPolicy returns the graph's error policy.
func (g *Graph) ErrorPolicy() ErrorPolicy { return g.policy }

// SetLogger sets the logger of skipped records and task events.
func (g *Graph) SetLogger(l *slog.Logger) { g.logger = l }

// Logger returns the graph's logger.
func (g *Graph) Logger() *slog.Logger { return g.logger }

type nodeKind int

const (
	kindOp nodeKind = iota
	kindSource
	kindSink
	kindKeyBy
)

type node struct {
	id    int
	name  string
	kind  nodeKind
	ins   []*node
	outs  []*node
	stage int
	// build returns the node's input (a Collector[K, V] of its input type,
	// or for a source an entry func(*Raw)) for task t, given the inputs of
	// its outputs, in the order of outs.
	build func(t *Task, outs []any) any
	// For KeyBy: the two halves when distributed.
	buildSend func(t *Task) any             // stage s: writes to the repartition output
	buildRecv func(t *Task, outs []any) any // stage s+1: reads it back, an entry
	sinkName  string                        // kindSink: the output name; kindKeyBy: the repartition output
	stateful  bool
}

// Collector receives records. An operator may change a record it receives
// while it passes it on, but must give it back as it came when Collect
// returns (a fan-out hands the same record to each branch in turn), and
// must not keep the pointer (operators reuse one record for their
// outputs): it copies what it keeps.
type Collector[K, V any] interface {
	Collect(r *Record[K, V])
}

// Stream is a typed edge of the graph.
type Stream[K, V any] struct {
	g *Graph
	n *node
}

// Graph returns the graph the stream belongs to.
func (s Stream[K, V]) Graph() *Graph { return s.g }

func (g *Graph) add(name, def string, kind nodeKind, ins ...*node) *node {
	if name == "" {
		name = fmt.Sprintf("%s-%d", def, len(g.nodes))
	}
	if g.names[name] {
		g.setErr(fmt.Errorf("engine: two operators are named %q", name))
		name = fmt.Sprintf("%s-%d", name, len(g.nodes))
	}
	g.names[name] = true
	n := &node{id: len(g.nodes), name: name, kind: kind, ins: ins}
	for _, in := range ins {
		in.outs = append(in.outs, n)
	}
	g.nodes = append(g.nodes, n)
	return n
}

func (g *Graph) setErr(err error) {
	if g.err == nil {
		g.err = err
	}
}

// Stage describes one stage of a distributed graph: what it reads and
// where it writes.
type Stage struct {
	Index int
	// Source is the name of the source the stage reads; for stages after a
	// KeyBy it is the repartition output of the previous stage.
	Source string
	// Repartition is true when Source is a repartition topic.
	Repartition bool
	// Sinks are the outputs the stage writes, the repartition output of a
	// KeyBy included.
	Sinks []string
	// Stateful is true when a task of the stage has state to snapshot.
	Stateful bool
}

// Stages validates the graph and returns its stages in order.
func (g *Graph) Stages() ([]Stage, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	var stages []Stage
	for _, n := range g.nodes {
		switch {
		case n.kind == kindSource:
			if n.stage != len(stages) {
				return nil, fmt.Errorf("engine: graph %s: a distributed graph reads one source per stage; merge the inputs in the source (several topics in one topic source)", g.name)
			}
			stages = append(stages, Stage{Index: n.stage, Source: n.name})
		case n.kind == kindKeyBy:
			stages = append(stages, Stage{Index: n.stage + 1, Source: n.sinkName, Repartition: true})
		}
	}
	for _, n := range g.nodes {
		st := &stages[n.stage]
		if n.kind == kindSink || n.kind == kindKeyBy {
			st.Sinks = append(st.Sinks, n.sinkName)
		}
		if n.stateful {
			st.Stateful = true
		}
	}
	if g.policy.Mode == DeadLetter && g.policy.DeadLetter != "" {
		for i := range stages {
			stages[i].Sinks = append(stages[i].Sinks, g.policy.DeadLetter)
		}
	}
	return stages, nil
}

// Validate reports the first problem in the graph's declaration: an
// operator name used twice, a merge of streams from different stages, a
// graph without source or sink.
func (g *Graph) Validate() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	var sources, sinks int
	stage := 0
	for _, n := range g.nodes {
		switch n.kind {
		case kindSource:
			sources++
			setStage(n, stage)
			stage++
			continue
		case kindSink:
			sinks++
		}
		ns := -1
		for _, in := range n.ins {
			s := in.stage
			if in.kind == kindKeyBy {
				s = in.stage + 1
			}
			if ns >= 0 && s != ns {
				return fmt.Errorf("engine: %s merges streams of different stages (one of them passed a KeyBy); key both sides by the same KeyBy first", n.name)
			}
			ns = s
		}
		setStage(n, ns)
		if n.kind == kindKeyBy {
			// the stage after it is numbered when it is reached
			if n.stage+1 != stage {
				return fmt.Errorf("engine: %s: stages must be declared in order", n.name)
			}
			stage++
		}
	}
	if sources == 0 {
		return fmt.Errorf("engine: graph %s has no source", g.name)
	}
	if sinks == 0 {
		return fmt.Errorf("engine: graph %s has no sink", g.name)
	}
	return nil
}

// setStage sets the stage of a node only when it changes: once a graph
// is declared, Validate runs again (every Stages call) while the stages of
// a pipeline build their tasks concurrently, reading the stages without
// the lock; rewriting them, or going through -1, would race with those
// reads.
// REQUIRES: g.mu.
func setStage(n *node, stage int) {
	if n.stage != stage {
		n.stage = stage
	}
}

// From declares a source named name whose records are decoded with the key
// and value serdes. Decode errors go to the error policy.
func From[K, V any](g *Graph, name string, keys Serde[K], values Serde[V]) Stream[K, V] {
	n := g.add(name, "source", kindSource)
	n.build = func(t *Task, outs []any) any {
		out := collector[K, V](outs)
		var scratch Record[K, V]
		return func(raw *Raw) {
			if decode(t, n.name, keys, values, raw, &scratch) {
				out.Collect(&scratch)
			}
		}
	}
	return Stream[K, V]{g: g, n: n}
}

// encode encodes k and v into out's Key and Value with the serdes; an
// error goes to the error policy, and encode returns false.
func encode[K, V any](t *Task, op string, keys Serde[K], values Serde[V], k K, v V, out *Raw) bool {
	kb, err := keys.Encode(k)
	if err != nil {
		t.fail(op, fmt.Errorf("encoding key: %w", err))
		return false
	}
	vb, err := values.Encode(v)
	if err != nil {
		t.fail(op, fmt.Errorf("encoding value: %w", err))
		return false
	}
	out.Key, out.Value = kb, vb
	return true
}

// decode decodes raw into r with the serdes; an error goes to the error
// policy, and decode returns false.
func decode[K, V any](t *Task, op string, keys Serde[K], values Serde[V], raw *Raw, r *Record[K, V]) bool {
	k, err := keys.Decode(raw.Key)
	if err != nil {
		t.fail(op, fmt.Errorf("decoding key: %w", err))
		return false
	}
	v, err := values.Decode(raw.Value)
	if err != nil {
		t.fail(op, fmt.Errorf("decoding value: %w", err))
		return false
	}
	r.Key = k
	r.Value = v
	r.Time = raw.Time
	r.Headers = raw.Headers
	r.Pos = raw.Pos
	return true
}

// To declares a sink: records are encoded with the serdes and written to
// the output named name, which the runtime binds to a sink connector.
func To[K, V any](s Stream[K, V], name string, keys Serde[K], values Serde[V]) {
	n := s.g.add(name, "sink", kindSink, s.n)
	n.sinkName = n.name
	n.build = func(t *Task, _ []any) any {
		// The output copies what it keeps (see Output): one record is
		// reused.
		var out Raw
		return collectFunc[K, V](func(r *Record[K, V]) {
			if !encode(t, n.name, keys, values, r.Key, r.Value, &out) {
				return
			}
			out.Time = r.Time
			out.Headers = r.Headers
			out.Pos = r.Pos
			t.write(n.sinkName, &out)
		})
	}
}

// collectFunc adapts a function to a Collector.
type collectFunc[K, V any] func(*Record[K, V])

func (f collectFunc[K, V]) Collect(r *Record[K, V]) { f(r) }

type discard[K, V any] struct{}

func (discard[K, V]) Collect(*Record[K, V]) {}

type fanout[K, V any] []Collector[K, V]

func (f fanout[K, V]) Collect(r *Record[K, V]) {
	for _, c := range f {
		c.Collect(r)
	}
}

// collector returns the collector feeding all outs.
func collector[K, V any](outs []any) Collector[K, V] {
	switch len(outs) {
	case 0:
		return discard[K, V]{}
	case 1:
		return outs[0].(Collector[K, V])
	}
	f := make(fanout[K, V], len(outs))
	for i, o := range outs {
		f[i] = o.(Collector[K, V])
	}
	return f
}
