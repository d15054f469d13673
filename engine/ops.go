package engine

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Opt configures an operator.
type Opt func(*opts)

type opts struct{ name string }

// Name names an operator. Names appear in errors, metrics and dead-letter
// headers, and they key the operator's state in snapshots: give stateful
// operators a name so that changing the graph around them keeps their
// state. Unnamed operators are named after their kind and position.
func Name(name string) Opt { return func(o *opts) { o.name = name } }

func nameOf(os []Opt) string {
	var o opts
	for _, f := range os {
		f(&o)
	}
	return o.name
}

// Map replaces each record's value with fn's result. An error from fn goes
// to the error policy.
func Map[K, V, V2 any](s Stream[K, V], fn func(Record[K, V]) (V2, error), o ...Opt) Stream[K, V2] {
	n := s.g.add(nameOf(o), "map", kindOp, s.n)
	n.build = func(t *Task, outs []any) any {
		out := collector[K, V2](outs)
		var scratch Record[K, V2]
		return collectFunc[K, V](func(r *Record[K, V]) {
			v, err := fn(*r)
			if err != nil {
				t.fail(n.name, err)
				return
			}
			scratch.Key = r.Key
			scratch.Value = v
			scratch.Time = r.Time
			scratch.Headers = r.Headers
			scratch.Pos = r.Pos
			out.Collect(&scratch)
		})
	}
	return Stream[K, V2]{g: s.g, n: n}
}

// MapRecord replaces each record with fn's result: key, value, time and
// headers may all change. The source position is kept.
func MapRecord[K, V, K2, V2 any](s Stream[K, V], fn func(Record[K, V]) (Record[K2, V2], error), o ...Opt) Stream[K2, V2] {
	n := s.g.add(nameOf(o), "map", kindOp, s.n)
	n.build = func(t *Task, outs []any) any {
		out := collector[K2, V2](outs)
		var scratch Record[K2, V2]
		return collectFunc[K, V](func(r *Record[K, V]) {
			r2, err := fn(*r)
			if err != nil {
				t.fail(n.name, err)
				return
			}
			scratch = r2
			scratch.Pos = r.Pos
			out.Collect(&scratch)
		})
	}
	return Stream[K2, V2]{g: s.g, n: n}
}

// Filter keeps the records for which keep returns true.
func Filter[K, V any](s Stream[K, V], keep func(Record[K, V]) bool, o ...Opt) Stream[K, V] {
	n := s.g.add(nameOf(o), "filter", kindOp, s.n)
	n.build = func(t *Task, outs []any) any {
		out := collector[K, V](outs)
		return collectFunc[K, V](func(r *Record[K, V]) {
			if keep(*r) {
				out.Collect(r)
			}
		})
	}
	return Stream[K, V]{g: s.g, n: n}
}

// FlatMap replaces each record with zero or more records, one per value fn
// returns; they keep the key, time, headers and position.
func FlatMap[K, V, V2 any](s Stream[K, V], fn func(Record[K, V]) ([]V2, error), o ...Opt) Stream[K, V2] {
	n := s.g.add(nameOf(o), "flatmap", kindOp, s.n)
	n.build = func(t *Task, outs []any) any {
		out := collector[K, V2](outs)
		var scratch Record[K, V2]
		return collectFunc[K, V](func(r *Record[K, V]) {
			vs, err := fn(*r)
			if err != nil {
				t.fail(n.name, err)
				return
			}
			for _, v := range vs {
				scratch.Key = r.Key
				scratch.Value = v
				scratch.Time = r.Time
				scratch.Headers = r.Headers
				scratch.Pos = r.Pos
				out.Collect(&scratch)
			}
		})
	}
	return Stream[K, V2]{g: s.g, n: n}
}

// Peek calls fn for each record and passes the record on unchanged.
func Peek[K, V any](s Stream[K, V], fn func(Record[K, V]), o ...Opt) Stream[K, V] {
	n := s.g.add(nameOf(o), "peek", kindOp, s.n)
	n.build = func(t *Task, outs []any) any {
		out := collector[K, V](outs)
		return collectFunc[K, V](func(r *Record[K, V]) {
			fn(*r)
			out.Collect(r)
		})
	}
	return Stream[K, V]{g: s.g, n: n}
}

