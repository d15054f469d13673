// Package enginetest runs an engine graph deterministically, for tests:
// feed records and watermarks to its sources, read what reaches its
// outputs. New runs the whole graph as one local task (KeyBy only sets
// keys); NewStage runs one stage of it as the runtime does distributed, so
// that tests can carry the repartition records and markers of one stage's
// tasks to the next stage's (Forward). Both run synchronously: after Send
// returns, every output the record caused is readable.
package enginetest

import (
	"fmt"
	"math"

	"github.com/runnel-io/runnel/engine"
)

// Driver drives one local task of a graph.
type Driver struct {
	task    *engine.Task
	outputs map[string][]*engine.Raw
	offsets map[string]int64
}

// New instantiates g as a local task.
func New(g *engine.Graph) (*Driver, error) {
	d := &Driver{outputs: map[string][]*engine.Raw{}, offsets: map[string]int64{}}
	t, err := g.NewLocalTask(0, engine.OutputFunc(func(out string, r *engine.Raw) {
		c := *r // the task reuses r
		d.outputs[out] = append(d.outputs[out], &c)
	}))
	if err != nil {
		return nil, err
	}
	d.task = t
	return d, nil
}

// NewStage instantiates stage stage of g as the task id, the way the
// runtime runs it: a KeyBy of the stage writes its repartition output
// (readable with Output, and carried to the next stage with Forward), and
// a stage after a KeyBy reads that output as its source, expecting
// upstreams writers (Task.ExpectUpstreams; 0: those it sees).
func NewStage(g *engine.Graph, stage int, id int32, upstreams int) (*Driver, error) {
	d := &Driver{outputs: map[string][]*engine.Raw{}, offsets: map[string]int64{}}
	t, err := g.NewTask(stage, id, engine.OutputFunc(func(out string, r *engine.Raw) {
		c := *r // the task reuses r
		d.outputs[out] = append(d.outputs[out], &c)
	}))
	if err != nil {
		return nil, err
	}
	if upstreams > 0 {
		t.ExpectUpstreams(upstreams)
	}
	d.task = t
	return d, nil
}

// Forward feeds recs, records a stage wrote to its repartition output
// named output (Output) and markers (Task.Markers, EndMarkers,
// ClosingMarkers), to d's task, which reads that output, in order, as
// partition 0 of it at d's next offsets.
func (d *Driver) Forward(output string, recs ...*engine.Raw) error {
	for _, r := range recs {
		id := output + "/0"
		off := d.offsets[id]
		d.offsets[id] = off + 1
		c := *r
		c.Pos = engine.Pos{Input: engine.Input{Stream: output}, Offset: off, Next: off + 1}
		if err := d.task.Process(output, &c); err != nil {
			return err
		}
	}
	return nil
}

// Task returns the driven task (for Snapshot, Restore, Metrics).
func (d *Driver) Task() *engine.Task { return d.task }

// Send feeds one record to the source named source, at event time ts (Unix
// ms), from partition 0 at the next offset of that source. The error is
// the task's under the Fail policy.
func (d *Driver) Send(source string, key, value []byte, ts int64) error {
	return d.SendAt(source, 0, key, value, ts)
}

// SendAt is Send from a given partition of the source, for watermarks that
// differ per input.
func (d *Driver) SendAt(source string, partition int32, key, value []byte, ts int64) error {
	id := fmt.Sprintf("%s/%d", source, partition)
	off := d.offsets[id]
	d.offsets[id] = off + 1
	return d.SendRaw(source, &engine.Raw{Key: key, Value: value, Time: ts,
		Pos: engine.Pos{Input: engine.Input{Stream: source, Partition: partition}, Offset: off, Next: off + 1}})
}

// SendRaw feeds a record as given.
func (d *Driver) SendRaw(source string, r *engine.Raw) error {
	return d.task.Process(source, r)
}

// Watermark moves the watermark of every window to at least ts.
func (d *Driver) Watermark(ts int64) error { return d.task.AdvanceWatermark(ts) }

// Close moves the watermarks to the end of time, closing every window;
// they stay there. End closes them the way a bounded run does.
func (d *Driver) Close() error { return d.task.AdvanceWatermark(math.MaxInt64) }

// End closes every open window, as at the end of a bounded input in a run
// that closes them (Task.CloseWindows).
func (d *Driver) End() error { return d.task.CloseWindows(engine.Pos{}) }

// Tick gives the task the wall clock, for idle inputs.
func (d *Driver) Tick(now int64) error { return d.task.Tick(now) }

// Output returns what reached the output named name so far, and forgets
// it.
func (d *Driver) Output(name string) []*engine.Raw {
	out := d.outputs[name]
	delete(d.outputs, name)
	return out
}

// Read decodes and forgets what reached the output named name.
func Read[K, V any](d *Driver, name string, keys engine.Serde[K], values engine.Serde[V]) ([]engine.Record[K, V], error) {
	raws := d.Output(name)
	out := make([]engine.Record[K, V], 0, len(raws))
	for _, r := range raws {
		k, err := keys.Decode(r.Key)
		if err != nil {
			return nil, err
		}
		v, err := values.Decode(r.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, engine.Record[K, V]{Key: k, Value: v, Time: r.Time, Headers: r.Headers, Pos: r.Pos})
	}
	return out, nil
}
