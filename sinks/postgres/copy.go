package postgres

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// The binary COPY stream's header (signature, flags, header extension
// length) and trailer (a field count of -1).
var (
	copyHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyTrailer = []byte{0xff, 0xff}
)

// copyStatement is the COPY of rows with the named columns into table.
func copyStatement(table pgx.Identifier, names []string) string {
	return fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table.Sanitize(), quoteList(names))
}

// copyRows copies the rows of ops, which all hold the named columns, into
// table.
// REQUIRES: t.mu.
func (s *Sink) copyRows(ctx context.Context, t *task, table pgx.Identifier, names []string, ops []*op) error {
	_, err := t.conn.PgConn().CopyFrom(ctx, &copyReader{ops: ops}, copyStatement(table, names))
	return err
}

// copyReader reads as a binary COPY stream the rows of ops and, with ch
// set (a stream), of the chunks of ops received from it until it is
// closed.
type copyReader struct {
	ops     []*op
	ch      <-chan []*op
	ctx     context.Context // ends a stream's wait
	pending []byte          // what is left of the part being read
	started bool
	ended   bool // the trailer was queued
}

func (r *copyReader) Read(p []byte) (int, error) {
	if !r.started {
		r.started, r.pending = true, copyHeader
	}
	n := 0
	for n < len(p) {
		if len(r.pending) > 0 {
			c := copy(p[n:], r.pending)
			r.pending = r.pending[c:]
			n += c
			continue
		}
		if len(r.ops) > 0 {
			r.pending, r.ops = r.ops[0].row, r.ops[1:]
			continue
		}
		if r.ended {
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		}
		if r.ch == nil {
			r.ended, r.pending = true, copyTrailer
			continue
		}
		// A stream: take what has come; wait only with nothing to return.
		if n > 0 {
			select {
			case chunk, ok := <-r.ch:
				r.take(chunk, ok)
				continue
			default:
				return n, nil
			}
		}
		select {
		case chunk, ok := <-r.ch:
			r.take(chunk, ok)
		case <-r.ctx.Done():
			return n, r.ctx.Err()
		}
	}
	return n, nil
}

// take notes what a stream's channel gave.
func (r *copyReader) take(chunk []*op, ok bool) {
	if !ok {
		r.ch = nil
		return
	}
	r.ops = chunk
}

var _ io.Reader = (*copyReader)(nil)