// WithTime sets each record's event time (Unix milliseconds) from fn, for
// the windows downstream. Records otherwise keep the source's timestamp
// (the Kafka record timestamp, or the time a file line was read).
func WithTime[K, V any](s Stream[K, V], fn func(Record[K, V]) (int64, error), o ...Opt) Stream[K, V] {
	n := s.g.add(nameOf(o), "time", kindOp, s.n)
	n.build = func(t *Task, outs []any) any {
		out := collector[K, V](outs)
		return collectFunc[K, V](func(r *Record[K, V]) {
			ts, err := fn(*r)
			if err != nil {
				t.fail(n.name, err)
				return
			}
			// The record is lent: changed for the operators below, and
			// given back as it came (a fan-out above shares it).
			old := r.Time
			r.Time = ts
			out.Collect(r)
			r.Time = old
		})
	}
	return Stream[K, V]{g: s.g, n: n}
}

// Case is one branch of Branch: records for which When returns true go to
// the stream named Name. A nil When matches every record (a default).
type Case[K, V any] struct {
	Name string
	When func(Record[K, V]) bool
}

// Branch sends each record to the first case it matches, and drops records
// no case matches. It returns one stream per case, by name.
func Branch[K, V any](s Stream[K, V], cases ...Case[K, V]) map[string]Stream[K, V] {
	n := s.g.add("", "branch", kindOp, s.n)
	res := make(map[string]Stream[K, V], len(cases))
	outs := make([]*node, len(cases))
	for i, c := range cases {
		if _, dup := res[c.Name]; dup || c.Name == "" {
			s.g.setErr(fmt.Errorf("engine: %s: branch names must be unique and not empty (got %q)", n.name, c.Name))
		}
		// Each case is a pass-through node, so that downstream operators
		// attach to it and the branch can route by index.
		cn := s.g.add(n.name+"."+c.Name, "", kindOp, n)
		cn.build = func(_ *Task, outs []any) any { return collector[K, V](outs) }
		outs[i] = cn
		res[c.Name] = Stream[K, V]{g: s.g, n: cn}
	}
	n.build = func(_ *Task, built []any) any {
		dst := make([]Collector[K, V], len(built))
		for i := range built {
			dst[i] = built[i].(Collector[K, V])
		}
		return collectFunc[K, V](func(r *Record[K, V]) {
			for i, c := range cases {
				if c.When == nil || c.When(*r) {
					dst[i].Collect(r)
					return
				}
			}
		})
	}
	return res
}

// Merge interleaves several streams of the same types into one.
func Merge[K, V any](streams ...Stream[K, V]) Stream[K, V] {
	if len(streams) == 0 {
		panic("engine: Merge of no streams")
	}
	ins := make([]*node, len(streams))
	for i, s := range streams {
		ins[i] = s.n
	}
	g := streams[0].g
	n := g.add("", "merge", kindOp, ins...)
	n.build = func(_ *Task, outs []any) any { return collector[K, V](outs) }
	return Stream[K, V]{g: g, n: n}
}

// KeyBy gives each record the key fn returns. Run distributed, the records
// go through a repartition topic (named after the graph and the operator)
// so that each key's records meet in one task; key and value cross it as
// JSON. KeyByWith takes the serdes.
//
// A repartition topic partition interleaves the records of every task
// writing to it, each in its own event-time order. So that a slow upstream
// task does not make a fast one's records late, windows after a KeyBy
// track a watermark per upstream task, as Flink does per channel: each
// record crosses with its writer's watermark (header runnel.origin), and
// every writer broadcasts its watermark to all partitions at each
// checkpoint (Task.Markers), so partitions it writes nothing to still see
// its progress. The runtime tells the reading tasks how many writers to
// wait for (Task.ExpectUpstreams). At the end of a bounded input whose
// windows close, every writer also says that it ended
// (Task.ClosingMarkers), and a reading task closes its windows once all
// of them have.
func KeyBy[K, V any, K2 comparable](s Stream[K, V], fn func(Record[K, V]) K2, o ...Opt) Stream[K2, V] {
	return KeyByWith(s, fn, JSON[K2](), JSON[V](), o...)
}

