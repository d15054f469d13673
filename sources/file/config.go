package file

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Config field names, as in YAML; Validate's errors name fields by them.
const (
	fieldPaths        = "paths"
	fieldFormat       = "format"
	fieldPollInterval = "poll_interval"
	fieldMaxBatch     = "max_batch"
	fieldOffsetsFile  = "offsets_file"
)

// Formats of Config.Format.
const (
	FormatLines = "lines"
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// Defaults of Config.
const (
	DefaultFormat       = FormatLines
	DefaultPollInterval = 200 * time.Millisecond
	DefaultMaxBatch     = 500
)

// MaxLineBytes is the longest line the source reads, not counting its
// "\n" (a "\r" before it counts).
const MaxLineBytes = 16 << 20

// HeaderFile is the record header holding the identity (cleaned absolute
// path) of the file a record was read from.
const HeaderFile = "runnel.file"

// Config configures a Source. The zero value of every field but Paths
// means its default.
type Config struct {
	// Paths are files, directories or filepath.Glob patterns. A
	// directory, named or matched, stands for the regular files directly
	// in it. Required.
	Paths []string `yaml:"paths"`
	// Format is FormatLines (default), FormatJSONL or FormatCSV.
	Format string `yaml:"format"`
	// CSVHeader says whether the first row of a CSV file is its header.
	// Default (nil) true. Only meaningful with FormatCSV.
	CSVHeader *bool `yaml:"csv_header"`
	// Follow keeps the source reading appended lines and new files that
	// match Paths; without it the source ends after reading what it
	// found. Default false.
	Follow bool `yaml:"follow"`
	// PollInterval is how often a following source globs Paths, checks
	// file sizes and, when idle, looks for new data. Default 200ms.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxBatch is the most records one Poll returns. Default 500.
	MaxBatch int `yaml:"max_batch"`
	// OffsetsFile, when set, is where Commit stores the positions and
	// where the source looks for the position of a file the Assignments
	// gave none for. Default: none.
	OffsetsFile string `yaml:"offsets_file"`
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Format == "" {
		c.Format = DefaultFormat
	}
	if c.CSVHeader == nil {
		t := true
		c.CSVHeader = &t
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c
}

// Validate reports every invalid field of c at once, each error naming its
// field ("file source: paths: at least one path or glob is required").
// Zero fields are valid: they mean their default.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("file source: %s: "+format, append([]any{field}, args...)...))
	}
	if len(c.Paths) == 0 {
		bad(fieldPaths, "at least one path or glob is required")
	}
	for i, p := range c.Paths {
		if p == "" {
			bad(fieldPaths, "entry %d is empty", i)
		} else if _, err := filepath.Match(p, ""); err != nil {
			bad(fieldPaths, "%q: %w", p, err)
		}
	}
	switch c.Format {
	case "", FormatLines, FormatJSONL, FormatCSV:
	default:
		bad(fieldFormat, "unknown format %q (want %q, %q or %q)", c.Format, FormatLines, FormatJSONL, FormatCSV)
	}
	if c.PollInterval < 0 {
		bad(fieldPollInterval, "%v must not be negative", c.PollInterval)
	}
	if c.MaxBatch < 0 {
		bad(fieldMaxBatch, "%d must not be negative", c.MaxBatch)
	}
	if c.OffsetsFile != "" && strings.HasSuffix(c.OffsetsFile, string(filepath.Separator)) {
		bad(fieldOffsetsFile, "%q names a directory, not a file", c.OffsetsFile)
	}
	return errors.Join(errs...)
}
