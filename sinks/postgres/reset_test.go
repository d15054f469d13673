package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/runnel-io/runnel/connect"
)

// TestDeletePositions: DeletePositions forgets the consumer's positions,
// of every task, and no other consumer's; the rows stay; a worker that
// still had a task open is fenced.
func TestDeletePositions(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	ctx := context.Background()
	r := newSink(t, d, Config{Table: "t"})
	// Before any task was opened there are no tables, and nothing to do.
	if stored, err := r.StoredPositions(ctx); err != nil || len(stored) != 0 {
		t.Fatalf("StoredPositions without tables: %v, %v", stored, err)
	}
	requireNoError(t, r.DeletePositions(ctx))

	a := newSink(t, d, Config{Table: "t"})
	other := newSink(t, d, Config{Table: "t", Consumer: "other/1/pg"})
	openTask(t, a, 0)
	openTask(t, a, 1)
	openTask(t, other, 0)
	write(t, a, 0, rows(0, 3)...)
	checkpoint(t, a, 3)
	cp := connect.Checkpoint{1: {{Stream: "orders", Partition: 1}: 7}}
	requireNoError(t, a.Commit(ctx, cp))
	write(t, other, 0, rows(100, 2)...)
	checkpoint(t, other, 2)

	stored, err := r.StoredPositions(ctx)
	requireNoError(t, err)
	if len(stored) != 2 || !stored[0].Equal(upTo(3)) || !stored[1].Equal(cp[1]) {
		t.Fatalf("StoredPositions = %v", stored)
	}

	requireNoError(t, r.DeletePositions(ctx))
	if stored, err := r.StoredPositions(ctx); err != nil || len(stored) != 0 {
		t.Fatalf("after DeletePositions: %v, %v", stored, err)
	}
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', consumer, next_offset) FROM runnel_offsets`), []string{"other/1/pg|2"})
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', consumer, task, generation) FROM runnel_offsets_fences ORDER BY consumer, task`),
		[]string{"orders/1/pg|0|2", "orders/1/pg|1|2", "other/1/pg|0|1"})
	requireEqual(t, []string{count(t, d)}, []string{"5"})

	// a still had task 0 open: it may not store positions again.
	write(t, a, 0, rows(3, 1)...)
	requireNoError(t, a.Prepare(ctx, connect.Checkpoint{0: upTo(4)}))
	if err := a.Commit(ctx, connect.Checkpoint{0: upTo(4)}); !errors.Is(err, ErrFenced) {
		t.Fatalf("a's commit after DeletePositions: %v, want ErrFenced", err)
	}
	// A new worker finds none and starts over.
	b := newSink(t, d, Config{Table: "t"})
	if p := openTask(t, b, 0); p != nil {
		t.Fatalf("after DeletePositions, OpenTask reports %v", p)
	}
	write(t, b, 0, rows(0, 3)...)
	checkpoint(t, b, 3)
	requireEqual(t, []string{count(t, d)}, []string{"8"}) // insert mode: beside the old rows
}