// KeyByWith is KeyBy with the serdes of the repartition topic.
func KeyByWith[K, V any, K2 comparable](s Stream[K, V], fn func(Record[K, V]) K2, keys Serde[K2], values Serde[V], o ...Opt) Stream[K2, V] {
	n := s.g.add(nameOf(o), "keyby", kindKeyBy, s.n)
	n.sinkName = s.g.name + "-" + n.name + "-repartition"
	n.build = func(t *Task, outs []any) any {
		out := collector[K2, V](outs)
		var scratch Record[K2, V]
		return collectFunc[K, V](func(r *Record[K, V]) {
			scratch.Key = fn(*r)
			scratch.Value = r.Value
			scratch.Time = r.Time
			scratch.Headers = r.Headers
			scratch.Pos = r.Pos
			out.Collect(&scratch)
		})
	}
	n.buildSend = func(t *Task) any {
		ks := &keyBySend{output: n.sinkName, sent: math.MinInt64}
		ks.wm.init(WindowSpec{})
		t.keyBys = append(t.keyBys, ks)
		var out Raw // the output copies what it keeps
		return collectFunc[K, V](func(r *Record[K, V]) {
			ks.wm.observe(r.Pos.Input, r.Time)
			if !encode(t, n.name, keys, values, fn(*r), r.Value, &out) {
				return
			}
			out.Time, out.Pos = r.Time, r.Pos
			// A new slice: the output's copy of the record keeps it.
			out.Headers = make([]Header, 0, len(r.Headers)+1)
			out.Headers = append(append(out.Headers, r.Headers...), Header{HeaderOrigin, encodeOrigin(t.id, ks.wm.current)})
			t.write(n.sinkName, &out)
		})
	}
	n.buildRecv = func(t *Task, outs []any) any {
		out := collector[K2, V](outs)
		var scratch Record[K2, V]
		t.recvs = append(t.recvs, n.sinkName)
		return func(raw *Raw) {
			if h := len(raw.Headers); h > 0 && raw.Headers[h-1].Key == HeaderWatermark {
				v := raw.Headers[h-1].Value
				if task, ok := decodeEnd(v); ok {
					t.upstreamEnded(Input{Stream: n.sinkName, Partition: task}, raw.Pos)
				} else if task, ok := decodeIdle(v); ok {
					in := Input{Stream: n.sinkName, Partition: task}
					t.ends.note(in)
					for _, c := range t.clocked {
						c.idleInput(in)
					}
				} else if task, wm, ok := decodeOrigin(v); ok {
					in := Input{Stream: n.sinkName, Partition: task}
					t.ends.note(in)
					for _, c := range t.clocked {
						c.observeInput(in, wm)
					}
				}
				return
			}
			if !decode(t, n.name, keys, values, raw, &scratch) {
				return
			}
			if h := len(raw.Headers); h > 0 && raw.Headers[h-1].Key == HeaderOrigin {
				if task, wm, ok := decodeOrigin(raw.Headers[h-1].Value); ok {
					t.origin = origin{true, Input{Stream: n.sinkName, Partition: task}, wm}
					t.ends.note(t.origin.in)
				}
				scratch.Headers = raw.Headers[:h-1]
			}
			out.Collect(&scratch)
		}
	}
	return Stream[K2, V]{g: s.g, n: n}
}

// keyBySend is the writing half of a KeyBy in a task: it tracks the
// task's watermark over its inputs (the smallest of their largest event
// times) for the origin headers and markers.
type keyBySend struct {
	output string
	wm     watermarks
	sent   int64 // the watermark of the last marker
	idle   bool  // the last marker said idle
}

// Headers of records in repartition topics. HeaderOrigin is on every
// record: the writing task and its watermark then; HeaderWatermark makes a
// marker record, which carries only that. Both are "task\x00watermark" in
// decimal; a marker may instead say "task\x00idle" (the task read nothing
// lately: do not wait for it until its next record; Task.Markers) or
// "task\x00end" (the task's input ended and it writes nothing more in
// this run; Task.ClosingMarkers). Readers ignore markers they do not know.
const (
	HeaderOrigin    = "runnel.origin"
	HeaderWatermark = "runnel.watermark"
)

func encodeOrigin(task int32, wm int64) []byte {
	b := strconv.AppendInt(nil, int64(task), 10)
	return strconv.AppendInt(append(b, 0), wm, 10)
}

// encodeIdle is the value of an idle marker: "task\x00idle".
func encodeIdle(task int32) []byte {
	return append(strconv.AppendInt(nil, int64(task), 10), "\x00idle"...)
}

// encodeEnd is the value of an end marker: "task\x00end".
func encodeEnd(task int32) []byte {
	return append(strconv.AppendInt(nil, int64(task), 10), "\x00end"...)
}

func decodeEnd(b []byte) (int32, bool) {
	s, ok := strings.CutSuffix(string(b), "\x00end")
	if !ok {
		return 0, false
	}
	task, err := strconv.ParseInt(s, 10, 32)
	return int32(task), err == nil
}

func decodeIdle(b []byte) (int32, bool) {
	s, ok := strings.CutSuffix(string(b), "\x00idle")
	if !ok {
		return 0, false
	}
	task, err := strconv.ParseInt(s, 10, 32)
	return int32(task), err == nil
}

func decodeOrigin(b []byte) (int32, int64, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return 0, 0, false
	}
	task, err1 := strconv.ParseInt(string(b[:i]), 10, 32)
	wm, err2 := strconv.ParseInt(string(b[i+1:]), 10, 64)
	return int32(task), wm, err1 == nil && err2 == nil
}
