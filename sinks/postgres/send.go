package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/runnel-io/runnel/connect"
)

// Statements of a task's transaction.
const (
	sqlBegin     = "BEGIN ISOLATION LEVEL READ COMMITTED"
	sqlSavepoint = "SAVEPOINT runnel_batch"
	sqlRelease   = "RELEASE SAVEPOINT runnel_batch"
	sqlRollback  = "ROLLBACK TO SAVEPOINT runnel_batch; RELEASE SAVEPOINT runnel_batch"
)

// flush sends the task's buffered ops into its transaction, begun if
// needed, and empties the buffer: it ends the batch's COPY, if any, and
// sends the ops it did not take. It returns the records the database
// refused; the others are in the transaction. Any other error leaves the
// task in doubt.
// REQUIRES: t.mu.
func (s *Sink) flush(ctx context.Context, t *task) ([]connect.Rejection, error) {
	done, err := s.endStream(ctx, t)
	var rej []connect.Rejection
	if err == nil && done < len(t.ops) {
		if err = s.begin(ctx, t); err == nil {
			err = s.sendIsolated(ctx, t, t.ops[done:], &rej)
		}
	}
	t.reset()
	if err != nil {
		t.doubt = err
		return nil, fmt.Errorf("postgres sink: task %d: %w", t.id, err)
	}
	return rej, nil
}

// begin begins the task's transaction if none is open.
// REQUIRES: t.mu.
func (s *Sink) begin(ctx context.Context, t *task) error {
	if t.inTx {
		return nil
	}
	if _, err := t.conn.Exec(ctx, sqlBegin); err != nil {
		return err
	}
	t.inTx, t.wrote, t.stageUsed = true, false, false
	return nil
}

// sendIsolated sends ops. When the database refuses a row (a data
// exception or a constraint violation), the rows sent since the savepoint
// are rolled back and the bad ones isolated: the row a COPY error names
// is refused, the rows before it and those after it are sent again apart;
// without a row named, halves are sent apart, down to single rows. What
// is refused is appended to rej, in the order of ops.
// A transaction with nothing written yet needs no savepoint: it is rolled
// back whole.
// REQUIRES: t.mu.
func (s *Sink) sendIsolated(ctx context.Context, t *task, ops []*op, rej *[]connect.Rejection) error {
	for len(ops) > 0 {
		whole := !t.wrote
		if !whole {
			if _, err := t.conn.Exec(ctx, sqlSavepoint); err != nil {
				return err
			}
		}
		at, err := s.send(ctx, t, ops)
		if err == nil {
			if !whole {
				if _, err := t.conn.Exec(ctx, sqlRelease); err != nil {
					return err
				}
			}
			t.wrote = true
			return nil
		}
		pe := rowError(err)
		if pe == nil {
			return err
		}
		if err := s.undo(ctx, t, whole); err != nil {
			return err
		}
		switch {
		case len(ops) == 1:
			if pe.Code == pgCardinality {
				return err // a key twice in one statement: cannot be one row
			}
			*rej = append(*rej, rejection(t.id, ops[0], pe))
			return nil
		case at >= 0:
			// The rows before it were most likely fine (a unique index is
			// checked after the rows around it are read, though).
			if err := s.sendIsolated(ctx, t, ops[:at], rej); err != nil {
				return err
			}
			*rej = append(*rej, rejection(t.id, ops[at], pe))
			ops = ops[at+1:]
		default:
			mid := len(ops) / 2
			if err := s.sendIsolated(ctx, t, ops[:mid], rej); err != nil {
				return err
			}
			ops = ops[mid:]
		}
	}
	return nil
}

// undo rolls back what was sent since the savepoint or, whole, the
// transaction (and begins another).
// REQUIRES: t.mu.
func (s *Sink) undo(ctx context.Context, t *task, whole bool) error {
	if !whole {
		_, err := t.conn.Exec(ctx, sqlRollback)
		return err
	}
	t.inTx = false
	if _, err := t.conn.Exec(ctx, "ROLLBACK"); err != nil {
		return err
	}
	return s.begin(ctx, t)
}

