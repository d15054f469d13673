package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/runnel-io/runnel/broker/group"
	"github.com/runnel-io/runnel/broker/store"
	"github.com/runnel-io/runnel/broker/txn"
)

// Opt configures a Broker. See the functions returning Opt for each
// option, its default, and how it interacts with others.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	listen          string
	advertised      string
	dataDir         string
	maxRequestBytes int32
	logger          *slog.Logger
	shutdownTimeout time.Duration
	storeOpts       *store.Options
	txnCfg          txn.Config

	groupMinSession   time.Duration
	groupMaxSession   time.Duration
	groupInitialDelay time.Duration
	offsetsPartitions int
}

func defaultCfg() cfg {
	return cfg{
		listen:          "127.0.0.1:9092",
		maxRequestBytes: 100 << 20,
		logger:          slog.New(slog.DiscardHandler),
		shutdownTimeout: 10 * time.Second,

		groupMinSession:   group.DefaultMinSessionTimeout,
		groupMaxSession:   group.DefaultMaxSessionTimeout,
		groupInitialDelay: group.DefaultInitialRebalanceDelay,
		offsetsPartitions: group.DefaultPartitions,
	}
}

// ListenAddr sets the address to listen on. Default 127.0.0.1:9092; use
// "127.0.0.1:0" for a free port (tests, embedding), then Broker.Addr.
func ListenAddr(addr string) Opt { return opt(func(c *cfg) { c.listen = addr }) }

// AdvertisedAddr sets the host:port that Metadata tells clients to connect
// to. Default: the address actually listened on.
func AdvertisedAddr(addr string) Opt { return opt(func(c *cfg) { c.advertised = addr }) }

// DataDir sets the directory holding the topics. Required.
func DataDir(dir string) Opt { return opt(func(c *cfg) { c.dataDir = dir }) }

// MaxRequestBytes (socket.request.max.bytes) bounds one request; larger
// ones close the connection. Default 100 MiB, Kafka's.
func MaxRequestBytes(n int32) Opt { return opt(func(c *cfg) { c.maxRequestBytes = n }) }

// Logger sets the logger. Default: discard.
func Logger(l *slog.Logger) Opt { return opt(func(c *cfg) { c.logger = l }) }

// ShutdownTimeout bounds how long Close waits for in-flight requests
// before closing connections under them. Default 10s.
func ShutdownTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.shutdownTimeout = d }) }

// StoreOptions sets the options of the data directory: topic defaults
// (num.partitions, retention, ...), auto-creation, the janitor period.
// Default store.DefaultOptions(); a nil Logger inherits the broker's.
func StoreOptions(o *store.Options) Opt { return opt(func(c *cfg) { c.storeOpts = o }) }

// Transactions sets the transaction coordinator's configuration:
// transaction.max.timeout.ms, the timed-out transaction check interval,
// transaction.state.log.num.partitions. Dir and Logger are the broker's.
// Defaults are txn.Config's.
func Transactions(c txn.Config) Opt { return opt(func(cfg *cfg) { cfg.txnCfg = c }) }

// GroupMinSessionTimeout (group.min.session.timeout.ms) is the shortest
// session timeout a consumer group member may ask for; JoinGroup answers
// INVALID_SESSION_TIMEOUT below it. Default 6s, Kafka's.
func GroupMinSessionTimeout(d time.Duration) Opt {
	return opt(func(c *cfg) { c.groupMinSession = d })
}

// GroupMaxSessionTimeout (group.max.session.timeout.ms) is the longest.
// Default 30 minutes, Kafka's. It must not be below GroupMinSessionTimeout.
func GroupMaxSessionTimeout(d time.Duration) Opt {
	return opt(func(c *cfg) { c.groupMaxSession = d })
}

// GroupInitialRebalanceDelay (group.initial.rebalance.delay.ms) is how long
// the first rebalance of an empty consumer group waits for more members
// (and again for each new one, up to the rebalance timeout). Default 3s,
// Kafka's; 0 completes it as soon as every member has joined (tests).
func GroupInitialRebalanceDelay(d time.Duration) Opt {
	return opt(func(c *cfg) { c.groupInitialDelay = d })
}

// OffsetsTopicPartitions (offsets.topic.num.partitions) is the partition
// count __consumer_offsets is created with, 1 to 50. Default 1 (Kafka: 50);
// see package broker/group for why. Once the topic exists its partition
// count wins, as in Kafka.
func OffsetsTopicPartitions(n int) Opt { return opt(func(c *cfg) { c.offsetsPartitions = n }) }

// validate reports every problem at once.
func (c *cfg) validate() error {
	var problems []string
	if c.dataDir == "" {
		problems = append(problems, "DataDir is required")
	}
	if _, _, err := net.SplitHostPort(c.listen); err != nil {
		problems = append(problems, fmt.Sprintf("ListenAddr %q: %v", c.listen, err))
	}
	if c.advertised != "" {
		if _, _, err := net.SplitHostPort(c.advertised); err != nil {
			problems = append(problems, fmt.Sprintf("AdvertisedAddr %q: %v", c.advertised, err))
		}
	}
	if c.maxRequestBytes < 1024 {
		problems = append(problems, fmt.Sprintf("MaxRequestBytes %d: must be at least 1024", c.maxRequestBytes))
	}
	if c.groupMinSession < time.Millisecond {
		problems = append(problems, fmt.Sprintf("GroupMinSessionTimeout %v: must be at least 1ms", c.groupMinSession))
	}
	if c.groupMaxSession < c.groupMinSession {
		problems = append(problems, fmt.Sprintf("GroupMaxSessionTimeout %v: must not be below GroupMinSessionTimeout %v", c.groupMaxSession, c.groupMinSession))
	}
	if c.groupInitialDelay < 0 {
		problems = append(problems, fmt.Sprintf("GroupInitialRebalanceDelay %v: must not be negative", c.groupInitialDelay))
	}
	if c.offsetsPartitions < 1 || c.offsetsPartitions > group.MaxPartitions {
		problems = append(problems, fmt.Sprintf("OffsetsTopicPartitions %d: must be between 1 and %d", c.offsetsPartitions, group.MaxPartitions))
	}
	if len(problems) > 0 {
		return fmt.Errorf("broker: invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}
