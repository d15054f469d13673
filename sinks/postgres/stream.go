package postgres

import (
	"context"
)

// In insert mode a batch is not sent when it is full: its COPY starts with
// its first rows and Write feeds it as it converts more, so that
// PostgreSQL stores rows while the sink parses the next ones. The batch's
// ops stay in memory until it ends (BatchRows reached, or Prepare): if
// the COPY failed on a row, they are sent again by sendIsolated, which
// isolates the bad ones. An op the COPY cannot take (a tombstone, or a
// row leaving out other columns) stops the feeding: it and the ops after
// it are sent when the batch ends.

// streamChunk is how many ops Write hands to the COPY at once.
const streamChunk = 256

// streamDepth is how many chunks may wait for the COPY before Write
// blocks.
const streamDepth = 16

// stream is the COPY of a batch's first ops, in flight on the task's
// connection: nothing else uses the connection until it ends.
type stream struct {
	ch    chan []*op    // ops to copy, in order; closed when the batch ends
	done  chan struct{} // closed when the COPY returned
	n     int           // ops handed to it
	whole bool          // began without a savepoint: nothing else was written
	err   error         // the COPY's, once done is closed
}

// feed hands the ops converted since the last feed to the batch's COPY,
// starting it with the batch's first ops.
// REQUIRES: t.mu.
func (s *Sink) feed(ctx context.Context, t *task) error {
	if s.noStream || s.cfg.Mode != ModeInsert || t.streamOff || len(t.ops) == 0 {
		return nil
	}
	first := t.ops[0]
	start := 0
	if t.st != nil {
		start = t.st.n
	}
	ops := t.ops[start:]
	k := 0
	for k < len(ops) && !ops[k].del && ops[k].omit == first.omit {
		k++
	}
	if k < len(ops) {
		t.streamOff = true
	}
	if k == 0 {
		return nil
	}
	if t.st == nil {
		if err := s.begin(ctx, t); err != nil {
			return err
		}
		t.st = s.startStream(t, first.omit)
	}
	select {
	case t.st.ch <- ops[:k:k]:
		t.st.n += k
	case <-t.st.done: // it failed: the batch's end sends the ops again
		t.streamOff = true
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// startStream starts the COPY of ops with omit.
// REQUIRES: t.mu, a transaction open, no stream.
func (s *Sink) startStream(t *task, omit uint64) *stream {
	st := &stream{ch: make(chan []*op, streamDepth), done: make(chan struct{}), whole: !t.wrote}
	r := &copyReader{ch: st.ch, ctx: t.ctx}
	sql := copyStatement(s.tb.target, s.presentNames(omit))
	conn, ctx := t.conn, t.ctx
	go func() {
		defer close(st.done)
		if !st.whole {
			if _, err := conn.Exec(ctx, sqlSavepoint); err != nil {
				st.err = err
				return
			}
		}
		_, st.err = conn.PgConn().CopyFrom(ctx, r, sql)
	}()
	return st
}

// endStream ends the batch's COPY and returns how many of the batch's
// first ops it wrote: all it was given, or none when it failed on a row
// (rolled back then). Any other failure is returned.
// REQUIRES: t.mu.
func (s *Sink) endStream(ctx context.Context, t *task) (int, error) {
	st := t.st
	if st == nil {
		return 0, nil
	}
	t.st = nil
	close(st.ch)
	select {
	case <-st.done:
	case <-ctx.Done():
		t.cancel() // the COPY ends, the connection with it
		<-st.done
		return 0, ctx.Err()
	}
	if st.err == nil {
		if !st.whole {
			if _, err := t.conn.Exec(ctx, sqlRelease); err != nil {
				return 0, err
			}
		}
		t.wrote = true
		return st.n, nil
	}
	if rowError(st.err) == nil {
		return 0, st.err
	}
	if err := s.undo(ctx, t, st.whole); err != nil {
		return 0, err
	}
	return 0, nil
}

// stopStream ends the COPY of a task being released, whatever it wrote:
// the transaction is rolled back next.
// REQUIRES: t.mu.
func (t *task) stopStream(ctx context.Context) {
	if t.st == nil {
		return
	}
	close(t.st.ch)
	select {
	case <-t.st.done:
	case <-ctx.Done():
		t.cancel()
		<-t.st.done
	}
	t.st = nil
}
