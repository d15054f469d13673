package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Errors of a Source used out of order.
var (
	// ErrClosed is returned by Open and Poll after Close.
	ErrClosed = errors.New("postgres source: closed")
	// ErrNotOpen is returned by Poll before Open.
	ErrNotOpen = errors.New("postgres source: not open")
)

// Reconnection after a lost connection: attempts in a row, the wait before
// the second, doubling up to maxBackoff.
const (
	reconnectAttempts = 5
	reconnectBackoff  = 100 * time.Millisecond
	maxBackoff        = 2 * time.Second
)

// sessionParams are set on every connection: values are converted, and
// timestamp columns compared with positions, in UTC and ISO formats.
var sessionParams = map[string]string{"timezone": "UTC", "datestyle": "ISO, YMD", "intervalstyle": "iso_8601"}

// Source polls a table or query of PostgreSQL; see the package doc.
// Create it with New.
type Source struct {
	cfg     Config
	connCfg *pgx.ConnConfig
	in      engine.Input
	q       *queries
	lag     time.Duration // SafeLag in timestamp mode
	log     *slog.Logger

	a        connect.Assignments
	conn     *pgx.Conn // nil when lost and not yet reconnected
	opened   bool
	closed   bool
	assigned bool
	stored   int64 // the position in OffsetsFile at Open
	hasStore bool
	pos      int64                     // reading resumes after it; minPos: at the first row
	end      bound                     // a bounded run's end, once known
	ended    bool                      // a bounded run read everything
	due      time.Time                 // no query before: the last found every row read
	hint     struct{ recs, bytes int } // the size of the last batch

	stopOnce sync.Once
	stop     chan struct{} // closed by StopAtEnd

	offMu     sync.Mutex
	committed int64 // what OffsetsFile holds; REQUIRES: offMu
	hasCommit bool  // REQUIRES: offMu
}

var _ connect.Source = (*Source)(nil)

// New returns a Source for cfg, after validating it. It connects to
// nothing: Open does.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	connCfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres source: %s: %w", fieldURL, err)
	}
	for k := range connCfg.RuntimeParams {
		if _, ok := sessionParams[strings.ToLower(k)]; ok {
			delete(connCfg.RuntimeParams, k)
		}
	}
	for k, v := range sessionParams {
		connCfg.RuntimeParams[k] = v
	}
	s := &Source{
		cfg:     cfg,
		connCfg: connCfg,
		in:      engine.Input{Stream: "postgres:" + cfg.Name, Partition: 0},
		q:       newQueries(&cfg),
		log:     cfg.Logger,
		pos:     minPos,
		stop:    make(chan struct{}),
	}
	if cfg.SafeLag != nil {
		s.lag = *cfg.SafeLag
	}
	if cfg.OffsetsFile != "" {
		abs, err := filepath.Abs(cfg.OffsetsFile)
		if err != nil {
			return nil, fmt.Errorf("postgres source: %s: %w", fieldOffsetsFile, err)
		}
		s.cfg.OffsetsFile = abs
	}
	return s, nil
}

// Input returns the input of the records: {Stream: "postgres:" + Name,
// Partition: 0}. Positions of task 0 are keyed by it.
func (s *Source) Input() engine.Input { return s.in }

// StopAtEnd makes the run bounded: Poll returns connect.ErrEndOfInput
// once it has read the rows there are when it next queries, in
// timestamp+incrementing mode those older than SafeLag then. Safe to call
// at any time, from any goroutine; a Poll waiting for rows stops waiting.
func (s *Source) StopAtEnd() {
	s.stopOnce.Do(func() { close(s.stop) })
}

func (s *Source) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Open reads OffsetsFile, if set, connects, and checks the columns of the
// table or query against the configuration: a missing column, or one of
// the wrong type, is an error naming the field. Task 0 is assigned, and
// reading starts, on the first Poll.
func (s *Source) Open(ctx context.Context, a connect.Assignments) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.opened:
		return errors.New("postgres source: already open")
	case a == nil:
		return errors.New("postgres source: Open needs Assignments")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.cfg.OffsetsFile != "" {
		next, ok, err := readOffsets(s.cfg.OffsetsFile, s.in.Stream, s.cfg.Mode)
		if err != nil {
			return err
		}
		s.stored, s.hasStore = next, ok
		s.offMu.Lock()
		s.committed, s.hasCommit = next, ok
		s.offMu.Unlock()
	}
	conn, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return fmt.Errorf("postgres source: %s: connecting: %w", s.cfg.Name, err)
	}
	if err := s.check(ctx, conn); err != nil {
		conn.Close(ctx)
		return err
	}
	s.conn, s.a, s.opened = conn, a, true
	return nil
}

// check reads the columns of the table or query, and no row.
func (s *Source) check(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, s.q.probe(), pgx.QueryExecModeDescribeExec, resultFormats)
	if err != nil {
		return fmt.Errorf("postgres source: %s: reading the columns: %w", s.cfg.Name, err)
	}
	defer rows.Close()
	if _, err := newLayout(rows.FieldDescriptions(), &s.cfg); err != nil {
		return err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres source: %s: reading the columns: %w", s.cfg.Name, err)
	}
	return nil
}