func rejection(task connect.TaskID, o *op, pe *pgconn.PgError) connect.Rejection {
	rec := o.rec
	return connect.Rejection{Task: task, Record: &rec, Reason: newRowError(pe)}
}

// send writes ops in order. When a COPY of all of ops in their order
// failed on a row, it returns that row's index, else -1.
// REQUIRES: t.mu.
func (s *Sink) send(ctx context.Context, t *task, ops []*op) (int, error) {
	if s.cfg.Mode == ModeUpsert {
		return -1, s.sendUpsert(ctx, t, ops)
	}
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[j].del == ops[i].del {
			j++
		}
		run := ops[i:j]
		if run[0].del {
			if err := s.deleteKeys(ctx, t, run); err != nil {
				return -1, err
			}
		} else {
			for _, g := range groupByOmit(run) {
				if err := s.copyRows(ctx, t, s.tb.target, s.presentNames(g[0].omit), g); err != nil {
					at := -1
					if len(g) == len(ops) {
						at = copyLine(err, s.tb.relname, len(ops))
					}
					return at, err
				}
			}
		}
		i = j
	}
	return -1, nil
}

// sendUpsert writes ops as upserts and deletes: for each key, the last op
// wins, after a delete when one came before it (see dedupe).
// REQUIRES: t.mu.
func (s *Sink) sendUpsert(ctx context.Context, t *task, ops []*op) error {
	dels, ups := s.dedupe(t, ops)
	if len(dels) > 0 {
		if err := s.deleteKeys(ctx, t, dels); err != nil {
			return err
		}
	}
	for _, g := range groupByOmit(ups) {
		if err := s.clearStage(ctx, t); err != nil {
			return err
		}
		if err := s.copyRows(ctx, t, stageTable, s.presentNames(g[0].omit), g); err != nil {
			return err
		}
		if _, err := t.conn.Exec(ctx, s.upsertSQL(t, g[0].omit)); err != nil {
			return err
		}
	}
	return nil
}

// deleteKeys deletes the rows with the key of each op.
// REQUIRES: t.mu.
func (s *Sink) deleteKeys(ctx context.Context, t *task, ops []*op) error {
	m := s.m
	names := make([]string, len(m.keyCols))
	for i, c := range m.keyCols {
		names[i] = m.names[c]
	}
	if err := s.clearStage(ctx, t); err != nil {
		return err
	}
	if err := s.copyRows(ctx, t, stageTable, names, ops); err != nil {
		return err
	}
	_, err := t.conn.Exec(ctx, s.deleteSQL)
	return err
}

// clearStage empties the stage table if it was used in the transaction
// (a commit empties it: ON COMMIT DELETE ROWS).
// REQUIRES: t.mu.
func (s *Sink) clearStage(ctx context.Context, t *task) error {
	if t.stageUsed {
		if _, err := t.conn.Exec(ctx, "TRUNCATE "+stageTable.Sanitize()); err != nil {
			return err
		}
	}
	t.stageUsed = true
	return nil
}

// presentNames returns the names of the columns an op with omit writes.
func (s *Sink) presentNames(omit uint64) []string {
	if omit == 0 {
		return s.m.names
	}
	var names []string
	for _, i := range s.present(omit) {
		names = append(names, s.m.names[i])
	}
	return names
}

