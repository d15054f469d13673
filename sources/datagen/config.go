package datagen

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// Config field names, as in YAML; Validate's errors name fields by them.
const (
	fieldPreset      = "preset"
	fieldCount       = "count"
	fieldRate        = "rate"
	fieldStart       = "start"
	fieldInterval    = "interval"
	fieldKeys        = "keys"
	fieldMaxBatch    = "max_batch"
	fieldOffsetsFile = "offsets_file"
)

// Presets of Config.Preset: the kinds of records generated (see the
// package doc for their shapes).
const (
	PresetPageviews = "pageviews"
	PresetOrders    = "orders"
	PresetClicks    = "clicks"
)

// Presets returns the valid values of Config.Preset, in a fixed order.
func Presets() []string { return []string{PresetPageviews, PresetOrders, PresetClicks} }

// Defaults of Config.
const (
	DefaultSeed     = 1
	DefaultInterval = 100 * time.Millisecond
	DefaultKeys     = 200
	DefaultMaxBatch = 500
)

// LegacyStart is the event time of record 0 of a position stored without
// a start (by runnel before the start defaulted to the first run's time):
// such a position goes on with the records it was generated with.
const LegacyStart = "2026-11-21T09:00:00Z"

// MaxKeys is the largest Config.Keys. The clicks preset keeps a frame of
// sessions in memory, about 60 bytes per key.
const MaxKeys = 1_000_000

// Config configures a Source. The zero value of every field but Preset
// means its default.
type Config struct {
	// Preset is the kind of records generated: PresetPageviews,
	// PresetOrders or PresetClicks. Required.
	Preset string `yaml:"preset" spec:"required"`
	// Count is how many records this run generates, from the position it
	// resumes at; Poll then returns connect.ErrEndOfInput. Default 0:
	// unbounded.
	Count int64 `yaml:"count"`
	// Rate is how many records per second of wall-clock time Poll
	// returns. Default 0: as fast as they are asked for, MaxBatch at a
	// time.
	Rate float64 `yaml:"rate"`
	// Seed selects the data: two sources with the same Seed, Preset,
	// Start, Interval and Keys generate the same records. Default (0) 1.
	Seed int64 `yaml:"seed"`
	// Start is the event time of record 0, in RFC 3339. Default: the time
	// of the first run, to the second, which the positions keep (the
	// input's name carries it, see Input): the records are recent, so a
	// topic's retention.ms does not delete them as old, and a resumed
	// source goes on with the same times.
	Start string `yaml:"start"`
	// Interval is the event time between consecutive records of the
	// pageviews and orders presets (clicks times come from the sessions
	// of its users). Default 100ms.
	Interval time.Duration `yaml:"interval"`
	// Keys is the number of distinct users or customers. Default 200,
	// at most MaxKeys.
	Keys int `yaml:"keys"`
	// MaxBatch is the most records one Poll returns. Default 500.
	MaxBatch int `yaml:"max_batch"`
	// OffsetsFile, when set, is where Commit stores the position, and
	// where the source resumes from when the Assignments give no
	// position. Default: none.
	OffsetsFile string `yaml:"offsets_file"`
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Keys == 0 {
		c.Keys = DefaultKeys
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c
}

// Validate reports every invalid field of c at once, each error naming its
// field (`datagen source: preset: unknown preset "x" (want "pageviews",
// "orders" or "clicks")`). Zero fields are valid, but for Preset: they
// mean their default.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("datagen source: %s: "+format, append([]any{field}, args...)...))
	}
	want := fmt.Sprintf("want %q, %q or %q", PresetPageviews, PresetOrders, PresetClicks)
	switch c.Preset {
	case PresetPageviews, PresetOrders, PresetClicks:
	case "":
		bad(fieldPreset, "required (%s)", want)
	default:
		bad(fieldPreset, "unknown preset %q (%s)", c.Preset, want)
	}
	if c.Count < 0 {
		bad(fieldCount, "%d must not be negative (0 means unbounded)", c.Count)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		bad(fieldRate, "%v must be a finite number of records per second, not negative (0 means unpaced)", c.Rate)
	}
	if c.Start != "" {
		if _, err := time.Parse(time.RFC3339, c.Start); err != nil {
			bad(fieldStart, "%q is not an RFC 3339 time such as %q", c.Start, LegacyStart)
		}
	}
	if c.Interval < 0 {
		bad(fieldInterval, "%v must not be negative", c.Interval)
	}
	if c.Keys < 0 || c.Keys > MaxKeys {
		bad(fieldKeys, "%d must be between 1 and %d", c.Keys, MaxKeys)
	}
	if c.MaxBatch < 0 {
		bad(fieldMaxBatch, "%d must not be negative", c.MaxBatch)
	}
	if c.OffsetsFile != "" && strings.HasSuffix(c.OffsetsFile, string(filepath.Separator)) {
		bad(fieldOffsetsFile, "%q names a directory, not a file", c.OffsetsFile)
	}
	return errors.Join(errs...)
}
