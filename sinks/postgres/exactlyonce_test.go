package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// rows returns n records {"id": first+i} at offsets first+i.
func rows(first, n int) []*connect.Record {
	recs := make([]*connect.Record, n)
	for i := range recs {
		recs[i] = rec(int64(first+i), fmt.Sprintf(`{"id":%d}`, first+i))
	}
	return recs
}

func count(t testing.TB, d db) string {
	t.Helper()
	return d.strings(t, `SELECT count(*)::text FROM t`)[0]
}

func TestExactlyOnce(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	s := newSink(t, d, Config{Table: "t"})
	if s.Delivery() != connect.ExactlyOnce {
		t.Fatalf("delivery %v", s.Delivery())
	}
	if p := openTask(t, s, 0); p != nil {
		t.Fatalf("positions %v before any commit", p)
	}
	write(t, s, 0, rows(0, 3)...)
	checkpoint(t, s, 3)
	// Another worker (a restarted process) resumes there.
	s2 := newSink(t, d, Config{Table: "t"})
	if p := openTask(t, s2, 0); !p.Equal(upTo(3)) {
		t.Fatalf("positions %v, want %v", p, upTo(3))
	}
	requireEqual(t, []string{count(t, d)}, []string{"3"})
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', consumer, topic, partition, next_offset, task, generation) FROM runnel_offsets`),
		[]string{"orders/1/pg|orders|0|3|0|1"})
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', consumer, task, generation) FROM runnel_offsets_fences`),
		[]string{"orders/1/pg|0|2"})
}

// TestUncommittedDiscarded: what was written and not committed is gone
// after CloseTask, a new OpenTask, or the death of the process.
func TestUncommittedDiscarded(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"CloseTask", "OpenTask again", "crash"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			d := newDB(t, `CREATE TABLE t (id int)`)
			s := newSink(t, d, Config{Table: "t", BatchRows: 400})
			openTask(t, s, 0)
			write(t, s, 0, rows(0, 10)...)
			checkpoint(t, s, 10)
			write(t, s, 0, rows(10, 1000)...) // sent: batches of 400, a COPY in flight
			ctx := context.Background()
			switch how {
			case "CloseTask":
				requireNoError(t, s.CloseTask(ctx, 0))
				requireErrorContains(t, s.Write(ctx, 0, rows(0, 1)), "task 0 is not open")
			case "OpenTask again":
				if p := openTask(t, s, 0); !p.Equal(upTo(10)) {
					t.Fatalf("positions %v", p)
				}
			case "crash":
				s.mu.Lock()
				tk := s.mu.tasks[0]
				s.mu.Unlock()
				tk.conn.PgConn().Conn().Close() // the server sees the client die
			}
			s2 := newSink(t, d, Config{Table: "t"})
			if p := openTask(t, s2, 0); !p.Equal(upTo(10)) {
				t.Fatalf("positions %v, want %v", p, upTo(10))
			}
			requireEqual(t, []string{count(t, d)}, []string{"10"})
			write(t, s2, 0, rows(10, 5)...)
			checkpoint(t, s2, 15)
			requireEqual(t, []string{count(t, d)}, []string{"15"})
		})
	}
}

// TestCommitAtomic: a commit that fails before COMMIT leaves neither the
// rows nor the positions, and the task in doubt until it is opened again.
func TestCommitAtomic(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	s := newSink(t, d, Config{Table: "t"})
	openTask(t, s, 0)
	write(t, s, 0, rows(0, 2)...)
	checkpoint(t, s, 2)
	write(t, s, 0, rows(2, 5)...)
	s.afterFence = func(id connect.TaskID) {
		s.mu.Lock()
		tk := s.mu.tasks[id]
		s.mu.Unlock()
		tk.conn.PgConn().Conn().Close() // the connection dies before COMMIT
	}
	ctx := context.Background()
	cp := connect.Checkpoint{0: upTo(7)}
	requireNoError(t, s.Prepare(ctx, cp))
	requireErrorContains(t, s.Commit(ctx, cp), "task 0: committing")
	requireErrorContains(t, s.Write(ctx, 0, rows(7, 1)), "a failure left it in doubt, open it again")
	requireErrorContains(t, s.Commit(ctx, cp), "in doubt")
	s.afterFence = nil
	requireEqual(t, []string{count(t, d)}, []string{"2"})
	if p := openTask(t, s, 0); !p.Equal(upTo(2)) {
		t.Fatalf("positions %v, want %v", p, upTo(2))
	}
	write(t, s, 0, rows(2, 5)...)
	checkpoint(t, s, 7)
	requireEqual(t, []string{count(t, d)}, []string{"7"})
}

