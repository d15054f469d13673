package log

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options configure one partition log. The zero value of a field means "use
// the default"; call EnsureDefaults then Validate (Open does both). Names in
// the field docs are the Kafka topic configs that set them (see FromConfig).
type Options struct {
	// SegmentBytes (segment.bytes) rolls a new segment before the active
	// one would exceed this size. Default 1 GiB.
	SegmentBytes int64
	// SegmentMs (segment.ms) rolls when the first batch of the active
	// segment is older than this, by its timestamp. Default 7 days.
	SegmentMs time.Duration
	// IndexIntervalBytes (index.interval.bytes) is the number of log bytes
	// between two offset index entries. Default 4096.
	IndexIntervalBytes int
	// FlushMessages (flush.messages): fsync after this many records. The
	// default, 1, is durable: an append returns only after its batch has
	// been fsynced (appenders that wait at the same time share one fsync).
	// Readers then see only fsynced records: the high watermark is the
	// fsynced end. A larger value returns before the fsync, and readers
	// see records as soon as they are written.
	FlushMessages int64
	// FlushMs (flush.ms): with FlushMessages > 1, the longest time records
	// stay unflushed, enforced by Tick. 0 means no timed flush.
	FlushMs time.Duration
	// RetentionMs (retention.ms): delete segments whose newest record is
	// older than this. Negative means forever. Default 7 days.
	RetentionMs time.Duration
	// RetentionBytes (retention.bytes): delete the oldest segments while
	// the log is larger than this. Negative (the default) means no limit.
	RetentionBytes int64
	// Delete and Compact are cleanup.policy: "delete" (default),
	// "compact" or "compact,delete".
	Delete, Compact bool
	// DeleteRetentionMs (delete.retention.ms): how long compaction keeps
	// a tombstone, measured from the newest timestamp of its segment.
	// Default 1 day.
	DeleteRetentionMs time.Duration
	// MaxMessageBytes (max.message.bytes): largest batch accepted.
	// Default 1048588, Kafka's.
	MaxMessageBytes int
	// LogAppendTime (message.timestamp.type=LogAppendTime) stamps each
	// batch with the broker's clock on append. Default CreateTime.
	LogAppendTime bool

	// Logger receives recovery reports and background errors. Default: none.
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests inject their own.
	Now func() time.Time
}