// Poll returns the next records, in one Batch of task 0: at most
// BatchSize, unless the rows sharing the last one's position are more
// (they are never split between batches; see the package doc). On the
// first call it asks the Assignments for the position to resume from;
// without one it resumes at OffsetsFile's, else at Start, else at the
// first row. When every row was read it waits PollInterval between
// queries, until there are rows or ctx ends (it returns ctx's error);
// after StopAtEnd it returns connect.ErrEndOfInput instead. A lost
// connection is reopened, up to 5 attempts in a row with backoff; an
// error of the query itself is returned at once. The records and their
// bytes are never written to again: a sink may keep them.
func (s *Source) Poll(ctx context.Context) ([]connect.Batch, error) {
	switch {
	case s.closed:
		return nil, ErrClosed
	case !s.opened:
		return nil, ErrNotOpen
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.assigned {
		if err := s.assign(ctx); err != nil {
			return nil, err
		}
	}
	for {
		if s.ended {
			return nil, connect.ErrEndOfInput
		}
		if s.stopping() {
			if !s.end.set {
				if err := s.findEnd(ctx); err != nil {
					return nil, err
				}
				continue
			}
		} else if err := s.wait(ctx); err != nil {
			return nil, err
		}
		b, more, err := s.fetch(ctx)
		if err != nil {
			return nil, err
		}
		if len(b.recs) == 0 {
			if s.end.set {
				s.ended = true
				continue
			}
			s.due = time.Now().Add(s.cfg.PollInterval)
			continue
		}
		s.pos = b.pos[len(b.pos)-1]
		s.hint.recs, s.hint.bytes = len(b.recs), len(b.buf)
		s.due = time.Time{}
		if !more {
			s.due = time.Now().Add(s.cfg.PollInterval)
		}
		return []connect.Batch{{Task: 0, Records: b.records()}}, nil
	}
}

// wait waits until the next query is due, or StopAtEnd is called.
func (s *Source) wait(ctx context.Context) error {
	d := time.Until(s.due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-s.stop:
	}
	return nil
}

// assign asks for task 0 and resumes at the position returned.
func (s *Source) assign(ctx context.Context) error {
	pos, err := s.a.Assigned(ctx, []connect.TaskID{0})
	if err != nil {
		return fmt.Errorf("postgres source: assigning task 0: %w", err)
	}
	if next, ok := pos[0][s.in]; ok {
		s.pos = next
	} else if s.hasStore {
		s.pos = s.stored
	} else if start, ok := s.cfg.startPosition(); ok {
		s.pos = start
	}
	s.assigned = true
	return nil
}

// findEnd fixes where the bounded run ends: at the largest id there is,
// or at the timestamps older than SafeLag now. A run over an empty table
// (incrementing mode) ends at once.
func (s *Source) findEnd(ctx context.Context) error {
	sql, args := s.q.end(s.lag)
	return s.withConn(ctx, func(conn *pgx.Conn) error {
		if s.q.isTS {
			var t time.Time
			if err := conn.QueryRow(ctx, sql, args...).Scan(&t); err != nil {
				return fmt.Errorf("postgres source: %s: finding the end: %w", s.cfg.Name, err)
			}
			s.end = bound{set: true, pos: t.UnixMicro()}
			return nil
		}
		var max *int64
		if err := conn.QueryRow(ctx, sql, args...).Scan(&max); err != nil {
			return fmt.Errorf("postgres source: %s: finding the end: %w", s.cfg.Name, err)
		}
		if max == nil {
			s.end, s.ended = bound{set: true, pos: minPos}, true
			return nil
		}
		s.end = bound{set: true, pos: *max}
		return nil
	})
}

// withConn runs fn on the connection, opening one first when there is
// none. When fn fails because the connection was lost (or opening one
// fails) it tries again on a new connection, up to reconnectAttempts
// times in a row, waiting reconnectBackoff, doubling, in between; any
// other error is returned at once, ctx's error when ctx ended.
func (s *Source) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	backoff := reconnectBackoff
	for attempt := 1; ; attempt++ {
		err := s.reconnect(ctx)
		if err == nil {
			if err = fn(s.conn); err == nil {
				return nil
			}
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if s.conn != nil && !s.conn.IsClosed() {
			return err // the statement failed, not the connection
		}
		if attempt == reconnectAttempts {
			return fmt.Errorf("postgres source: %s: connection lost, %d attempts failed: %w", s.cfg.Name, attempt, err)
		}
		s.log.Warn("postgres source: connection lost; reconnecting", "name", s.cfg.Name, "attempt", attempt, "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// reconnect opens a connection when the current one is lost.
func (s *Source) reconnect(ctx context.Context) error {
	if s.conn != nil && !s.conn.IsClosed() {
		return nil
	}
	if s.conn != nil {
		s.conn.Close(ctx)
		s.conn = nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return fmt.Errorf("postgres source: %s: connecting: %w", s.cfg.Name, err)
	}
	s.conn = conn
	return nil
}

// Lag returns -1 for task 0: counting the rows left would cost a query
// as long as reading them. It is safe to call concurrently with Poll.
func (s *Source) Lag() map[connect.TaskID]int64 {
	return map[connect.TaskID]int64{0: -1}
}

// Commit stores the position of Input in task 0 of cp in OffsetsFile,
// atomically, when it differs from the stored one; it does nothing
// without OffsetsFile or without that position. It is safe to call
// concurrently with Poll.
func (s *Source) Commit(ctx context.Context, cp connect.Checkpoint) error {
	next, ok := cp[0][s.in]
	if s.cfg.OffsetsFile == "" || !ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.offMu.Lock()
	defer s.offMu.Unlock()
	if s.hasCommit && next == s.committed {
		return nil
	}
	if err := writeOffsets(s.cfg.OffsetsFile, s.in.Stream, s.cfg.Mode, next); err != nil {
		return err
	}
	s.committed, s.hasCommit = next, true
	return nil
}

// Close closes the connection. Open and Poll fail with ErrClosed
// afterwards. Close is idempotent.
func (s *Source) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(ctx)
	s.conn = nil
	if err != nil {
		return fmt.Errorf("postgres source: %s: closing: %w", s.cfg.Name, err)
	}
	return nil
}
