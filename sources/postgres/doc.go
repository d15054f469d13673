// Package postgres is the PostgreSQL source of runnel. It reads rows of a
// table, or of a query, as they are inserted (and updated), by polling:
// Config.Mode picks how new rows are told from the rows already read.
//
//   - ModeIncrementing: the rows whose IncrementingColumn (an id, from a
//     sequence) is above the largest one read. Inserts only; see
//     "Incrementing mode" for the rows it can miss.
//   - ModeTimestampIncrementing: the rows whose TimestampColumn is above
//     the largest timestamp read and older than SafeLag; ids order the
//     rows sharing a timestamp. Inserts and updates (a row updated with a
//     new timestamp is read again), and, within SafeLag, no row missed.
//
// Deleted rows are never seen, and rows whose position column is NULL (or
// an infinite timestamp) are never read. Change data capture through
// logical replication will be another Mode of this package, sharing URL,
// Name, the record format (rows.go) and the connection handling; query
// polling lives in poll.go.
//
// # Usage
//
//	src, err := postgres.New(postgres.Config{
//		URL:                "postgres://runnel@db:5432/shop",
//		Table:              "orders",
//		Mode:               postgres.ModeTimestampIncrementing,
//		IncrementingColumn: "id",
//		TimestampColumn:    "updated_at", // set by the database: DEFAULT now()
//		SafeLag:            new(10 * time.Second),
//	})
//
// or, in a pipeline's YAML:
//
//	url: postgres://runnel@db:5432/shop
//	table: orders
//	mode: timestamp+incrementing
//	incrementing_column: id
//	timestamp_column: updated_at
//	safe_lag: 10s
//
// A poll runs, on the source's one connection, a query such as:
//
//	SELECT * FROM (SELECT * FROM "orders") AS runnel_src
//	WHERE "updated_at" > $position AND "updated_at" < now() - $safe_lag
//	ORDER BY "updated_at", "id" LIMIT batch_size+1
//
// so the position column wants an index (on (updated_at, id) here).
//
// # Records
//
// The source has a single task, 0, and one input:
//
//	engine.Input{Stream: "postgres:" + Name, Partition: 0}
//
// Each row is a record whose value is the row as a compact JSON object,
// column name to value, in column order:
//
//	{"id":42,"customer":"cust-7","amount":19.90,"updated_at":"2026-11-21T09:00:00.123456Z","tags":["new"]}
//
// Its key is the value of KeyColumn (default IncrementingColumn) as text
// ("42"), nil when NULL; its time is TimestampColumn in Unix milliseconds,
// when there is one and it is not NULL, else the time the row was read;
// it has no headers. Pos.Offset is the row's id and Pos.Next its position
// (below).
//
// # Values
//
// PostgreSQL's binary format is read for these types, and each becomes:
//
//	smallint, integer, bigint, oid   a JSON number
//	real, double precision           the shortest JSON number that reads back as the
//	                                 same float; "NaN", "Infinity", "-Infinity" strings
//	numeric                          a JSON number with exactly the digits PostgreSQL
//	                                 prints (12.50 stays 12.50, 30 digits stay 30
//	                                 digits); "NaN", "Infinity", "-Infinity" strings
//	boolean                          true or false
//	text, varchar, char(n), name     a string
//	json, jsonb                      the JSON itself, compacted
//	uuid                             "0b5e9c4e-..." string
//	bytea                            a base64 string (standard alphabet, padded)
//	date                             "2026-11-21"; "infinity", "-infinity"
//	timestamptz, timestamp           RFC 3339 in UTC with microseconds,
//	                                 "2026-11-21T09:00:00.000000Z"; a timestamp
//	                                 without time zone is taken as UTC;
//	                                 "infinity", "-infinity"
//	arrays of the types above        JSON arrays, nested for several dimensions
//	NULL                             null
//
// Every other type (time, interval, inet, money, enums, ranges, arrays of
// those...) becomes a JSON string of its text form. Sessions use TimeZone
// UTC, DateStyle ISO and IntervalStyle iso_8601 ("P1DT2H"), so that text
// is the same whoever configured the server (the expressions of a Query,
// date_trunc('day', now()) say, are evaluated in UTC too).
//
// # Positions
//
// A position is one int64, the largest value read of the position column:
// the id in incrementing mode, the timestamp in Unix microseconds (exact:
// PostgreSQL stores microseconds) in timestamp+incrementing mode. Every
// record's Pos.Next is its own row's value, and reading resumes at the
// rows whose value is greater. Rows sharing a value (a timestamp given to
// a whole transaction's rows, or to rows inserted in the same
// microsecond) would be lost if a batch ended among them, since a
// checkpoint falls after any batch: so a batch never does. A query reads
// BatchSize+1 rows; if the last two share a value, the rows with that
// value are left out of the batch (the next poll starts with them), and
// if all of them share it, the whole group is read by a second query
// without a limit: a batch can be larger than BatchSize by that much.
// Every position a checkpoint stores thus sits on the boundary between
// two values, and no row is read twice or skipped across a restart.
//
// On the first Poll the source calls Assignments.Assigned for task 0 and
// resumes at the position returned for its input; without one, at the
// position in OffsetsFile; without that, at Start; and without that, at
// the first row. Positions of one mode mean nothing in the other: give
// the input a new Name when changing Mode or the position column.
// (Pos.Next is 0 for id 0 or the timestamp 1970-01-01T00:00:00Z, which
// the runtime takes for "no position" when it skips outputs a secondary
// exactly-once sink already holds after a crash: such a row may reach
// that sink twice.)
//
// # Late commits
//
// Rows do not become visible in the order of their timestamps: a
// transaction stamps its rows when it writes them (now() is the time the
// transaction started) and they appear when it commits, maybe after rows
// with later timestamps have been read, and the position moved past
// theirs. So the source reads only the rows older than SafeLag by the
// database's clock: ts < now() - SafeLag in the query. The guarantee:
//
//	A row whose transaction commits before the database's clock reaches
//	its timestamp + SafeLag is read.
//
// Why: the row can only be read by a query whose now() is past its
// timestamp + SafeLag; every such query starts after the commit, so its
// snapshot sees the row; and until the first of them, every row read was
// older than the row (ts < now() - SafeLag), so the position is still
// below its timestamp. Rows are read in timestamp order, and a batch never
// ends among rows sharing a timestamp, so the position cannot pass the
// row without reading it. With the timestamp set by the database (DEFAULT now(), or now()
// in an update trigger) that reads: every transaction that lasts less
// than SafeLag is seen whole. A row committed later than that is missed
// if, by then, a poll has read a row with a timestamp at least its own;
// it is read otherwise. A timestamp set by the application, from its own
// clock, shortens the lag by how far that clock is behind the database's.
// The price of SafeLag is latency: a row is read SafeLag (plus up to
// PollInterval) after its timestamp. A timestamp without time zone column
// is compared with now() as UTC: it must hold UTC times.
//
// # Incrementing mode
//
// An id tells nothing of when its transaction commits, so incrementing
// mode has no SafeLag and can miss rows: while a transaction that took id
// 41 from the sequence is open, a transaction that took 42 can commit,
// 42 is read, and when 41 commits it lies below the position and is
// never read. This is the caveat of Kafka Connect's JDBC source in this
// mode too. Incrementing mode reads every row only when ids become
// visible in increasing order: a single writer inserting in id order, or
// a table filled and then read. With concurrent writers, use
// timestamp+incrementing mode with a database-set timestamp (or, later,
// logical replication).
//
// # Bounded runs
//
// After StopAtEnd (a --once run) the source fixes an end on its next
// query, the largest id there is, or in timestamp+incrementing mode the
// timestamp now() - SafeLag, reads the rows up to it and then Poll
// returns connect.ErrEndOfInput; rows younger than SafeLag are left for
// the next run, which resumes from the stored position.
//
// # Connection
//
// The source uses one connection. A connection lost (the server
// restarted, a network failure, ctx ending in the middle of a query) is
// opened again on the next query, up to 5 attempts in a row with backoff
// from 100ms to 2s; then Poll returns the error. Errors of the query
// itself (a missing table, a permission) are returned at once. Columns are
// read again at every query: a column added to the table appears in the
// records, and a column of the configuration that disappears fails Poll.
//
// # Delivery
//
// With an exactly-once sink, which stores the position with its output
// and reports it through Assignments.Assigned, the output is exactly once
// (for the rows the mode reads). With an at-least-once sink the runtime
// calls Commit after the sink's commit; Commit then writes the position
// to OffsetsFile, when set, as JSON, atomically (temporary file, fsync,
// rename, fsync of the directory):
//
//	{"version":1,"stream":"postgres:orders","mode":"incrementing","next":1500}
//
// and a crash between the two reads the rows after that position again.
// An OffsetsFile that is not valid JSON, has another version, or holds the
// position of another stream or mode fails Open. Lag is -1: counting the
// rows left would cost as much as reading them.
//
// # Concurrency
//
// Open, Poll and Close must be called from one goroutine at a time. Lag,
// Commit and StopAtEnd may be called from any goroutine, concurrently with
// Poll.
package postgres
