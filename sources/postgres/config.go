package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config field names, as in YAML; Validate's errors name fields by them.
const (
	fieldURL                = "url"
	fieldTable              = "table"
	fieldQuery              = "query"
	fieldName               = "name"
	fieldMode               = "mode"
	fieldIncrementingColumn = "incrementing_column"
	fieldTimestampColumn    = "timestamp_column"
	fieldKeyColumn          = "key_column"
	fieldStart              = "start"
	fieldSafeLag            = "safe_lag"
	fieldPollInterval       = "poll_interval"
	fieldBatchSize          = "batch_size"
	fieldOffsetsFile        = "offsets_file"
)

// Modes of Config.Mode. Both poll a query; change data capture through
// logical replication will be a third mode sharing URL and Name.
const (
	// ModeIncrementing reads the rows whose IncrementingColumn is above
	// the largest value read: new rows of an append-only table. See
	// "Incrementing mode" in the package doc for the rows it can miss.
	ModeIncrementing = "incrementing"
	// ModeTimestampIncrementing reads the rows whose TimestampColumn is
	// above the largest timestamp read and older than SafeLag: new and
	// updated rows, with updates stamping the column.
	ModeTimestampIncrementing = "timestamp+incrementing"
)

// Defaults of Config.
const (
	DefaultPollInterval = time.Second
	DefaultBatchSize    = 1000
	DefaultSafeLag      = 5 * time.Second
)

// MaxBatchSize is the largest Config.BatchSize.
const MaxBatchSize = 1_000_000

// Config configures a Source. The zero value of every optional field
// means its default.
type Config struct {
	// URL is the connection string, a URL
	// ("postgres://user:secret@db:5432/shop?sslmode=require") or
	// key=value pairs, as pgx parses them. The session's TimeZone is set
	// to UTC, DateStyle to ISO and IntervalStyle to iso_8601, whatever
	// the string says (see "Values" in the package doc). Required.
	URL string `yaml:"url" spec:"required"`
	// Table is the table read ("orders", or "shop.orders" with its
	// schema), each part spelled as it is stored (case-sensitive, no
	// quotes); it stands for the query SELECT * FROM the table. Exactly
	// one of Table and Query is required.
	Table string `yaml:"table"`
	// Query is a SELECT (or WITH ... SELECT) whose rows are read instead
	// of a table's, without a final ";": a join or a filter. It is used
	// as a subquery, filtered and ordered on the columns below, so keep
	// it simple enough for PostgreSQL to push that filter down to an
	// index. Requires Name.
	Query string `yaml:"query"`
	// Name names the input: its records have the stream "postgres:" +
	// Name, under which the sink stores the position. Default: Table.
	// Give a new name when Mode or the columns change: positions of one
	// mode mean nothing in another.
	Name string `yaml:"name"`
	// Mode is ModeIncrementing or ModeTimestampIncrementing. Required.
	Mode string `yaml:"mode" spec:"required"`
	// IncrementingColumn is a smallint, integer or bigint column:
	// in incrementing mode the position, in timestamp+incrementing mode
	// the order of rows sharing a timestamp; it is the records' Pos.Offset
	// and, by default, their key. Required.
	IncrementingColumn string `yaml:"incrementing_column"`
	// TimestampColumn is a timestamptz (or timestamp, read as UTC)
	// column: in timestamp+incrementing mode the position, and in both
	// modes the records' time. Required in timestamp+incrementing mode.
	TimestampColumn string `yaml:"timestamp_column"`
	// KeyColumn is the column whose value, as text, is the records' key.
	// Default: IncrementingColumn.
	KeyColumn string `yaml:"key_column"`
	// Start is where a source with no stored position begins: the first
	// id read in incrementing mode (an integer: "1000" reads the rows
	// with ids from 1000), the first timestamp in timestamp+incrementing
	// mode (RFC 3339: "2026-11-21T00:00:00Z"). Default: the first row.
	Start string `yaml:"start"`
	// SafeLag is how old a row's timestamp must be, by the database's
	// clock, before the row is read: a transaction committing less than
	// SafeLag after the timestamp it gave its rows is never missed (see
	// "Late commits" in the package doc). Default (nil) 5s; 0 reads
	// rows as soon as they are committed and can miss late commits.
	// Only in timestamp+incrementing mode.
	SafeLag *time.Duration `yaml:"safe_lag"`
	// PollInterval is how long Poll waits before querying again after a
	// query found every row read. Default 1s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// BatchSize is the most rows a Poll returns, except that a batch
	// always holds every row of the timestamp (or id) it ends with: a
	// group of rows sharing one that is larger is returned whole, alone.
	// Default 1000, at most MaxBatchSize.
	BatchSize int `yaml:"batch_size"`
	// OffsetsFile, when set, is where Commit stores the position, for an
	// at-least-once sink, and where the source resumes from when the
	// Assignments give no position. Default: none.
	OffsetsFile string `yaml:"offsets_file"`
	// Logger receives a warning for each lost connection. Default: none.
	Logger *slog.Logger `yaml:"-"`
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = c.Table
	}
	if c.KeyColumn == "" {
		c.KeyColumn = c.IncrementingColumn
	}
	if c.SafeLag == nil && c.Mode == ModeTimestampIncrementing {
		c.SafeLag = new(DefaultSafeLag)
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Query = trimQuery(c.Query)
	return c
}

