package elasticsearch

import (
	"context"
	"errors"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// TestDeletePositions: DeletePositions empties the consumer's task
// documents (fencing a Sink that still has a task open) and deletes its
// per-partition documents, and leaves other consumers' documents and the
// indexed documents alone.
func TestDeletePositions(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	ctx := context.Background()
	r := newSink(t, cfg)
	// No offsets index yet: nothing stored, nothing to delete.
	if stored, err := r.StoredPositions(ctx); err != nil || len(stored) != 0 {
		t.Fatalf("StoredPositions without an index: %v, %v", stored, err)
	}
	requireNoError(t, r.DeletePositions(ctx))

	a := newSink(t, cfg)
	otherCfg := cfg
	otherCfg.Consumer = cfg.Consumer + "-other"
	other := newSink(t, otherCfg)
	openTask(t, a, 0)
	openTask(t, a, 1)
	openTask(t, a, 2) // opened, never committed: no positions
	openTask(t, other, 0)
	r0, r1 := rec("orders", 0, 41, "a", `{"v":1}`), rec("orders", 1, 9, "b", `{"v":2}`)
	write(t, a, 0, r0)
	write(t, a, 1, r1)
	check := connect.Checkpoint{0: {r0.Pos.Input: 42}, 1: {r1.Pos.Input: 10}}
	commit(t, a, check)
	o := rec("orders", 0, 5, "o", `{"v":3}`)
	write(t, other, 0, o)
	commit(t, other, cp(o))

	stored, err := r.StoredPositions(ctx)
	requireNoError(t, err)
	if len(stored) != 2 || !stored[0].Equal(check[0]) || !stored[1].Equal(check[1]) {
		t.Fatalf("StoredPositions = %v, want %v", stored, check)
	}

	requireNoError(t, r.DeletePositions(ctx))
	if stored, err := r.StoredPositions(ctx); err != nil || len(stored) != 0 {
		t.Fatalf("after DeletePositions: %v, %v", stored, err)
	}
	if td := c.taskDoc(cfg, 0); len(td.Positions) != 0 || td.Generation != 2 || td.Consumer != cfg.Consumer {
		t.Fatalf("task document 0 after DeletePositions: %+v", td)
	}
	if td := c.taskDoc(cfg, 2); td.Generation != 1 {
		t.Fatalf("task document 2, which held no positions, was written: %+v", td)
	}
	for _, in := range []engine.Input{r0.Pos.Input, r1.Pos.Input} {
		if d := c.get(cfg.OffsetsIndex, PartitionDocID(cfg.Consumer, in)); d.Found {
			t.Fatalf("the per-partition document of %v is still there: %s", in, d.Source)
		}
	}
	if pd := c.partitionDoc(otherCfg, o.Pos.Input); pd.NextOffset != 6 {
		t.Fatalf("the other consumer's per-partition document: %+v", pd)
	}
	c.requireDoc(cfg.Index, "a", `{"v":1}`, 42)
	c.requireDoc(cfg.Index, "o", `{"v":3}`, 6)

	// a still had task 0 open: fenced.
	r2 := rec("orders", 0, 42, "a", `{"v":4}`)
	write(t, a, 0, r2)
	requireNoError(t, a.Prepare(ctx, cp(r2)))
	if err := a.Commit(ctx, cp(r2)); !errors.Is(err, ErrFenced) {
		t.Fatalf("a's Commit after DeletePositions: %v, want ErrFenced", err)
	}
	// A new Sink starts over; the other consumer resumes where it was.
	b := newSink(t, cfg)
	if p := openTask(t, b, 0); p != nil {
		t.Fatalf("after DeletePositions, OpenTask reports %v", p)
	}
	if p := openTask(t, newSink(t, otherCfg), 0); !p.Equal(cp(o)[0]) {
		t.Fatalf("the other consumer opens at %v, want %v", p, cp(o)[0])
	}
}
