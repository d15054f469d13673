package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

var (
	// ErrFenced is wrapped by the error of a Commit refused because
	// another worker opened the task since this one did (its generation
	// is newer): nothing of the task's transaction was committed, and the
	// task stays in doubt. The task belongs to the other worker now.
	ErrFenced = errors.New("postgres sink: fenced")
	// ErrClosed is returned by the methods of a closed Sink.
	ErrClosed = errors.New("postgres sink: closed")
)

// chunkRows is how many ops (and their values) a task allocates at once.
const chunkRows = 256

// Sink writes records to a PostgreSQL table, exactly once; see the
// package doc. Create it with New. Its methods are safe for concurrent
// use: calls on different tasks run in parallel, each task on its own
// connection.
type Sink struct {
	cfg     Config
	connCfg *pgx.ConnConfig
	tb      tables

	// setup guards m, set by the first OpenTask that reads the table;
	// read-only once set.
	setup     sync.Mutex
	m         *mapping
	deleteSQL string
	stageSQL  string // "" when no stage is needed

	mu struct {
		sync.Mutex
		closed bool
		tasks  map[connect.TaskID]*task
	}

	// afterFence, when set (by tests), is called by Commit once the
	// task's fence row is locked, before COMMIT.
	afterFence func(connect.TaskID)
	// noStream (benchmarks) sends insert batches when they are full.
	noStream bool
}

// task is an open task: a connection and, between checkpoints, an open
// transaction. REQUIRES: task.mu for all fields but id.
type task struct {
	mu        sync.Mutex
	id        connect.TaskID
	conn      *pgx.Conn
	ctx       context.Context // ends when the task is released: bounds its stream
	cancel    context.CancelFunc
	tm        *pgtype.Map      // convert's, for types the sink does not encode itself
	gen       int64            // the generation this worker holds the task in
	pos       engine.Positions // positions of the last commit, or read at open
	inTx      bool             // a transaction is open
	wrote     bool             // rows were written in it
	stageUsed bool             // the stage table was written in it
	doubt     error            // a failure left the transaction's outcome unknown
	closed    bool             // closed, or replaced by a newer OpenTask

	ops       []*op   // converted ops not sent yet (the batch), at most BatchRows
	opChunks  [][]op  // where ops live, chunkRows each
	rows      arena   // their rows and keys
	st        *stream // the batch's COPY in flight, nil if none
	streamOff bool    // the batch has an op its COPY cannot take
	sc        scratch // convert's
	byKey     map[string]int
	slots     []slot
	upserts   map[uint64]string // upsert statement per omit
}

var (
	_ connect.Sink     = (*Sink)(nil)
	_ connect.Preparer = (*Sink)(nil)
)