// trimQuery drops the spaces and semicolons ending q.
func trimQuery(q string) string {
	return strings.TrimRight(q, " \t\r\n;")
}

// Validate reports every invalid field of c at once, each error naming its
// field (`postgres source: mode: unknown mode "timestamp" (want
// "incrementing" or "timestamp+incrementing")`). It needs no database.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("postgres source: %s: "+format, append([]any{field}, args...)...))
	}
	if c.URL == "" {
		bad(fieldURL, "required")
	} else if _, err := pgx.ParseConfig(c.URL); err != nil {
		bad(fieldURL, "%w", err) // pgx masks the password
	}
	switch {
	case c.Table == "" && trimQuery(c.Query) == "":
		bad(fieldTable, "one of table and query is required")
	case c.Table != "" && c.Query != "":
		bad(fieldTable, "give table or query, not both")
	case c.Table != "":
		if parts := strings.Split(c.Table, "."); len(parts) > 2 || slices.Contains(parts, "") {
			bad(fieldTable, "%q is not a table name or schema.table", c.Table)
		}
	case c.Name == "":
		bad(fieldName, "required with query")
	}
	want := fmt.Sprintf("want %q or %q", ModeIncrementing, ModeTimestampIncrementing)
	switch c.Mode {
	case ModeIncrementing, ModeTimestampIncrementing:
	case "":
		bad(fieldMode, "required (%s)", want)
	default:
		bad(fieldMode, "unknown mode %q (%s)", c.Mode, want)
	}
	if c.IncrementingColumn == "" {
		bad(fieldIncrementingColumn, "required")
	}
	if c.Mode == ModeTimestampIncrementing && c.TimestampColumn == "" {
		bad(fieldTimestampColumn, "required in %s mode", ModeTimestampIncrementing)
	}
	if c.Start != "" {
		switch c.Mode {
		case ModeIncrementing:
			if _, err := strconv.ParseInt(c.Start, 10, 64); err != nil {
				bad(fieldStart, "%q is not an integer (the first id to read)", c.Start)
			}
		case ModeTimestampIncrementing:
			if _, err := time.Parse(time.RFC3339Nano, c.Start); err != nil {
				bad(fieldStart, "%q is not an RFC 3339 time such as \"2026-11-21T00:00:00Z\"", c.Start)
			}
		}
	}
	if c.SafeLag != nil {
		switch {
		case c.Mode == ModeIncrementing:
			bad(fieldSafeLag, "only applies in %s mode: ids carry no time to wait on (see the package doc)", ModeTimestampIncrementing)
		case *c.SafeLag < 0:
			bad(fieldSafeLag, "%v must not be negative", *c.SafeLag)
		}
	}
	if c.PollInterval < 0 {
		bad(fieldPollInterval, "%v must not be negative", c.PollInterval)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxBatchSize {
		bad(fieldBatchSize, "%d must be between 1 and %d", c.BatchSize, MaxBatchSize)
	}
	if c.OffsetsFile != "" && strings.HasSuffix(c.OffsetsFile, string(filepath.Separator)) {
		bad(fieldOffsetsFile, "%q names a directory, not a file", c.OffsetsFile)
	}
	return errors.Join(errs...)
}

// startPosition returns the position before Start (positions are
// exclusive: reading resumes after them), and whether Start is set. cfg
// is valid.
func (c *Config) startPosition() (int64, bool) {
	if c.Start == "" {
		return 0, false
	}
	if c.Mode == ModeIncrementing {
		id, _ := strconv.ParseInt(c.Start, 10, 64)
		if id == minPos {
			return 0, false // every id is after "before the smallest"
		}
		return id - 1, true
	}
	t, _ := time.Parse(time.RFC3339Nano, c.Start)
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++ // the first whole microsecond at or after Start
	}
	return us - 1, true
}
