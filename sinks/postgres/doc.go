// Package postgres is the PostgreSQL sink of runnel: it writes JSON
// records as rows of a table (inserted, upserted, or deleted by
// tombstones), exactly once: each task's rows are committed in one
// transaction with the positions they cover, and a worker that lost its
// task to another cannot commit any more.
//
// # Usage
//
// As an output of a pipeline file:
//
//	outputs:
//	  orders:
//	    postgres:
//	      url: postgres://runnel@db:5432/shop?sslmode=require   # the password: PGPASSWORD
//	      table: sales.orders
//	      mode: upsert
//	      key: [id]
//	      delete_on_tombstone: true
//	      columns:                       # optional; default: every column from
//	        - {name: id, from: key.id}   # the value's field of the same name
//	        - {name: total, from: value.amount.total}
//	        - {name: doc, from: value}   # jsonb: the whole value
//	        - {name: at, from: time}     # the record's event time
//
// or from Go, with New(Config{...}); the runtime sets Config.Consumer.
//
// # Rows
//
// A record's value is a JSON object; without Columns, each column of the
// table (generated ones excepted, read from the catalog by the first
// OpenTask) takes the field named as it. A field that is missing takes
// the column's default when it has one (DEFAULT, identity, serial) and
// NULL otherwise; a field that is null is NULL. In upsert mode, an update
// leaves a column with a default whose field is missing as it is (an id
// from a sequence, a created_at). Values are converted for the column's
// type, as the catalog has it (domains as their base type):
//
//	text, varchar(n), char(n), enums   a string, or the JSON text of any other
//	                                   value; longer than n characters: refused
//	smallint, integer, bigint          a number holding a whole number (12, 1.2e3)
//	numeric                            a number, or a string holding one ("12.30",
//	                                   "NaN"); every digit is kept
//	real, double precision             a number
//	boolean                            true or false
//	timestamptz, timestamp, date       a number of Unix milliseconds, or a string
//	                                   in RFC 3339, or without a zone (UTC), or a
//	                                   bare date; timestamp holds the UTC time
//	json, jsonb                        any JSON, as it is
//	uuid                               a string
//	bytea                              a string in base64
//	arrays of the above                a JSON array (one dimension), nulls allowed
//	other types pgx knows              a string in the type's text form
//	                                   (inet, interval, ...)
//
// A record that does not fit (a value that is not JSON, not an object, a
// value its column cannot hold, a tombstone without DeleteOnTombstone) is
// refused by Write, and so are rows the database refuses when they are
// sent (SQLSTATE classes 22 and 23: a NOT NULL, CHECK or UNIQUE
// violation, ...; and 54000, e.g. an index row too big): Write or Prepare
// return a *connect.RejectedError with each record and its reason
// (`column "amount" (numeric): "abc" is not a number`, or PostgreSQL's
// message with its SQLSTATE, the column or constraint, and the detail),
// and take all the others. The runtime sends the refused ones to the
// dead-letter output.
//
// In upsert mode, rows go through INSERT ... ON CONFLICT (Key) DO UPDATE,
// and a tombstone (with DeleteOnTombstone) deletes the row of its key.
// A batch holding a key several times has the effect of its records in
// order: only the last one is sent, after a delete if one came before.
// In insert mode, rows are appended; tombstones delete in order with them.
//
// # Tables
//
// Besides the table written, the sink keeps two tables (the offsets table
// is OffsetsTable, default runnel_offsets; the fence table is named after
// it with "_fences"), created when missing by the first OpenTask:
//
//	runnel_offsets                        one row per input of a task
//	  consumer     text         ┐
//	  topic        text         │ PRIMARY KEY    engine.Input.Stream
//	  partition    integer      ┘                engine.Input.Partition
//	  next_offset  bigint                        where reading resumes
//	  task         integer                       the task that committed it
//	  generation   bigint                        its generation then
//	  updated_at   timestamptz
//
//	runnel_offsets_fences                 one row per task
//	  consumer     text         ┐ PRIMARY KEY
//	  task         integer      ┘
//	  generation   bigint                        bumped by every OpenTask
//	  updated_at   timestamptz
//
// The fences are a table of their own: a task has a fence before it has
// any position (its first OpenTask), and its commits lock that one row,
// whatever inputs the task reads.
//
// # Protocol
//
// Each task has its own connection and, between checkpoints, a
// transaction (READ COMMITTED, whatever the database's default):
//
//	OpenTask(t)  roll back this Sink's transaction of t, if any; in a
//	             transaction of its own:
//	               INSERT INTO fences ... ON CONFLICT DO UPDATE
//	                 SET generation = generation + 1 RETURNING generation
//	               SELECT topic, partition, next_offset FROM offsets
//	                 WHERE consumer = $1 AND task = $2
//	             and return those positions (nil if none)
//	Write(t)     convert the records; send them into t's transaction (see
//	             Sending)
//	Prepare(cp)  send what the tasks of cp have not sent yet
//	Commit(cp)   for each task t of cp, in t's transaction:
//	               UPDATE fences SET ... WHERE consumer = $1 AND task = $2
//	                 AND generation = <ours>        locks t's fence row
//	               0 rows: ROLLBACK, ErrFenced
//	               INSERT INTO offsets ... ON CONFLICT DO UPDATE  (t's positions)
//	               COMMIT
//	CloseTask(t) ROLLBACK, close t's connection
//	DeletePositions()
//	             in a transaction of its own:
//	               UPDATE fences SET generation = generation + 1 WHERE consumer = $1
//	               DELETE FROM offsets WHERE consumer = $1
//
// Rows and positions commit in one transaction: after a crash, the
// positions read by the next OpenTask are those of the rows committed,
// and what was written since is gone with the transaction that was never
// committed. A task with nothing written and its positions unchanged is
// not committed again. When a Commit fails otherwise than by fencing (the
// connection lost during COMMIT), whether it committed is unknown: the
// task fails Write and Commit until OpenTask reads the truth again.
//
// # Fencing
//
// Two workers may believe they own a task for a while (a rebalance, a
// paused process). The newer one's OpenTask bumps the task's generation;
// the older one's Commit then finds a generation not its own, rolls back
// and fails with ErrFenced: none of its rows land. This is free of races
// because the fence row is locked by both sides: a Commit locks it (the
// UPDATE) before it writes the positions and holds the lock until COMMIT;
// the bump of a newer OpenTask takes the same row lock, so it waits for a
// Commit in flight, and reads the positions (in a statement after it, so
// with a snapshot taken after that COMMIT) with what that Commit stored.
// Conversely, a Commit that comes after the bump, or waits for it, sees
// the new generation (READ COMMITTED re-reads the row it waited for) and
// fails. Either a worker's commit is entirely before the newer worker
// reads the positions, or it does not happen.
//
// A fenced worker's transaction holds the locks of the rows it wrote
// until it ends (its Commit, CloseTask, or its connection dying): an
// upsert of the same keys by the newer worker waits for it. PostgreSQL's
// idle_in_transaction_session_timeout, set above the checkpoint interval
// for the sink's role, bounds how long a stalled worker can hold them.
//
// # Reprocessing
//
// DeletePositions (connect.PositionsDeleter), which a reset of the
// pipeline calls, forgets the consumer's positions: the next OpenTask
// reports none, and the stage reads its input again from where the reset
// put it. It bumps the fences rather than delete them, so that a worker
// that still had a task open is fenced, as by a newer OpenTask. The rows
// of the table stay: in upsert mode the rows of the new run replace those
// of the same keys (a window's result is written again over itself); in
// insert mode they are added beside the old ones. Truncate or delete
// what the new run replaces yourself, before it runs.
//
// # Sending
//
// Rows go in with COPY in its binary format, which the benchmark below
// shows faster than pipelined INSERTs. The sink encodes each record
// straight from its JSON into the row COPY sends (one pass validates the
// JSON and finds its fields; numeric digits go to PostgreSQL's base-10000
// form without a big.Int): no Go value per column, no allocation per row.
// Types the sink does not encode itself go through pgx's codecs.
//
// In insert mode, a batch's COPY starts with its first rows and Write
// feeds it as it converts more, so that the database stores rows while
// the sink parses the next ones; the batch ends at BatchRows rows or at
// Prepare. In upsert mode, and for tombstones, a batch is sent when it
// ends: COPY into a temporary table of the connection
// (pg_temp.runnel_stage: the mapped columns with their types, no
// constraint, ON COMMIT DELETE ROWS), then INSERT ... SELECT ... ON
// CONFLICT, or DELETE ... USING.
//
// Every batch but the first of a transaction is sent under a savepoint.
// When the database refuses a row, the batch is rolled back to it (or,
// for the first batch, the whole transaction, which holds nothing else)
// and the bad rows isolated: the row a COPY error names is refused and
// the rows around it sent again; without one (an upsert), halves are sent
// apart, down to single rows. The sink keeps a batch's rows until it is
// in, so memory is bounded by BatchRows. Each savepoint is a
// subtransaction: past 64 in a transaction, PostgreSQL's snapshots in
// other sessions get slower (subtransaction overflow), so keep a
// checkpoint's rows per task under 64 × BatchRows.
//
// # Performance
//
// On 2 vCPUs, with PostgreSQL 15 on the same machine (fsync off):
// checkpoints of 10,000 rows of (bigint, text, numeric(12,2),
// timestamptz), written in Writes of 500, then Prepare and Commit. The
// baseline has the rows decoded into Go values beforehand and sends them
// with pgx's CopyFrom, and the offsets upsert, in one transaction per
// checkpoint (go test -run '^$' -bench . -count 6; benchstat):
//
//	                       rows/s       vs RawCopy
//	Sink/insert            423k ± 13%   0.97 (no significant difference, p=0.82)
//	Sink/insert-nostream   335k ± 12%   0.77 (each batch sent when full)
//	RawCopy/insert         436k ± 19%
//	RawPipelined/insert     78k ± 28%   0.18 (a prepared INSERT per row, pipelined)
//	Sink/upsert             91k ±  6%   0.93
//	RawCopy/upsert          98k ± 11%        (COPY into a temporary table, INSERT ... ON CONFLICT)
//	RawPipelined/upsert     52k ± 22%   0.53
//	Convert                891k ± 22%        (the sink's conversion alone: 0 allocations)
//
// The sink allocates 215 times per checkpoint of 10,000 rows in insert
// mode (the baseline: 100,000).
package postgres
