package postgres

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	const url = "postgres://u:secret@db:5432/shop"
	// inc and ts fill the required fields left empty.
	inc := func(c Config) Config {
		if c.URL == "" {
			c.URL = url
		}
		if c.Mode == "" {
			c.Mode = ModeIncrementing
		}
		c.IncrementingColumn = "id"
		if c.Table == "" && c.Query == "" {
			c.Table = "orders"
		}
		return c
	}
	ts := func(c Config) Config {
		c.Mode = ModeTimestampIncrementing
		if c.TimestampColumn == "" {
			c.TimestampColumn = "updated_at"
		}
		return inc(c)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		errs []string // each must appear; none means valid
	}{
		{name: "incrementing", cfg: inc(Config{})},
		{name: "timestamp", cfg: ts(Config{})},
		{name: "full", cfg: ts(Config{Table: "shop.orders", Name: "orders-v2", KeyColumn: "customer", Start: "2026-11-21T09:00:00.5+01:00",
			SafeLag: new(time.Duration(0)), PollInterval: time.Minute, BatchSize: MaxBatchSize, OffsetsFile: "o.json"})},
		{name: "query", cfg: inc(Config{Query: "SELECT * FROM a JOIN b USING (id);\n", Name: "ab"})},
		{name: "key value url", cfg: Config{URL: "host=db dbname=shop", Table: "t", Mode: ModeIncrementing, IncrementingColumn: "id", Start: "-5"}},
		{name: "empty", cfg: Config{}, errs: []string{
			"postgres source: url: required",
			"postgres source: table: one of table and query is required",
			`postgres source: mode: required (want "incrementing" or "timestamp+incrementing")`,
			"postgres source: incrementing_column: required"}},
		{name: "bad url", cfg: inc(Config{URL: "postgres://u:secret@db:notaport/shop"}), errs: []string{"postgres source: url: cannot parse"}},
		{name: "table and query", cfg: inc(Config{Table: "t", Query: "SELECT 1", Name: "x"}), errs: []string{"postgres source: table: give table or query, not both"}},
		{name: "query without name", cfg: inc(Config{Query: "SELECT 1"}), errs: []string{"postgres source: name: required with query"}},
		{name: "only semicolons", cfg: inc(Config{Query: " ; ", Name: "x"}), errs: []string{"postgres source: table: one of table and query is required"}},
		{name: "table parts", cfg: inc(Config{Table: "a.b.c"}), errs: []string{`postgres source: table: "a.b.c" is not a table name or schema.table`}},
		{name: "table empty part", cfg: inc(Config{Table: "shop."}), errs: []string{`postgres source: table: "shop." is not`}},
		{name: "unknown mode", cfg: inc(Config{Mode: "timestamp"}), errs: []string{`postgres source: mode: unknown mode "timestamp" (want "incrementing" or "timestamp+incrementing")`}},
		{name: "timestamp column", cfg: Config{URL: url, Table: "t", Mode: ModeTimestampIncrementing, IncrementingColumn: "id"}, errs: []string{"postgres source: timestamp_column: required in timestamp+incrementing mode"}},
		{name: "start id", cfg: inc(Config{Start: "2026-01-01"}), errs: []string{`postgres source: start: "2026-01-01" is not an integer`}},
		{name: "start time", cfg: ts(Config{Start: "1000"}), errs: []string{`postgres source: start: "1000" is not an RFC 3339 time`}},
		{name: "lag in incrementing", cfg: inc(Config{SafeLag: new(time.Second)}), errs: []string{"postgres source: safe_lag: only applies in timestamp+incrementing mode"}},
		{name: "negative lag", cfg: ts(Config{SafeLag: new(-time.Second)}), errs: []string{"postgres source: safe_lag: -1s must not be negative"}},
		{name: "poll interval", cfg: inc(Config{PollInterval: -1}), errs: []string{"postgres source: poll_interval: -1ns must not be negative"}},
		{name: "batch size", cfg: inc(Config{BatchSize: -1}), errs: []string{"postgres source: batch_size: -1 must be between 1 and 1000000"}},
		{name: "batch size too large", cfg: inc(Config{BatchSize: MaxBatchSize + 1}), errs: []string{"postgres source: batch_size: 1000001 must be"}},
		{name: "offsets dir", cfg: inc(Config{OffsetsFile: "dir/"}), errs: []string{`postgres source: offsets_file: "dir/" names a directory`}},
		{name: "all at once", cfg: Config{URL: url, Table: "t", Mode: "x", BatchSize: -1}, errs: []string{"mode:", "incrementing_column:", "batch_size:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.errs) == 0 {
				requireNoError(t, err)
				return
			}
			requireErrorContains(t, err, tc.errs...)
			if n := strings.Count(err.Error(), "postgres source:"); n != len(tc.errs) {
				t.Fatalf("%d errors, want %d: %v", n, len(tc.errs), err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if _, nerr := New(tc.cfg); nerr == nil || nerr.Error() != err.Error() {
				t.Fatalf("New: %v, want the Validate error", nerr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, err := New(Config{URL: "postgres://db/shop?timezone=Europe/Paris&DateStyle=German", Table: "orders",
		Mode: ModeTimestampIncrementing, IncrementingColumn: "id", TimestampColumn: "ts"})
	requireNoError(t, err)
	c := s.cfg
	if c.Name != "orders" || c.KeyColumn != "id" || *c.SafeLag != DefaultSafeLag || c.PollInterval != DefaultPollInterval ||
		c.BatchSize != DefaultBatchSize || c.Logger == nil {
		t.Fatalf("config with defaults %+v", c)
	}
	if in := s.Input(); in.Stream != "postgres:orders" || in.Partition != 0 {
		t.Fatalf("input %+v", in)
	}
	if got := len(s.connCfg.RuntimeParams); got != 3 || s.connCfg.RuntimeParams["timezone"] != "UTC" ||
		s.connCfg.RuntimeParams["datestyle"] != "ISO, YMD" {
		t.Fatalf("session parameters %v, want ours only", s.connCfg.RuntimeParams)
	}
	s, err = New(Config{URL: "postgres://db/shop", Query: "SELECT 1 AS id; ", Name: "q", Mode: ModeIncrementing, IncrementingColumn: "id"})
	requireNoError(t, err)
	if s.cfg.SafeLag != nil || s.cfg.Query != "SELECT 1 AS id" {
		t.Fatalf("incrementing mode: safe lag %v, query %q", s.cfg.SafeLag, s.cfg.Query)
	}
}

func TestStartPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode, start string
		pos         int64
		ok          bool
	}{
		{ModeIncrementing, "", 0, false},
		{ModeIncrementing, "1000", 999, true},
		{ModeIncrementing, "-9223372036854775808", 0, false},
		{ModeTimestampIncrementing, "1970-01-01T00:00:01Z", 999_999, true},
		{ModeTimestampIncrementing, "1970-01-01T01:00:01.000001+01:00", 1_000_000, true},
		{ModeTimestampIncrementing, "1970-01-01T00:00:00.0000015Z", 1, true}, // from the next whole microsecond
	} {
		c := Config{Mode: tc.mode, Start: tc.start}
		if pos, ok := c.startPosition(); pos != tc.pos || ok != tc.ok {
			t.Errorf("%s %q: position %d %v, want %d %v", tc.mode, tc.start, pos, ok, tc.pos, tc.ok)
		}
	}
}