// present returns the indexes of the columns an op with omit writes.
func (s *Sink) present(omit uint64) []int {
	var idx []int
	for i, c := range s.m.cols {
		if c.omit < 0 || omit&(1<<c.omit) == 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// groupByOmit splits ops by their omit, each group in order.
func groupByOmit(ops []*op) [][]*op {
	if len(ops) == 0 {
		return nil
	}
	same := true
	for _, o := range ops[1:] {
		if o.omit != ops[0].omit {
			same = false
			break
		}
	}
	if same {
		return [][]*op{ops}
	}
	var order []uint64
	groups := map[uint64][]*op{}
	for _, o := range ops {
		if _, ok := groups[o.omit]; !ok {
			order = append(order, o.omit)
		}
		groups[o.omit] = append(groups[o.omit], o)
	}
	out := make([][]*op, len(order))
	for i, omit := range order {
		out[i] = groups[omit]
	}
	return out
}

// upsertSQL returns the statement upserting the stage's rows (with the
// columns of omit) into the table.
// REQUIRES: t.mu.
func (s *Sink) upsertSQL(t *task, omit uint64) string {
	if q, ok := t.upserts[omit]; ok {
		return q
	}
	m := s.m
	idx := s.present(omit)
	names := make([]string, len(idx))
	var set []string
	for i, c := range idx {
		names[i] = m.names[c]
		if !isKeyCol(m, c) {
			q := pgx.Identifier{m.names[c]}.Sanitize()
			set = append(set, q+" = EXCLUDED."+q)
		}
	}
	cols := quoteList(names)
	action := "NOTHING"
	if len(set) > 0 {
		action = "UPDATE SET " + strings.Join(set, ", ")
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT (%s) DO %s",
		s.tb.target.Sanitize(), cols, cols, stageTable.Sanitize(), quoteList(s.cfg.Key), action)
	t.upserts[omit] = q
	return q
}

func isKeyCol(m *mapping, col int) bool {
	for _, k := range m.keyCols {
		if k == col {
			return true
		}
	}
	return false
}

// deleteStatement is the statement deleting the rows whose keys are in
// the stage.
func deleteStatement(m *mapping, target pgx.Identifier) string {
	var cond []string
	for _, c := range m.keyCols {
		q := pgx.Identifier{m.names[c]}.Sanitize()
		cond = append(cond, "d."+q+" = s."+q)
	}
	return fmt.Sprintf("DELETE FROM %s AS d USING %s AS s WHERE %s",
		target.Sanitize(), stageTable.Sanitize(), strings.Join(cond, " AND "))
}

// stageStatement creates the task connection's stage table: the mapped
// columns, with their types and no constraint.
func stageStatement(m *mapping, target pgx.Identifier) string {
	return fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s WITH NO DATA",
		stageTable[1], quoteList(m.names), target.Sanitize())
}

// slot is what the ops of one key in a batch come to.
type slot struct {
	del *op // a delete came: delete the row first (this op holds the key)
	up  *op // then upsert this one, if not nil
}

// dedupe reduces ops to at most one delete and one upsert per key, so
// that ON CONFLICT never meets a key twice, with the effect of applying
// ops in order: the upsert is the last op of the key when it is one, and
// a delete precedes it when one came before. When the ops of a key after
// its last delete leave out different columns (missing fields of columns
// with a default), the upsert takes each column from the last op that
// has it, as the updates in order would. Ops whose key has a NULL are
// not merged (NULLs never conflict).
// REQUIRES: t.mu.
func (s *Sink) dedupe(t *task, ops []*op) (dels, ups []*op) {
	if len(s.m.keyCols) == 0 {
		return nil, ops
	}
	byKey := t.byKey
	clear(byKey)
	slots := t.slots[:0]
	for _, o := range ops {
		if o.key == nil {
			slots = append(slots, slot{up: o})
			continue
		}
		i, seen := byKey[string(o.key)]
		if !seen {
			i = len(slots)
			byKey[string(o.key)] = i
			slots = append(slots, slot{})
		}
		sl := &slots[i]
		switch {
		case o.del:
			sl.del, sl.up = o, nil
		case sl.up != nil && o.omit&^sl.up.omit != 0:
			sl.up = s.merge(sl.up, o)
		default:
			sl.up = o
		}
	}
	for _, sl := range slots {
		if sl.del != nil {
			dels = append(dels, sl.del)
		}
		if sl.up != nil {
			ups = append(ups, sl.up)
		}
	}
	clear(slots)
	t.slots = slots[:0]
	clear(byKey)
	return dels, ups
}

// merge returns a new op: later's fields, and earlier's where later
// leaves a column out and earlier does not.
func (s *Sink) merge(earlier, later *op) *op {
	m := s.m
	ef, lf := m.rowFields(earlier), m.rowFields(later)
	o := &op{rec: later.rec, key: later.key, omit: later.omit & earlier.omit}
	o.row = make([]byte, 2, len(earlier.row)+len(later.row))
	n := 0
	for i := range m.cols {
		f := lf[i]
		if f == nil {
			f = ef[i]
		}
		if f != nil {
			o.row = append(o.row, f...)
			n++
		}
	}
	binary.BigEndian.PutUint16(o.row, uint16(n))
	return o
}

// SQLSTATEs the sink looks at.
const (
	pgCardinality   = "21000" // ON CONFLICT met a key twice
	pgLimitExceeded = "54000" // e.g. an index row too big
)

// rowError returns the PostgreSQL error of err when it refuses a row: a
// data exception (class 22), an integrity constraint violation (class
// 23), a value over a limit (54000), or a key twice in an upsert (21000,
// which splitting the batch resolves); nil for any other error.
func rowError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch {
	case strings.HasPrefix(pe.Code, "22"), strings.HasPrefix(pe.Code, "23"),
		pe.Code == pgLimitExceeded, pe.Code == pgCardinality:
		return pe
	}
	return nil
}

