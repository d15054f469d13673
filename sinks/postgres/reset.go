package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

var _ connect.PositionsDeleter = (*Sink)(nil)

// StoredPositions implements connect.PositionsDeleter: the positions the
// offsets table holds for the sink's consumer, by the task that committed
// them. It connects for the call and changes nothing; without an offsets
// table there are none.
func (s *Sink) StoredPositions(ctx context.Context) (map[connect.TaskID]engine.Positions, error) {
	out := map[connect.TaskID]engine.Positions{}
	err := s.withTables(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT task, topic, partition, next_offset FROM %s WHERE consumer = $1`, s.tb.offsets), s.cfg.Consumer)
		if err != nil {
			return err
		}
		var task int32
		var in engine.Input
		var next int64
		_, err = pgx.ForEachRow(rows, []any{&task, &in.Stream, &in.Partition, &next}, func() error {
			if out[task] == nil {
				out[task] = engine.Positions{}
			}
			out[task][in] = next
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres sink: reading the positions of consumer %q: %w", s.cfg.Consumer, err)
	}
	return out, nil
}

// DeletePositions implements connect.PositionsDeleter: in one
// transaction, it bumps the generation of every fence of the consumer and
// deletes the consumer's rows of the offsets table. The fences stay (a
// deleted one would start again at generation 1, which a worker that
// still holds generation 1 could commit with): a worker that still has a
// task open fails its next Commit with ErrFenced. The bump takes the
// fence rows' locks, so it waits for a Commit in flight and deletes what
// that one stored. The table written is not touched.
func (s *Sink) DeletePositions(ctx context.Context) error {
	err := s.withTables(ctx, func(conn *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET generation = generation + 1, updated_at = now() WHERE consumer = $1`, s.tb.fences), s.cfg.Consumer); err != nil {
				return fmt.Errorf("bumping the fences: %w", err)
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE consumer = $1`, s.tb.offsets), s.cfg.Consumer); err != nil {
				return fmt.Errorf("deleting the positions: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("postgres sink: deleting the positions of consumer %q: %w", s.cfg.Consumer, err)
	}
	return nil
}

// withTables connects and calls fn, unless the offsets or fence table is
// missing (the sink never opened a task there): then there is nothing to
// read or delete.
func (s *Sink) withTables(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	s.mu.Lock()
	closed := s.mu.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	conn, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, t := range []string{s.tb.offsets, s.tb.fences} {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return nil
		}
	}
	return fn(conn)
}
