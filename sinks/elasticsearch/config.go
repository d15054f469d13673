package elasticsearch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/runnel-io/runnel/connect"
)

// Config field names, as in YAML; Validate's errors name fields by them.
const (
	fieldAddresses         = "addresses"
	fieldUsername          = "username"
	fieldPassword          = "password"
	fieldAPIKey            = "api_key"
	fieldIndex             = "index"
	fieldID                = "id"
	fieldDeleteOnTombstone = "delete_on_tombstone"
	fieldFlushBytes        = "flush_bytes"
	fieldFlushInterval     = "flush_interval"
	fieldWorkers           = "workers"
	fieldMaxRetries        = "max_retries"
	fieldRetryBackoff      = "retry_backoff"
	fieldMaxRetryBackoff   = "max_retry_backoff"
	fieldOffsetsIndex      = "offsets_index"
	fieldConsumer          = "consumer"
)

// Document ids of Config.ID.
const (
	// IDKey makes the record's key the document's _id: the index holds
	// the latest value of each key (an upsert per record, a delete per
	// tombstone).
	IDKey = "key"
	// IDPosition makes "<topic>-<partition>-<offset>" of the record's
	// source position the document's _id: every record is a document of
	// its own (an append-only log).
	IDPosition = "position"
)

// TopicPlaceholder in Config.Index is replaced by the record's source
// topic, lower-cased.
const TopicPlaceholder = "{topic}"

// Defaults of Config.
const (
	DefaultIndex           = TopicPlaceholder
	DefaultID              = IDKey
	DefaultFlushBytes      = 5 << 20
	DefaultFlushInterval   = time.Second
	DefaultWorkers         = 2
	DefaultMaxRetries      = 5
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxRetryBackoff = 10 * time.Second
	DefaultOffsetsIndex    = "runnel-offsets"
)

// Limits of Elasticsearch names.
const (
	maxIndexLen    = 255
	maxIDLen       = 512
	maxConsumerLen = 200 // leaves room in the offsets documents' _id
)

// Config configures a Sink. The zero value of every field but Addresses
// and Consumer means its default.
type Config struct {
	// Addresses are the URLs of Elasticsearch nodes
	// ("https://es1:9200"). Required.
	Addresses []string `yaml:"addresses" spec:"required"`
	// Username and Password authenticate with HTTP basic authentication.
	Username string `yaml:"username"`
	// Password goes with Username; write "${ES_PASSWORD}" in YAML rather
	// than the password itself.
	Password string `yaml:"password"`
	// APIKey authenticates with an API key (the base64 "id:key" encoding
	// Elasticsearch returns as "encoded"), instead of Username and
	// Password.
	APIKey string `yaml:"api_key"`
	// Index names the index of every document: a fixed name, or one
	// holding "{topic}", which is replaced by the record's source topic,
	// lower-cased ("events-{topic}"). Default "{topic}". IndexFunc, when
	// set, takes precedence.
	Index string `yaml:"index"`
	// IndexFunc returns the index of a record: what the pipeline compiles
	// an index expression into. A record it returns an error for, or an
	// invalid index name, is rejected with that reason. It is called from
	// Write, one record at a time.
	IndexFunc func(*connect.Record) (string, error) `yaml:"-"`
	// ID is where a document's _id comes from: IDKey (default), the
	// record's key, or IDPosition, "<topic>-<partition>-<offset>". See the
	// package doc for what each means for exactly-once delivery.
	ID string `yaml:"id"`
	// DeleteOnTombstone makes a record without a value delete the
	// document of its key. Default true with IDKey; it cannot be set with
	// IDPosition. When false, such records are rejected.
	DeleteOnTombstone *bool `yaml:"delete_on_tombstone"`
	// FlushBytes is the size at which a bulk request is sent. Default
	// 5 MiB; keep it well under the cluster's http.max_content_length
	// (100 MiB).
	FlushBytes int `yaml:"flush_bytes"`
	// FlushInterval is the longest a record waits in a buffer before its
	// bulk request is sent; a checkpoint sends every buffer at once.
	// Default 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Workers is the number of bulk requests in flight at once. Default 2.
	Workers int `yaml:"workers"`
	// MaxRetries bounds the retries of a bulk request answered 429, 502,
	// 503 or 504 or failing in transport, and those of a document the
	// cluster refused with 429 or 5xx (a full write queue). Default 5.
	MaxRetries int `yaml:"max_retries"`
	// RetryBackoff is the wait before the first retry; it doubles at each
	// retry, up to MaxRetryBackoff, and is jittered. Default 100ms.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// MaxRetryBackoff caps the wait between retries. Default 10s.
	MaxRetryBackoff time.Duration `yaml:"max_retry_backoff"`
	// OffsetsIndex is the index of the offsets documents. Default
	// "runnel-offsets".
	OffsetsIndex string `yaml:"offsets_index"`
	// Consumer is the identity under which positions are stored in
	// OffsetsIndex: the pipeline's consumer group. Two pipelines writing
	// to the same cluster must have different ones. Set by the runtime;
	// required.
	Consumer string `yaml:"-"`
	// Transport, when set, carries the HTTP requests instead of a clone
	// of http.DefaultTransport (TLS settings, tests).
	Transport http.RoundTripper `yaml:"-"`
}