// TestIdleCommit: a task with nothing written commits its new positions;
// with the same positions, Commit does nothing.
func TestIdleCommit(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	s := newSink(t, d, Config{Table: "t"})
	openTask(t, s, 0)
	checkpoint(t, s, 5)
	requireEqual(t, d.strings(t, `SELECT next_offset::text FROM runnel_offsets`), []string{"5"})
	before := d.strings(t, `SELECT updated_at::text FROM runnel_offsets`)
	checkpoint(t, s, 5)
	requireEqual(t, d.strings(t, `SELECT updated_at::text FROM runnel_offsets`), before)
}

// TestFencing: two workers believe they own task 0; only the newer one's
// writes land.
func TestFencing(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	a := newSink(t, d, Config{Table: "t"})
	b := newSink(t, d, Config{Table: "t"})
	ctx := context.Background()
	openTask(t, a, 0)
	write(t, a, 0, rows(0, 2)...)
	checkpoint(t, a, 2)
	write(t, a, 0, rows(2, 600)...) // in a's open transaction
	requireNoError(t, a.Prepare(ctx, connect.Checkpoint{0: upTo(602)}))

	if p := openTask(t, b, 0); !p.Equal(upTo(2)) { // a rebalance gave b the task
		t.Fatalf("b resumes at %v, want %v", p, upTo(2))
	}
	err := a.Commit(ctx, connect.Checkpoint{0: upTo(602)})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("a's commit: %v, want ErrFenced", err)
	}
	requireErrorContains(t, err, `another worker took task 0 of consumer "orders/1/pg" (generation 2, ours 1); nothing committed`)
	if err := a.Write(ctx, 0, rows(602, 1)); !errors.Is(err, ErrFenced) {
		t.Fatalf("a's write after: %v, want ErrFenced", err)
	}
	requireEqual(t, []string{count(t, d)}, []string{"2"})

	write(t, b, 0, rows(2, 3)...)
	checkpoint(t, b, 5)
	requireEqual(t, []string{count(t, d)}, []string{"5"})
	requireEqual(t, d.strings(t, `SELECT concat_ws('|', next_offset, generation) FROM runnel_offsets`), []string{"5|2"})
}

// TestFencingRace: a's commit holds the fence when b opens the task: b
// waits for it, and resumes after what a committed.
func TestFencingRace(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	a := newSink(t, d, Config{Table: "t"})
	b := newSink(t, d, Config{Table: "t"})
	ctx := context.Background()
	openTask(t, a, 0)
	write(t, a, 0, rows(0, 4)...)
	locked, release := make(chan struct{}), make(chan struct{})
	a.afterFence = func(connect.TaskID) {
		close(locked)
		<-release
	}
	aDone := make(chan error, 1)
	go func() { aDone <- a.Commit(ctx, connect.Checkpoint{0: upTo(4)}) }()
	<-locked // a's transaction holds the fence row, not committed

	type opened struct {
		pos engine.Positions
		err error
	}
	bDone := make(chan opened, 1)
	go func() {
		p, err := b.OpenTask(ctx, 0)
		bDone <- opened{p, err}
	}()
	// b's generation bump waits for a's lock.
	waitFor(t, func() bool {
		return d.strings(t, `SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)[0] == "1"
	})
	select {
	case r := <-bDone:
		t.Fatalf("b opened the task while a's commit held the fence: %+v", r)
	default:
	}
	close(release)
	requireNoError(t, <-aDone)
	r := <-bDone
	requireNoError(t, r.err)
	if !r.pos.Equal(upTo(4)) {
		t.Fatalf("b resumes at %v, want a's commit %v", r.pos, upTo(4))
	}
	requireEqual(t, []string{count(t, d)}, []string{"4"})

	// a is fenced from now on.
	a.afterFence = nil
	write(t, a, 0, rows(4, 1)...)
	if err := a.Commit(ctx, connect.Checkpoint{0: upTo(5)}); !errors.Is(err, ErrFenced) {
		t.Fatalf("a's second commit: %v, want ErrFenced", err)
	}
	requireEqual(t, []string{count(t, d)}, []string{"4"})
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	d := newDB(t, `CREATE TABLE t (id int)`)
	s := newSink(t, d, Config{Table: "t"})
	openTask(t, s, 0)
	write(t, s, 0, rows(0, 1)...)
	ctx := context.Background()
	requireNoError(t, s.Close(ctx))
	requireNoError(t, s.Close(ctx))
	for _, err := range []error{
		s.Write(ctx, 0, nil),
		s.Commit(ctx, connect.Checkpoint{0: upTo(1)}),
		s.CloseTask(ctx, 0),
		func() error { _, err := s.OpenTask(ctx, 0); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v, want ErrClosed", err)
		}
	}
	requireEqual(t, []string{count(t, d)}, []string{"0"})
}