// New returns a Sink for cfg, after validating it; cfg.Consumer is
// required. It does not connect: the first OpenTask does, creates the
// offsets and fence tables (and the table, with AutoCreate) if missing,
// and reads the table's columns.
func New(cfg Config) (*Sink, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Consumer == "" {
		errs = append(errs, errors.New("postgres sink: consumer: required (set by the runtime)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	connCfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres sink: %s: %w", fieldURL, err)
	}
	s := &Sink{cfg: cfg.withDefaults(), connCfg: connCfg}
	s.cfg.Key = slices.Clone(s.cfg.Key)
	s.cfg.Columns = slices.Clone(s.cfg.Columns)
	s.tb = newTables(&s.cfg)
	s.mu.tasks = map[connect.TaskID]*task{}
	return s, nil
}

// Delivery returns connect.ExactlyOnce.
func (s *Sink) Delivery() connect.Delivery { return connect.ExactlyOnce }

// OpenTask takes the task for this worker: it bumps the task's
// generation, so that a worker that opened it before can no longer
// commit it (ErrFenced), and returns the positions of its last commit,
// nil if none. A transaction this Sink had open for the task is rolled
// back. The first OpenTask connects, creates the missing tables and reads
// the table's columns; an error in the configuration found then (a
// column missing, a type the sink cannot write) is returned by every
// OpenTask.
func (s *Sink) OpenTask(ctx context.Context, id connect.TaskID) (engine.Positions, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	old := s.mu.tasks[id]
	t := &task{id: id}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.tasks[id] = t
	s.mu.Unlock()

	var conn *pgx.Conn
	if old != nil {
		old.mu.Lock()
		conn = old.release(ctx)
		old.mu.Unlock()
	}
	pos, err := s.open(ctx, t, conn)
	if err != nil {
		if c := t.release(ctx); c != nil {
			c.Close(ctx)
		}
		s.mu.Lock()
		if s.mu.tasks[id] == t {
			delete(s.mu.tasks, id)
		}
		s.mu.Unlock()
		return nil, fmt.Errorf("postgres sink: task %d: %w", id, err)
	}
	return pos, nil
}

// open connects the task (unless conn is given), sets the sink up, bumps
// the task's generation and reads its positions.
// REQUIRES: t.mu.
func (s *Sink) open(ctx context.Context, t *task, conn *pgx.Conn) (engine.Positions, error) {
	if conn == nil {
		var err error
		if conn, err = pgx.ConnectConfig(ctx, s.connCfg); err != nil {
			return nil, err
		}
	}
	t.conn = conn
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.tm = pgtype.NewMap()
	m, err := s.setUp(ctx, conn)
	if err != nil {
		return nil, err
	}
	if s.stageSQL != "" {
		if _, err := conn.Exec(ctx, s.stageSQL); err != nil {
			return nil, fmt.Errorf("creating the stage table: %w", err)
		}
	}
	var pos engine.Positions
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		// Waits for the fence lock of a commit in flight of the task's
		// previous owner, and then reads the positions it committed.
		err := tx.QueryRow(ctx, fmt.Sprintf(`INSERT INTO %s AS f (consumer, task, generation, updated_at) VALUES ($1, $2, 1, now())
ON CONFLICT (consumer, task) DO UPDATE SET generation = f.generation + 1, updated_at = now() RETURNING generation`, s.tb.fences),
			s.cfg.Consumer, int32(t.id)).Scan(&t.gen)
		if err != nil {
			return fmt.Errorf("taking the fence: %w", err)
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT topic, partition, next_offset FROM %s WHERE consumer = $1 AND task = $2`, s.tb.offsets),
			s.cfg.Consumer, int32(t.id))
		if err != nil {
			return fmt.Errorf("reading positions: %w", err)
		}
		var in engine.Input
		var next int64
		_, err = pgx.ForEachRow(rows, []any{&in.Stream, &in.Partition, &next}, func() error {
			if pos == nil {
				pos = engine.Positions{}
			}
			pos[in] = next
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	t.pos = pos
	t.upserts = map[uint64]string{}
	t.byKey = map[string]int{}
	t.sc.raws = make([][]byte, len(m.cols))
	t.sc.fields = make([]int, len(m.cols))
	if pos == nil {
		return nil, nil
	}
	return pos.Clone(), nil
}

// setUp creates the missing tables and reads the table, once.
func (s *Sink) setUp(ctx context.Context, conn *pgx.Conn) (*mapping, error) {
	s.setup.Lock()
	defer s.setup.Unlock()
	if s.m != nil {
		return s.m, nil
	}
	if err := createTables(ctx, conn, &s.cfg, s.tb); err != nil {
		return nil, err
	}
	cols, err := readTable(ctx, conn, s.tb.target)
	if err != nil {
		return nil, err
	}
	m, err := newMapping(&s.cfg, cols)
	if err != nil {
		return nil, err
	}
	if s.cfg.Mode == ModeUpsert {
		if err := checkConflictTarget(ctx, conn, s.tb.target, cols, s.cfg.Key); err != nil {
			return nil, err
		}
	}
	if s.cfg.Mode == ModeUpsert || s.cfg.DeleteOnTombstone {
		s.stageSQL = stageStatement(m, s.tb.target)
		s.deleteSQL = deleteStatement(m, s.tb.target)
	}
	s.m = m
	return m, nil
}

// release ends the task: stops its stream, rolls back its transaction
// and returns its connection, or nil if it is broken (then closed).
// REQUIRES: t.mu.
func (t *task) release(ctx context.Context) *pgx.Conn {
	t.closed = true
	t.stopStream(ctx)
	if t.cancel != nil {
		t.cancel()
	}
	t.reset()
	conn := t.conn
	t.conn = nil
	if conn == nil {
		return nil
	}
	if t.inTx {
		t.inTx = false
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			conn.Close(ctx)
			return nil
		}
	}
	if conn.IsClosed() {
		return nil
	}
	return conn
}

// reset drops the buffered ops.
// REQUIRES: t.mu, no stream.
func (t *task) reset() {
	n := len(t.ops)
	clear(t.ops)
	t.ops = t.ops[:0]
	t.streamOff = false
	for c := 0; c*chunkRows < n; c++ {
		clear(t.opChunks[c])
	}
	t.rows.reset()
}

// nextOp appends a zeroed op to the buffer.
// REQUIRES: t.mu.
func (t *task) nextOp() *op {
	i := len(t.ops)
	c := i / chunkRows
	if c == len(t.opChunks) {
		t.opChunks = append(t.opChunks, make([]op, chunkRows))
	}
	o := &t.opChunks[c][i%chunkRows]
	t.ops = append(t.ops, o)
	return o
}

// dropLast removes the last op of the buffer.
// REQUIRES: t.mu.
func (t *task) dropLast() {
	*t.ops[len(t.ops)-1] = op{}
	t.ops = t.ops[:len(t.ops)-1]
}

// arenaChunk is the size of the blocks rows are kept in.
const arenaChunk = 256 << 10

// arena keeps the rows of a batch, in blocks reused from batch to batch.
type arena struct {
	blocks [][]byte
	cur    int
}

// keep returns a copy of b, valid until reset.
func (a *arena) keep(b []byte) []byte {
	if b == nil {
		return nil
	}
	for {
		if a.cur == len(a.blocks) {
			a.blocks = append(a.blocks, make([]byte, 0, max(arenaChunk, len(b))))
		}
		blk := a.blocks[a.cur]
		if len(blk)+len(b) <= cap(blk) {
			n := len(blk)
			blk = append(blk, b...)
			a.blocks[a.cur] = blk
			return blk[n:len(blk):len(blk)]
		}
		if len(blk) == 0 { // too small for b
			a.blocks[a.cur] = make([]byte, 0, len(b))
			continue
		}
		a.cur++
	}
}

func (a *arena) reset() {
	for i := 0; i <= a.cur && i < len(a.blocks); i++ {
		a.blocks[i] = a.blocks[i][:0]
	}
	a.cur = 0
}

// lockTask returns the open task, locked, not in doubt.
func (s *Sink) lockTask(id connect.TaskID) (*task, error) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	t := s.mu.tasks[id]
	s.mu.Unlock()
	if t == nil {
		return nil, fmt.Errorf("postgres sink: task %d is not open", id)
	}
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return nil, fmt.Errorf("postgres sink: task %d is not open", id)
	case t.doubt != nil:
		err := t.doubt
		t.mu.Unlock()
		if errors.Is(err, ErrFenced) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres sink: task %d: a failure left it in doubt, open it again: %w", id, err)
	}
	return t, nil
}

// Write converts recs to rows and buffers them; every BatchRows rows, the
// buffer is sent into the task's transaction (in insert mode, rows stream
// into the batch's COPY as they are converted, and Write blocks when the
// database lags behind). A record that does not fit the table (invalid
// JSON, a value its column's type cannot hold, a tombstone without
// delete_on_tombstone) is refused, as are rows the database refuses when
// a batch is sent (a constraint violated), which may be of earlier
// Writes: Write then takes all the other records and returns a
// *connect.RejectedError listing the refused ones, copies, with their
// reasons. Any other error (the connection lost) leaves the task in
// doubt.
func (s *Sink) Write(ctx context.Context, id connect.TaskID, recs []*connect.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := s.lockTask(id)
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	var rej []connect.Rejection
	for _, r := range recs {
		o := t.nextOp()
		if err := s.m.convert(t.tm, &t.sc, r, o); err != nil {
			t.dropLast()
			rec := *r
			rej = append(rej, connect.Rejection{Task: id, Record: &rec, Reason: err})
			continue
		}
		o.rec = *r
		o.row, o.key = t.rows.keep(t.sc.row), t.rows.keep(t.sc.key)
		switch {
		case len(t.ops) >= s.cfg.BatchRows:
			sent, err := s.flush(ctx, t)
			if err != nil {
				return err
			}
			rej = append(rej, sent...)
		case len(t.ops)%streamChunk == 0:
			if err := s.feed(ctx, t); err != nil {
				return s.failed(t, err)
			}
		}
	}
	if err := s.feed(ctx, t); err != nil {
		return s.failed(t, err)
	}
	if len(rej) > 0 {
		return &connect.RejectedError{Rejected: rej}
	}
	return nil
}

// failed leaves the task in doubt for err.
// REQUIRES: t.mu.
func (s *Sink) failed(t *task, err error) error {
	t.doubt = err
	return fmt.Errorf("postgres sink: task %d: %w", t.id, err)
}

// eachTask runs fn on each task of cp, locked, in parallel, and returns
// their errors joined (by task order), or the first lock error.
func (s *Sink) eachTask(cp connect.Checkpoint, fn func(t *task) error) error {
	ids := make([]connect.TaskID, 0, len(cp))
	for id := range cp {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	tasks := make([]*task, 0, len(ids))
	unlock := func() {
		for _, t := range tasks {
			t.mu.Unlock()
		}
	}
	for _, id := range ids {
		t, err := s.lockTask(id)
		if err != nil {
			unlock()
			return err
		}
		tasks = append(tasks, t)
	}
	defer unlock()
	errs := make([]error, len(tasks))
	if len(tasks) == 1 {
		errs[0] = fn(tasks[0])
	} else {
		var wg sync.WaitGroup
		for i, t := range tasks {
			wg.Go(func() { errs[i] = fn(t) })
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// Prepare sends the rows the tasks of cp buffered into their
// transactions. Rows the database refuses are returned in a
// *connect.RejectedError, the others are in; any other error leaves the
// task in doubt.
func (s *Sink) Prepare(ctx context.Context, cp connect.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var mu sync.Mutex
	var rej []connect.Rejection
	err := s.eachTask(cp, func(t *task) error {
		sent, err := s.flush(ctx, t)
		mu.Lock()
		rej = append(rej, sent...)
		mu.Unlock()
		return err
	})
	if err != nil {
		return err
	}
	if len(rej) > 0 {
		slices.SortStableFunc(rej, func(a, b connect.Rejection) int { return int(a.Task) - int(b.Task) })
		return &connect.RejectedError{Rejected: rej}
	}
	return nil
}

// Commit commits the transaction of each task of cp with its positions:
// it sends what Prepare did not (a row refused then fails the Commit),
// checks and locks the task's fence (ErrFenced when another worker opened
// the task since), upserts the positions and commits. A task with nothing
// written and its positions unchanged is skipped. When Commit fails, the
// tasks it did not commit fail Write and Commit until OpenTask is called
// again.
func (s *Sink) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.eachTask(cp, func(t *task) error {
		err := s.commit(ctx, t, cp[t.id])
		if err != nil && t.doubt == nil {
			t.doubt = err
		}
		return err
	})
}

// commit commits one task.
// REQUIRES: t.mu.
func (s *Sink) commit(ctx context.Context, t *task, pos engine.Positions) error {
	rej, err := s.flush(ctx, t)
	if err != nil {
		return err
	}
	if len(rej) > 0 {
		s.rollback(ctx, t)
		// Not a *connect.RejectedError: only Write and Prepare may refuse.
		return fmt.Errorf("postgres sink: task %d: rows refused at commit (call Prepare first); nothing committed: %s",
			t.id, (&connect.RejectedError{Rejected: rej}).Error())
	}
	if !t.wrote && pos.Equal(t.pos) {
		if t.inTx {
			return s.rollback(ctx, t)
		}
		return nil
	}
	if err := s.begin(ctx, t); err != nil {
		return fmt.Errorf("postgres sink: task %d: %w", t.id, err)
	}
	b := &pgx.Batch{}
	fence := b.Queue(fmt.Sprintf(`UPDATE %s SET updated_at = now() WHERE consumer = $1 AND task = $2 AND generation = $3`, s.tb.fences),
		s.cfg.Consumer, int32(t.id), t.gen)
	var fenced bool
	fence.Exec(func(tag pgconn.CommandTag) error {
		fenced = tag.RowsAffected() == 0
		return nil
	})
	var current *int64
	b.Queue(fmt.Sprintf(`SELECT generation FROM %s WHERE consumer = $1 AND task = $2`, s.tb.fences),
		s.cfg.Consumer, int32(t.id)).QueryRow(func(row pgx.Row) error {
		var g int64
		if err := row.Scan(&g); err == nil {
			current = &g
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	if len(pos) > 0 {
		topics := make([]string, 0, len(pos))
		parts := make([]int32, 0, len(pos))
		nexts := make([]int64, 0, len(pos))
		for in, next := range pos {
			topics = append(topics, in.Stream)
			parts = append(parts, in.Partition)
			nexts = append(nexts, next)
		}
		b.Queue(fmt.Sprintf(`INSERT INTO %s (consumer, topic, partition, next_offset, task, generation, updated_at)
SELECT $1, u.topic, u.partition, u.next_offset, $2, $3, now() FROM unnest($4::text[], $5::integer[], $6::bigint[]) AS u(topic, partition, next_offset)
ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, task = EXCLUDED.task,
	generation = EXCLUDED.generation, updated_at = EXCLUDED.updated_at`, s.tb.offsets),
			s.cfg.Consumer, int32(t.id), t.gen, topics, parts, nexts)
	}
	if err := t.conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres sink: task %d: committing: %w", t.id, err)
	}
	if fenced {
		s.rollback(ctx, t)
		cur := "none: the fence row is gone"
		if current != nil {
			cur = fmt.Sprintf("generation %d", *current)
		}
		return fmt.Errorf("%w: another worker took task %d of consumer %q (%s, ours %d); nothing committed",
			ErrFenced, t.id, s.cfg.Consumer, cur, t.gen)
	}
	if s.afterFence != nil {
		s.afterFence(t.id)
	}
	tag, err := t.conn.Exec(ctx, "COMMIT")
	t.inTx = false
	if err != nil {
		return fmt.Errorf("postgres sink: task %d: committing: %w", t.id, err)
	}
	if tag.String() != "COMMIT" {
		return fmt.Errorf("postgres sink: task %d: committing: the transaction was rolled back (%s)", t.id, tag)
	}
	t.wrote = false
	t.pos = pos.Clone()
	return nil
}

// rollback rolls the task's transaction back.
// REQUIRES: t.mu.
func (s *Sink) rollback(ctx context.Context, t *task) error {
	if !t.inTx {
		return nil
	}
	t.inTx, t.wrote = false, false
	if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("postgres sink: task %d: rolling back: %w", t.id, err)
	}
	return nil
}

// CloseTask rolls back the task's transaction, discarding what was
// written since its last commit, closes its connection and forgets it.
func (s *Sink) CloseTask(ctx context.Context, id connect.TaskID) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	t := s.mu.tasks[id]
	delete(s.mu.tasks, id)
	s.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if conn := t.release(ctx); conn != nil {
		return conn.Close(ctx)
	}
	return nil
}

// Close closes every task as CloseTask does. Later calls of the other
// methods return ErrClosed; Close is idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	tasks := s.mu.tasks
	s.mu.tasks = nil
	s.mu.Unlock()
	var errs []error
	for _, t := range tasks {
		t.mu.Lock()
		if conn := t.release(ctx); conn != nil {
			errs = append(errs, conn.Close(ctx))
		}
		t.mu.Unlock()
	}
	return errors.Join(errs...)
}
