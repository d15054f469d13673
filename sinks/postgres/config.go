package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Config field names, as in YAML; Validate's errors name fields by them.
const (
	fieldURL               = "url"
	fieldTable             = "table"
	fieldMode              = "mode"
	fieldKey               = "key"
	fieldDeleteOnTombstone = "delete_on_tombstone"
	fieldColumns           = "columns"
	fieldAutoCreate        = "auto_create"
	fieldOffsetsTable      = "offsets_table"
	fieldBatchRows         = "batch_rows"
)

// Modes of Config.Mode.
const (
	// ModeInsert appends every record as a new row (COPY).
	ModeInsert = "insert"
	// ModeUpsert inserts a row or, when a row with the same Key exists,
	// updates it: INSERT ... ON CONFLICT (Key) DO UPDATE.
	ModeUpsert = "upsert"
)

// Defaults of Config.
const (
	DefaultMode         = ModeInsert
	DefaultOffsetsTable = "runnel_offsets"
	DefaultBatchRows    = 5000
)

// maxIdentLen is PostgreSQL's limit on an identifier (NAMEDATALEN-1).
const maxIdentLen = 63

// fencesSuffix names the fence table after the offsets table.
const fencesSuffix = "_fences"

// Config configures a Sink. The zero value of every field but URL, Table
// and Consumer means its default.
type Config struct {
	// URL is the connection string, as a URL or in key=value form, as
	// libpq and pgx take it ("postgres://runnel@db:5432/shop?sslmode=require").
	// Keep the password out of the file: leave it out and set PGPASSWORD
	// in the environment (pgx reads it, and ~/.pgpass), or write
	// password=${PG_PASSWORD} in the key=value form, which the pipeline
	// file expands. Required.
	URL string `yaml:"url"`
	// Table is the table written, "name" or "schema.name"; each part is
	// quoted as it is, so names are case-sensitive. Required.
	Table string `yaml:"table"`
	// Mode is ModeInsert (default) or ModeUpsert.
	Mode string `yaml:"mode"`
	// Key names the columns identifying a row: the conflict target of
	// ModeUpsert (a primary key or a unique index of the table must cover
	// exactly them) and the columns a tombstone's delete matches. Required
	// with ModeUpsert and DeleteOnTombstone.
	Key []string `yaml:"key"`
	// DeleteOnTombstone makes a record with a nil value (a tombstone)
	// delete the rows whose Key columns equal its key's: taken from the
	// record key's fields named as the columns when the key is a JSON
	// object, or the key itself when there is one Key column (a JSON
	// scalar, or plain bytes taken as a string). A column mapped from the
	// key ("from: key.id") takes that field instead. Without it, a
	// tombstone is refused. Requires Key.
	DeleteOnTombstone bool `yaml:"delete_on_tombstone"`
	// Columns maps record fields to columns. Empty (default): every
	// column of the table (except generated ones) takes the field of the
	// JSON object value with the same name.
	Columns []Column `yaml:"columns"`
	// AutoCreate creates the table, when it does not exist, from Columns'
	// types, with PRIMARY KEY (Key) when Key is set. Every column then
	// needs a Type.
	AutoCreate bool `yaml:"auto_create"`
	// OffsetsTable is the table holding the committed positions, "name"
	// or "schema.name"; the fences are in the table named after it with
	// "_fences". Created if missing. Default "runnel_offsets".
	OffsetsTable string `yaml:"offsets_table"`
	// BatchRows is how many rows a task buffers before it sends them into
	// its open transaction: it bounds the memory held between
	// checkpoints. Default 5000.
	BatchRows int `yaml:"batch_rows"`
	// Consumer identifies the writer: the key under which positions and
	// fences are stored ("orders/1/pg": pipeline, stage, output). The
	// runtime sets it; two sinks with the same Consumer are two workers of
	// the same job. Required by New; not in YAML.
	Consumer string `yaml:"-"`
}

// Column maps one column.
type Column struct {
	// Name is the column's name. Required.
	Name string `yaml:"name"`
	// From is where the value comes from: "value.a.b" (a field of the
	// JSON value, nested fields separated by dots), "value" (the whole
	// value), "key" (the whole key: JSON, or plain bytes as a string),
	// "key.a" (a field of a JSON object key), "time" (the record's event
	// time, Unix milliseconds), "topic", "partition" or "offset" (where
	// the record was read). Default "value.<Name>".
	From string `yaml:"from"`
	// Type is the column's PostgreSQL type ("bigint", "numeric(12,2)",
	// "text[]"), used only by AutoCreate.
	Type string `yaml:"type"`
}

// Sources of Column.From, besides the value and the key.
const (
	fromTime      = "time"
	fromTopic     = "topic"
	fromPartition = "partition"
	fromOffset    = "offset"
	fromValue     = "value"
	fromKey       = "key"
)