// copyLine returns the index of the row a COPY into relname failed on,
// from the error's context ("COPY orders, line 3, column amount: ..."),
// or -1.
func copyLine(err error, relname string, rows int) int {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return -1
	}
	prefix := "COPY " + relname + ", line "
	i := strings.Index(pe.Where, prefix)
	if i < 0 {
		return -1
	}
	rest := pe.Where[i+len(prefix):]
	j := 0
	for j < len(rest) && '0' <= rest[j] && rest[j] <= '9' {
		j++
	}
	n, perr := strconv.Atoi(rest[:j])
	if perr != nil || n < 1 || n > rows {
		return -1
	}
	return n - 1
}

// detailLen bounds the DETAIL quoted in a rejection's reason.
const detailLen = 200

// RowError is the reason of a record the database refused: the
// PostgreSQL error, with the column or constraint it names. Unwrap
// returns the *pgconn.PgError.
type RowError struct {
	msg string
	pe  *pgconn.PgError
}

func newRowError(pe *pgconn.PgError) *RowError {
	var b strings.Builder
	b.WriteString(pe.Message)
	col := pe.ColumnName
	if col == "" {
		col = whereColumn(pe.Where)
	}
	if col != "" && !strings.Contains(pe.Message, `"`+col+`"`) {
		fmt.Fprintf(&b, " (column %q)", col)
	}
	if c := pe.ConstraintName; c != "" && !strings.Contains(pe.Message, `"`+c+`"`) {
		fmt.Fprintf(&b, " (constraint %q)", c)
	}
	if d := pe.Detail; d != "" {
		if len(d) > detailLen {
			i := detailLen
			for i > 0 && !utf8.RuneStart(d[i]) {
				i--
			}
			d = d[:i] + "…"
		}
		b.WriteString(": ")
		b.WriteString(d)
	}
	fmt.Fprintf(&b, " (SQLSTATE %s)", pe.Code)
	return &RowError{msg: b.String(), pe: pe}
}

func (e *RowError) Error() string { return e.msg }

// Unwrap returns the *pgconn.PgError.
func (e *RowError) Unwrap() error { return e.pe }

// whereColumn returns the column a COPY error's context names.
func whereColumn(where string) string {
	const marker = ", column "
	i := strings.Index(where, marker)
	if i < 0 {
		return ""
	}
	rest := where[i+len(marker):]
	if j := strings.IndexAny(rest, ":\n"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
