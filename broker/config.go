package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

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
}

func defaultCfg() cfg {
	return cfg{
		listen:          "127.0.0.1:9092",
		maxRequestBytes: 100 << 20,
		logger:          slog.New(slog.DiscardHandler),
		shutdownTimeout: 10 * time.Second,
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
	if len(problems) > 0 {
		return fmt.Errorf("broker: invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}