func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.OffsetsTable == "" {
		c.OffsetsTable = DefaultOffsetsTable
	}
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	return c
}

// Validate reports every invalid field of c at once, each error naming its
// field ("postgres sink: table: required"). It needs no database: whether
// the table and its columns exist is checked by the first OpenTask.
// Consumer is not checked (New does).
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("postgres sink: %s: "+format, append([]any{field}, args...)...))
	}
	if c.URL == "" {
		bad(fieldURL, "required")
	} else if _, err := pgx.ParseConfig(c.URL); err != nil {
		bad(fieldURL, "%v", err) // pgconn's parse errors hide the password
	}
	if c.Table == "" {
		bad(fieldTable, "required")
	} else if err := checkQualified(c.Table, 0); err != nil {
		bad(fieldTable, "%q: %v", c.Table, err)
	}
	switch c.Mode {
	case "", ModeInsert:
	case ModeUpsert:
		if len(c.Key) == 0 {
			bad(fieldKey, "required with mode %q", ModeUpsert)
		}
	default:
		bad(fieldMode, "unknown mode %q (want %q or %q)", c.Mode, ModeInsert, ModeUpsert)
	}
	if c.DeleteOnTombstone && len(c.Key) == 0 {
		bad(fieldKey, "required with %s", fieldDeleteOnTombstone)
	}
	seenKey := map[string]bool{}
	for _, k := range c.Key {
		switch {
		case k == "":
			bad(fieldKey, "empty column name")
		case seenKey[k]:
			bad(fieldKey, "%q is named twice", k)
		case len(k) > maxIdentLen:
			bad(fieldKey, "%q is longer than %d bytes", k, maxIdentLen)
		}
		seenKey[k] = true
	}
	seen := map[string]bool{}
	for i, col := range c.Columns {
		switch {
		case col.Name == "":
			bad(fieldColumns, "column %d: name: required", i)
		case seen[col.Name]:
			bad(fieldColumns, "%q is named twice", col.Name)
		case len(col.Name) > maxIdentLen:
			bad(fieldColumns, "%q is longer than %d bytes", col.Name, maxIdentLen)
		}
		seen[col.Name] = true
		if col.From != "" {
			if _, err := parseFrom(col.From); err != nil {
				bad(fieldColumns, "%q: from: %v", col.Name, err)
			}
		}
		if c.AutoCreate && col.Type == "" {
			bad(fieldColumns, "%q: type: required with %s", col.Name, fieldAutoCreate)
		}
		if strings.ContainsRune(col.Type, ';') {
			bad(fieldColumns, "%q: type: %q is not a type", col.Name, col.Type)
		}
	}
	if len(c.Columns) > 0 {
		for _, k := range c.Key {
			if k != "" && !seen[k] {
				bad(fieldKey, "%q is not one of the columns", k)
			}
		}
	}
	if c.AutoCreate && len(c.Columns) == 0 {
		bad(fieldColumns, "required with %s: the table is created from their types", fieldAutoCreate)
	}
	if c.OffsetsTable != "" {
		if err := checkQualified(c.OffsetsTable, len(fencesSuffix)); err != nil {
			bad(fieldOffsetsTable, "%q: %v", c.OffsetsTable, err)
		}
	}
	if c.BatchRows < 0 {
		bad(fieldBatchRows, "%d must not be negative", c.BatchRows)
	}
	return errors.Join(errs...)
}

// checkQualified checks a "name" or "schema.name", whose name leaves room
// for a suffix of reserve bytes.
func checkQualified(s string, reserve int) error {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return errors.New(`want "name" or "schema.name"`)
	}
	for _, p := range parts {
		if p == "" {
			return errors.New("empty name")
		}
	}
	if n := parts[len(parts)-1]; len(n)+reserve > maxIdentLen {
		return fmt.Errorf("name longer than %d bytes", maxIdentLen-reserve)
	}
	return nil
}

// ident returns the identifier of a "name" or "schema.name".
func ident(s string) pgx.Identifier {
	return pgx.Identifier(strings.Split(s, "."))
}

// from is a parsed Column.From.
type from struct {
	src  string   // fromValue, fromKey, fromTime, fromTopic, fromPartition, fromOffset
	path []string // fields within the value or key
}

func parseFrom(s string) (from, error) {
	parts := strings.Split(s, ".")
	f := from{src: parts[0], path: parts[1:]}
	switch f.src {
	case fromValue, fromKey:
		for _, p := range f.path {
			if p == "" {
				return from{}, fmt.Errorf("%q: empty field name", s)
			}
		}
	case fromTime, fromTopic, fromPartition, fromOffset:
		if len(f.path) > 0 {
			return from{}, fmt.Errorf("%q: %s has no fields", s, f.src)
		}
	default:
		return from{}, fmt.Errorf("%q: want value[.field...], key[.field...], time, topic, partition or offset", s)
	}
	return f, nil
}
