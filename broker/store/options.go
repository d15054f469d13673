package store

import (
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"
)

// Options configure a Store. Unlike log.Options, a zero field is taken at
// its word (no auto-creation, no janitor): start from DefaultOptions, which
// is also what Open uses for a nil *Options, and change what you need.
type Options struct {
	// DefaultTopicConfig holds the broker-wide topic defaults: the key
	// "num.partitions" (partitions of an auto-created topic, default 1)
	// and any topic config of log.ConfigKeys, which then applies to every
	// topic that does not set it itself. Keys absent here keep the log
	// package's defaults. Like Kafka's server.properties, it is not
	// persisted: reopening with other defaults changes every topic that
	// relies on them.
	DefaultTopicConfig map[string]string
	// AutoCreateTopics (auto.create.topics.enable) lets EnsureTopic create
	// a topic that does not exist, with num.partitions partitions.
	// DefaultOptions turns it on, as Kafka does.
	AutoCreateTopics bool
	// NodeID (node.id) is written to meta.properties when the data
	// directory is created and must match it afterwards. Default 0.
	NodeID int32
	// BackgroundInterval is the period of the janitor goroutine that runs
	// RunMaintenance (flush.ms, retention, compaction). It is also the
	// resolution of flush.ms. DefaultOptions sets DefaultBackgroundInterval;
	// 0 starts no goroutine, and the owner (a test) calls RunMaintenance.
	BackgroundInterval time.Duration
	// RetentionCheckInterval (log.retention.check.interval.ms) is how
	// often the janitor applies retention.ms and retention.bytes, the
	// first time one interval after Open: at most as often as
	// BackgroundInterval (which also runs flush.ms and compaction).
	// DefaultOptions sets DefaultRetentionCheckInterval, Kafka's 5
	// minutes; 0 applies retention at every janitor pass. RunMaintenance,
	// called by the owner, always applies it.
	RetentionCheckInterval time.Duration
	// Logger receives what the store and its logs report (recovery,
	// retention, background errors). Default: discard.
	Logger *slog.Logger
	// Now is the clock of the store and its logs. Default time.Now.
	Now func() time.Time
}

const (
	// DefaultBackgroundInterval is the janitor period of DefaultOptions.
	DefaultBackgroundInterval = 5 * time.Second
	// DefaultRetentionCheckInterval is how often the janitor of
	// DefaultOptions applies retention: Kafka's default
	// log.retention.check.interval.ms.
	DefaultRetentionCheckInterval = 5 * time.Minute
	// MaxPartitions bounds the partitions of one topic. Each open
	// partition holds at least three file descriptors.
	MaxPartitions = 10000
	// ConfigNumPartitions is the DefaultTopicConfig key for the partition
	// count of auto-created topics.
	ConfigNumPartitions = "num.partitions"
)

// DefaultOptions returns the options Open uses for a nil *Options:
// auto-creation on, one partition per auto-created topic, the janitor every
// DefaultBackgroundInterval applying retention every
// DefaultRetentionCheckInterval, no logging, the wall clock.
func DefaultOptions() *Options {
	return &Options{AutoCreateTopics: true, BackgroundInterval: DefaultBackgroundInterval,
		RetentionCheckInterval: DefaultRetentionCheckInterval}
}

// resolved is Options after validation: the defaults split into the
// partition count and the log configs.
type resolved struct {
	Options
	numPartitions int
	logDefaults   map[string]string // keys of log.ConfigKeys only
}

// resolve fills the defaults of nil fields and validates o, reporting every
// problem at once.
func resolve(opts *Options) (resolved, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	r := resolved{Options: *opts, numPartitions: 1}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	var problems []string
	r.logDefaults = maps.Clone(r.DefaultTopicConfig)
	if r.logDefaults == nil {
		r.logDefaults = map[string]string{}
	}
	if v, ok := r.logDefaults[ConfigNumPartitions]; ok {
		delete(r.logDefaults, ConfigNumPartitions)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > MaxPartitions {
			problems = append(problems, fmt.Sprintf("DefaultTopicConfig: %s=%q: want an integer from 1 to %d", ConfigNumPartitions, v, MaxPartitions))
		}
		r.numPartitions = n
	}
	for _, p := range configProblems(r.logDefaults) {
		problems = append(problems, "DefaultTopicConfig: "+p)
	}
	if r.BackgroundInterval < 0 {
		problems = append(problems, fmt.Sprintf("BackgroundInterval = %v: must not be negative", r.BackgroundInterval))
	}
	if r.RetentionCheckInterval < 0 {
		problems = append(problems, fmt.Sprintf("RetentionCheckInterval = %v: must not be negative", r.RetentionCheckInterval))
	}
	if r.NodeID < 0 {
		problems = append(problems, fmt.Sprintf("NodeID = %d: must not be negative", r.NodeID))
	}
	if len(problems) > 0 {
		return r, fmt.Errorf("%w in Options: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return r, nil
}
