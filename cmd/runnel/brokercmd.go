package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/store"
)

// brokerConfig is what "runnel broker" runs with; tests fill it directly.
type brokerConfig struct {
	DataDir    string
	Listen     string
	Advertised string // empty: the listen address
	Partitions int    // num.partitions; 0 keeps the store's default (1)
	LogLevel   string
}

func newBrokerCmd() *cobra.Command {
	cfg := brokerConfig{DataDir: "./data", Listen: "127.0.0.1:9092", LogLevel: "info"}
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the Kafka-compatible broker on a data directory",
		Long: `broker serves the topics of a data directory over the Kafka protocol
until it gets SIGINT (Ctrl-C) or SIGTERM. Kafka clients connect to the
address it prints: franz-go, librdkafka (kcat), kafka-python, and runnel's
own topic, produce and consume commands.

On SIGINT or SIGTERM it stops accepting connections, lets the requests in
flight finish, then flushes and checkpoints every partition log, so that
the next start reads no log data. A second signal kills it at once.

Logs go to stderr as text (log/slog), at --log-level and above.`,
		Example: "  runnel broker\n" +
			"  runnel broker --data-dir /var/lib/runnel --listen 0.0.0.0:9092 --advertised-addr kafka.example.com:9092\n" +
			"  runnel broker --listen 127.0.0.1:0 --partitions 3 --log-level debug",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("partitions") {
				cfg.Partitions = 0
			} else if cfg.Partitions < 1 || cfg.Partitions > store.MaxPartitions {
				return fmt.Errorf("--partitions %d: want 1 to %d", cfg.Partitions, store.MaxPartitions)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBroker(ctx, stop, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the data directory (created when missing)")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "host:port to listen on; port 0 picks a free one")
	f.StringVar(&cfg.Advertised, "advertised-addr", "", "host:port clients are told to connect to (default: the listen address)")
	f.IntVar(&cfg.Partitions, "partitions", 1, "num.partitions: the partition count of topics created without one")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	return cmd
}

// runBroker serves until ctx is done, then shuts down gracefully.
// unnotify stops catching signals, so that a second one kills the process.
func runBroker(ctx context.Context, unnotify func(), stdout, stderr io.Writer, cfg brokerConfig) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	so := store.DefaultOptions()
	if cfg.Partitions > 0 {
		so.DefaultTopicConfig = map[string]string{store.ConfigNumPartitions: strconv.Itoa(cfg.Partitions)}
	}
	opts := []broker.Opt{
		broker.DataDir(cfg.DataDir), broker.ListenAddr(cfg.Listen),
		broker.Logger(logger), broker.StoreOptions(so),
	}
	if cfg.Advertised != "" {
		opts = append(opts, broker.AdvertisedAddr(cfg.Advertised))
	}
	b, err := broker.New(opts...)
	if err != nil {
		return explainBrokerError(cfg, err)
	}
	abs, _ := filepath.Abs(cfg.DataDir)
	if cfg.Advertised == "" {
		fmt.Fprintf(stdout, "runnel broker listening on %s (data directory %s)\n", b.Addr(), abs)
	} else {
		fmt.Fprintf(stdout, "runnel broker listening on %s, advertised as %s (data directory %s)\n", cfg.Listen, b.Addr(), abs)
	}

	<-ctx.Done()
	unnotify()
	logger.Info("shutting down: finishing requests in flight, then flushing and checkpointing the logs")
	if err := b.Close(); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("stopped cleanly")
	return nil
}

// explainBrokerError turns an error of broker.New into advice.
func explainBrokerError(cfg brokerConfig, err error) error {
	switch {
	case errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrCorrupt):
		return explainOpenError(cfg.DataDir, err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: the address is in use (is another broker running?); pick another --listen", cfg.Listen)
	}
	return err
}
