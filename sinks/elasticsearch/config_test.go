package elasticsearch

import (
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	base := func() Config { return Config{Addresses: []string{"http://localhost:9200"}, Consumer: "orders"} }
	with := func(edit func(c *Config)) Config {
		c := base()
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		errs []string // each a line of the error; none: valid
	}{
		{name: "minimal", cfg: base()},
		{name: "all set", cfg: with(func(c *Config) {
			c.Addresses = []string{"https://es1:9200", "https://es2:9200/prefix"}
			c.Username, c.Password = "elastic", "secret"
			c.Index = "events-{topic}-v1"
			c.ID = IDKey
			c.DeleteOnTombstone = &no
			c.FlushBytes, c.FlushInterval, c.Workers = 1<<20, time.Second, 4
			c.MaxRetries, c.RetryBackoff, c.MaxRetryBackoff = 3, time.Millisecond, time.Second
			c.OffsetsIndex = "my-offsets"
		})},
		{name: "api key", cfg: with(func(c *Config) { c.APIKey = "a2V5" })},
		{name: "position", cfg: with(func(c *Config) { c.ID = IDPosition })},
		{name: "position without delete", cfg: with(func(c *Config) { c.ID, c.DeleteOnTombstone = IDPosition, &no })},
		{name: "index func ignores index", cfg: with(func(c *Config) {
			c.Index = "NOT VALID"
			c.IndexFunc = func(*connect.Record) (string, error) { return "x", nil }
		})},
		{name: "empty", cfg: Config{}, errs: []string{
			"elasticsearch sink: addresses: required",
			"elasticsearch sink: consumer: required (the runtime sets it)",
		}},
		{name: "addresses", cfg: with(func(c *Config) { c.Addresses = []string{"localhost:9200", "http://", "http://a b"} }), errs: []string{
			`elasticsearch sink: addresses: "localhost:9200": want an http:// or https:// URL`,
			`elasticsearch sink: addresses: "http://": no host`,
			`elasticsearch sink: addresses: "http://a b": parse "http://a b": invalid character " " in host name`,
		}},
		{name: "credentials", cfg: with(func(c *Config) { c.Password = "pw"; c.APIKey = "k" }), errs: []string{
			"elasticsearch sink: password: set without username",
		}},
		{name: "api key and username", cfg: with(func(c *Config) { c.Username = "u"; c.APIKey = "k" }), errs: []string{
			"elasticsearch sink: api_key: set with username: choose one",
		}},
		{name: "index upper case", cfg: with(func(c *Config) { c.Index = "Events" }), errs: []string{
			`elasticsearch sink: index: "Events": index name must be lower case`,
		}},
		{name: "index start", cfg: with(func(c *Config) { c.Index = "_{topic}" }), errs: []string{
			`elasticsearch sink: index: "_{topic}": index name cannot start with -, _ or +`,
		}},
		{name: "index char", cfg: with(func(c *Config) { c.Index = "a b" }), errs: []string{
			`elasticsearch sink: index: "a b": index name cannot contain ' '`,
		}},
		{name: "index long", cfg: with(func(c *Config) { c.Index = strings.Repeat("a", 256) }), errs: []string{
			"index name longer than 255 bytes",
		}},
		{name: "id", cfg: with(func(c *Config) { c.ID = "uuid" }), errs: []string{
			`elasticsearch sink: id: unknown id "uuid" (want "key" or "position")`,
		}},
		{name: "position with delete", cfg: with(func(c *Config) { c.ID, c.DeleteOnTombstone = IDPosition, &yes }), errs: []string{
			`elasticsearch sink: delete_on_tombstone: cannot be true with id "position": no document has a key's id`,
		}},
		{name: "negatives", cfg: with(func(c *Config) {
			c.FlushBytes, c.FlushInterval, c.Workers, c.MaxRetries = -1, -time.Second, -2, -3
			c.RetryBackoff, c.MaxRetryBackoff = -time.Millisecond, -time.Second
		}), errs: []string{
			"elasticsearch sink: flush_bytes: -1 must not be negative",
			"elasticsearch sink: flush_interval: -1s must not be negative",
			"elasticsearch sink: workers: -2 must not be negative",
			"elasticsearch sink: max_retries: -3 must not be negative",
			"elasticsearch sink: retry_backoff: -1ms must not be negative",
			"elasticsearch sink: max_retry_backoff: -1s must not be negative",
		}},
		{name: "backoff cap", cfg: with(func(c *Config) { c.RetryBackoff, c.MaxRetryBackoff = time.Second, time.Millisecond }), errs: []string{
			"elasticsearch sink: max_retry_backoff: 1ms is less than retry_backoff 1s",
		}},
		{name: "offsets index", cfg: with(func(c *Config) { c.OffsetsIndex = "Offsets" }), errs: []string{
			`elasticsearch sink: offsets_index: "Offsets": index name must be lower case`,
		}},
		{name: "consumer", cfg: with(func(c *Config) { c.Consumer = "a/b" }), errs: []string{
			`elasticsearch sink: consumer: "a/b": want at most 200 bytes of printable UTF-8 without '/'`,
		}},
		{name: "consumer control", cfg: with(func(c *Config) { c.Consumer = "a\x01" }), errs: []string{
			`elasticsearch sink: consumer: "a\x01"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.errs) == 0 {
				requireNoError(t, err)
				_, err := New(tt.cfg)
				requireNoError(t, err)
				return
			}
			if err == nil {
				t.Fatalf("valid, want errors %q", tt.errs)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.errs) {
				t.Fatalf("errors:\n%v\nwant %d errors: %q", err, len(tt.errs), tt.errs)
			}
			for i, want := range tt.errs {
				if !strings.Contains(lines[i], want) {
					t.Errorf("error %d is %q, want it to contain %q", i, lines[i], want)
				}
			}
			if _, nerr := New(tt.cfg); nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("New returned %v, want the Validate error", nerr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Addresses: []string{"http://localhost:9200"}, Consumer: "c"}.withDefaults()
	if c.Index != "{topic}" || c.ID != IDKey || !*c.DeleteOnTombstone || c.FlushBytes != 5<<20 ||
		c.FlushInterval != time.Second || c.Workers != 2 || c.MaxRetries != 5 ||
		c.RetryBackoff != 100*time.Millisecond || c.MaxRetryBackoff != 10*time.Second || c.OffsetsIndex != "runnel-offsets" {
		t.Fatalf("defaults: %+v", c)
	}
	if p := (Config{ID: IDPosition}).withDefaults(); *p.DeleteOnTombstone {
		t.Fatal("delete_on_tombstone defaults to true with id position")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	s := &Sink{cfg: Config{RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: time.Second}}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 100 {
			if d := s.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}
