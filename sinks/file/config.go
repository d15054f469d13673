package file

import (
	"errors"
	"fmt"
)

// Config field names, as in YAML; Validate's errors name fields by them.
const (
	fieldDir         = "dir"
	fieldPrefix      = "prefix"
	fieldFormat      = "format"
	fieldColumns     = "columns"
	fieldRollBytes   = "roll_bytes"
	fieldRollRecords = "roll_records"
)

// Formats of Config.Format; each is also its files' extension.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// Defaults of Config.
const (
	DefaultPrefix = "part"
	DefaultFormat = FormatJSONL
)

// maxPrefixLen bounds Config.Prefix, so that inline tokens have room.
const maxPrefixLen = 64

// Config configures a Sink. The zero value of every field but Dir (and
// Columns, for CSV) means its default.
type Config struct {
	// Dir is the directory part files are written to, created if needed.
	// Required.
	Dir string `yaml:"dir"`
	// Prefix starts the name of every file; letters, digits, '.', '_'
	// and '-', starting with a letter or digit, at most 64 bytes.
	// Several sinks may share a Dir with different prefixes. Default
	// "part".
	Prefix string `yaml:"prefix"`
	// Format is FormatJSONL (default) or FormatCSV.
	Format string `yaml:"format"`
	// Columns are the CSV columns, in order: the header row, and the
	// fields of the JSON object values written. Required for FormatCSV.
	Columns []string `yaml:"columns"`
	// RollBytes makes WantsCommit true once a task's in-progress file
	// holds that many bytes. Default 0: no limit.
	RollBytes int64 `yaml:"roll_bytes"`
	// RollRecords makes WantsCommit true once a task's in-progress file
	// holds that many records. Default 0: no limit.
	RollRecords int64 `yaml:"roll_records"`
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Format == "" {
		c.Format = DefaultFormat
	}
	return c
}

// Validate reports every invalid field of c at once, each error naming its
// field ("file sink: dir: required").
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("file sink: %s: "+format, append([]any{field}, args...)...))
	}
	if c.Dir == "" {
		bad(fieldDir, "required")
	}
	if c.Prefix != "" && !validPrefix(c.Prefix) {
		bad(fieldPrefix, "%q: want letters, digits, '.', '_' and '-', starting with a letter or digit, at most %d bytes", c.Prefix, maxPrefixLen)
	}
	switch c.Format {
	case "", FormatJSONL:
	case FormatCSV:
		if len(c.Columns) == 0 {
			bad(fieldColumns, "at least one column is required with format %q", FormatCSV)
		}
		seen := map[string]bool{}
		for _, col := range c.Columns {
			if seen[col] {
				bad(fieldColumns, "%q is named twice", col)
			}
			seen[col] = true
		}
	default:
		bad(fieldFormat, "unknown format %q (want %q or %q)", c.Format, FormatJSONL, FormatCSV)
	}
	if c.RollBytes < 0 {
		bad(fieldRollBytes, "%d must not be negative", c.RollBytes)
	}
	if c.RollRecords < 0 {
		bad(fieldRollRecords, "%d must not be negative", c.RollRecords)
	}
	return errors.Join(errs...)
}

func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