func (c Config) withDefaults() Config {
	if c.Index == "" {
		c.Index = DefaultIndex
	}
	if c.ID == "" {
		c.ID = DefaultID
	}
	if c.DeleteOnTombstone == nil {
		del := c.ID == IDKey
		c.DeleteOnTombstone = &del
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = DefaultFlushBytes
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.MaxRetryBackoff == 0 {
		c.MaxRetryBackoff = max(DefaultMaxRetryBackoff, c.RetryBackoff)
	}
	if c.OffsetsIndex == "" {
		c.OffsetsIndex = DefaultOffsetsIndex
	}
	return c
}

// Validate reports every invalid field of c at once, each error naming its
// field ("elasticsearch sink: index: required"). It needs no server.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("elasticsearch sink: %s: "+format, append([]any{field}, args...)...))
	}
	if len(c.Addresses) == 0 {
		bad(fieldAddresses, "required")
	}
	for _, a := range c.Addresses {
		u, err := url.Parse(a)
		switch {
		case err != nil:
			bad(fieldAddresses, "%q: %v", a, err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad(fieldAddresses, "%q: want an http:// or https:// URL", a)
		case u.Host == "":
			bad(fieldAddresses, "%q: no host", a)
		}
	}
	if c.Password != "" && c.Username == "" {
		bad(fieldPassword, "set without %s", fieldUsername)
	}
	if c.APIKey != "" && c.Username != "" {
		bad(fieldAPIKey, "set with %s: choose one", fieldUsername)
	}
	if c.IndexFunc == nil && c.Index != "" {
		// Check the name with a topic in place of the placeholder:
		// topics are checked again, lower-cased, at Write.
		if err := checkIndex(strings.ReplaceAll(c.Index, TopicPlaceholder, "t")); err != nil {
			bad(fieldIndex, "%q: %v", c.Index, err)
		}
	}
	switch c.ID {
	case "", IDKey:
	case IDPosition:
		if c.DeleteOnTombstone != nil && *c.DeleteOnTombstone {
			bad(fieldDeleteOnTombstone, "cannot be true with %s %q: no document has a key's id", fieldID, IDPosition)
		}
	default:
		bad(fieldID, "unknown id %q (want %q or %q)", c.ID, IDKey, IDPosition)
	}
	if c.FlushBytes < 0 {
		bad(fieldFlushBytes, "%d must not be negative", c.FlushBytes)
	}
	if c.FlushInterval < 0 {
		bad(fieldFlushInterval, "%v must not be negative", c.FlushInterval)
	}
	if c.Workers < 0 {
		bad(fieldWorkers, "%d must not be negative", c.Workers)
	}
	if c.MaxRetries < 0 {
		bad(fieldMaxRetries, "%d must not be negative", c.MaxRetries)
	}
	if c.RetryBackoff < 0 {
		bad(fieldRetryBackoff, "%v must not be negative", c.RetryBackoff)
	}
	switch {
	case c.MaxRetryBackoff < 0:
		bad(fieldMaxRetryBackoff, "%v must not be negative", c.MaxRetryBackoff)
	case c.MaxRetryBackoff > 0 && c.MaxRetryBackoff < c.RetryBackoff:
		bad(fieldMaxRetryBackoff, "%v is less than %s %v", c.MaxRetryBackoff, fieldRetryBackoff, c.RetryBackoff)
	}
	if c.OffsetsIndex != "" {
		if err := checkIndex(c.OffsetsIndex); err != nil {
			bad(fieldOffsetsIndex, "%q: %v", c.OffsetsIndex, err)
		}
	}
	switch {
	case c.Consumer == "":
		bad(fieldConsumer, "required (the runtime sets it)")
	case len(c.Consumer) > maxConsumerLen || !printable(c.Consumer) || strings.Contains(c.Consumer, "/"):
		bad(fieldConsumer, "%q: want at most %d bytes of printable UTF-8 without '/'", c.Consumer, maxConsumerLen)
	}
	return errors.Join(errs...)
}

// checkIndex reports why name cannot be an Elasticsearch index name.
func checkIndex(name string) error {
	switch {
	case name == "":
		return errors.New("empty index name")
	case len(name) > maxIndexLen:
		return fmt.Errorf("index name longer than %d bytes", maxIndexLen)
	case name == "." || name == "..":
		return errors.New(`index name cannot be "." or ".."`)
	case strings.ContainsAny(name[:1], "-_+"):
		return errors.New("index name cannot start with -, _ or +")
	case strings.ToLower(name) != name:
		return errors.New("index name must be lower case")
	case !printable(name):
		return errors.New("index name must be printable UTF-8")
	}
	if i := strings.IndexAny(name, `\/*?"<>| ,#:`); i >= 0 {
		return fmt.Errorf("index name cannot contain %q", name[i])
	}
	return nil
}