// Defaults, Kafka's where Kafka has one.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * time.Hour
	DefaultIndexIntervalBytes = 4096
	DefaultFlushMessages      = 1
	DefaultRetentionMs        = 7 * 24 * time.Hour
	DefaultDeleteRetentionMs  = 24 * time.Hour
	DefaultMaxMessageBytes    = 1048588
)

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentMs == 0 {
		o.SegmentMs = DefaultSegmentMs
	}
	if o.IndexIntervalBytes == 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.FlushMessages == 0 {
		o.FlushMessages = DefaultFlushMessages
	}
	if o.RetentionMs == 0 {
		o.RetentionMs = DefaultRetentionMs
	}
	if o.RetentionBytes == 0 {
		o.RetentionBytes = -1
	}
	if !o.Delete && !o.Compact {
		o.Delete = true
	}
	if o.DeleteRetentionMs == 0 {
		o.DeleteRetentionMs = DefaultDeleteRetentionMs
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports every out-of-range field at once.
func (o *Options) Validate() error {
	var b strings.Builder
	bad := func(format string, args ...any) { fmt.Fprintf(&b, "\n  "+format, args...) }
	if o.SegmentBytes < 14 || o.SegmentBytes > math.MaxInt32 {
		bad("segment.bytes = %d: must be between 14 and %d", o.SegmentBytes, math.MaxInt32)
	}
	if o.SegmentMs < time.Millisecond {
		bad("segment.ms = %v: must be at least 1ms", o.SegmentMs)
	}
	if o.IndexIntervalBytes < 0 {
		bad("index.interval.bytes = %d: must not be negative", o.IndexIntervalBytes)
	}
	if o.FlushMessages < 1 {
		bad("flush.messages = %d: must be at least 1", o.FlushMessages)
	}
	if o.FlushMs < 0 {
		bad("flush.ms = %v: must not be negative", o.FlushMs)
	}
	if o.MaxMessageBytes < 0 {
		bad("max.message.bytes = %d: must not be negative", o.MaxMessageBytes)
	}
	if o.DeleteRetentionMs < 0 {
		bad("delete.retention.ms = %v: must not be negative", o.DeleteRetentionMs)
	}
	if b.Len() > 0 {
		return fmt.Errorf("broker/log: invalid options:%s", b.String())
	}
	return nil
}

// Durable reports whether every append is fsynced before it returns.
func (o *Options) Durable() bool { return o.FlushMessages <= 1 }

// ConfigKeys lists the Kafka topic configs that FromConfig understands, in
// the order DescribeConfigs shows them.
var ConfigKeys = []string{
	"cleanup.policy", "delete.retention.ms", "flush.messages", "flush.ms",
	"index.interval.bytes", "max.message.bytes", "message.timestamp.type",
	"retention.bytes", "retention.ms", "segment.bytes", "segment.ms",
}

// FromConfig builds Options from Kafka topic configs (the keys of
// ConfigKeys). Unknown keys and unparsable values are all reported in one
// error. Keys absent from cfg keep their defaults.
func FromConfig(cfg map[string]string) (Options, error) {
	var o Options
	var problems []string
	bad := func(k, v, why string) { problems = append(problems, fmt.Sprintf("%s=%q: %s", k, v, why)) }
	num := func(k, v string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			bad(k, v, "not an integer")
		}
		return n
	}
	ms := func(k, v string) time.Duration {
		n := num(k, v)
		if n < 0 {
			return -1
		}
		return time.Duration(n) * time.Millisecond
	}
	for k, v := range cfg {
		switch k {
		case "segment.bytes":
			o.SegmentBytes = num(k, v)
		case "segment.ms":
			o.SegmentMs = ms(k, v)
		case "index.interval.bytes":
			o.IndexIntervalBytes = int(num(k, v))
		case "flush.messages":
			o.FlushMessages = num(k, v)
		case "flush.ms":
			o.FlushMs = ms(k, v)
		case "retention.ms":
			if o.RetentionMs = ms(k, v); o.RetentionMs == 0 {
				o.RetentionMs = time.Nanosecond // 0 means "delete at once", not "default"
			}
		case "retention.bytes":
			o.RetentionBytes = num(k, v)
		case "delete.retention.ms":
			o.DeleteRetentionMs = ms(k, v)
		case "max.message.bytes":
			o.MaxMessageBytes = int(num(k, v))
		case "cleanup.policy":
			for _, p := range strings.Split(v, ",") {
				switch strings.TrimSpace(p) {
				case "delete":
					o.Delete = true
				case "compact":
					o.Compact = true
				default:
					bad(k, v, `want "delete", "compact" or "compact,delete"`)
				}
			}
		case "message.timestamp.type":
			switch v {
			case "CreateTime":
			case "LogAppendTime":
				o.LogAppendTime = true
			default:
				bad(k, v, `want "CreateTime" or "LogAppendTime"`)
			}
		default:
			problems = append(problems, fmt.Sprintf("unknown topic config %q", k))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return o, fmt.Errorf("broker/log: %s", strings.Join(problems, "; "))
	}
	o.EnsureDefaults()
	return o, o.Validate()
}

// Config renders o as Kafka topic configs, one value per key of
// ConfigKeys: the inverse of FromConfig. Negative durations and sizes are
// "-1", as Kafka writes "forever" and "no limit".
func (o Options) Config() map[string]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	ms := func(d time.Duration) string {
		if d < 0 {
			return "-1"
		}
		return n(d.Milliseconds())
	}
	policy := "delete"
	switch {
	case o.Compact && o.Delete:
		policy = "compact,delete"
	case o.Compact:
		policy = "compact"
	}
	tsType := "CreateTime"
	if o.LogAppendTime {
		tsType = "LogAppendTime"
	}
	return map[string]string{
		"cleanup.policy":         policy,
		"delete.retention.ms":    ms(o.DeleteRetentionMs),
		"flush.messages":         n(o.FlushMessages),
		"flush.ms":               ms(o.FlushMs),
		"index.interval.bytes":   strconv.Itoa(o.IndexIntervalBytes),
		"max.message.bytes":      strconv.Itoa(o.MaxMessageBytes),
		"message.timestamp.type": tsType,
		"retention.bytes":        n(o.RetentionBytes),
		"retention.ms":           ms(o.RetentionMs),
		"segment.bytes":          n(o.SegmentBytes),
		"segment.ms":             ms(o.SegmentMs),
	}
}
