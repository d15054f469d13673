package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/store"
)

const (
	demoTopic      = "quickstart"
	demoPartitions = 3
	demoGroup      = "demo"
	// demoIdle is how long the demo's consumer waits for records before
	// it says which partitions it is still waiting for, and gives up.
	demoIdle = 15 * time.Second
	// demoProduceTimeout bounds producing: the broker is in this process.
	demoProduceTimeout = time.Minute
)

// demoConfig is what "runnel demo" does; tests fill it directly.
type demoConfig struct {
	DataDir string
	Records int
	Codec   int
	Now     func() time.Time // the clock for event times and the store
	Seed    uint64           // of the generated page views
}

var codecs = map[string]int{
	"none": batch.CodecNone, "gzip": batch.CodecGzip, "snappy": batch.CodecSnappy,
	"lz4": batch.CodecLz4, "zstd": batch.CodecZstd,
}

func codecName(c int) string {
	for name, v := range codecs {
		if v == c {
			return name
		}
	}
	return fmt.Sprintf("codec %d", c)
}

// kgoCodec is franz-go's name for a batch codec.
func kgoCodec(c int) kgo.CompressionCodec {
	switch c {
	case batch.CodecGzip:
		return kgo.GzipCompression()
	case batch.CodecSnappy:
		return kgo.SnappyCompression()
	case batch.CodecLz4:
		return kgo.Lz4Compression()
	case batch.CodecZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func newDemoCmd() *cobra.Command {
	cfg := demoConfig{DataDir: "./data", Records: 300, Now: time.Now, Seed: uint64(time.Now().UnixNano())}
	compression := "none"
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a broker, produce page views to it and consume them back in a consumer group",
		Long: `demo makes a round trip through the broker over the Kafka protocol, as
any Kafka client would. It starts the broker in this process on the data
directory (listening on a free port of 127.0.0.1), creates the topic
"quickstart" with 3 partitions (or reuses it), produces page-view records
keyed by user with a franz-go producer (idempotent, acks=all; the key hash
picks the partition, as in Kafka), consumes them back with a franz-go
consumer in the consumer group "demo", checks every record, commits the
group's offsets, and shows the offsets, the group's lag and the files on
disk. Then it shuts the broker down cleanly.

Run it twice: the second run appends after the first, offsets go on from
where they were, and the group resumes from its committed offsets, so it
reads only the new records.`,
		Example: "  runnel demo\n  runnel demo --data-dir /tmp/runnel --records 1000 --compression zstd",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			codec, ok := codecs[compression]
			if !ok {
				return fmt.Errorf("--compression %q is not a codec runnel knows: use none, gzip, snappy, lz4 or zstd", compression)
			}
			if cfg.Records < 1 {
				return fmt.Errorf("--records %d: produce at least one record", cfg.Records)
			}
			cfg.Codec = codec
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, cmd.OutOrStdout(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "the broker's data directory (created when missing)")
	cmd.Flags().IntVar(&cfg.Records, "records", cfg.Records, "how many page views to produce")
	cmd.Flags().StringVar(&compression, "compression", compression, "batch compression: none, gzip, snappy, lz4 or zstd")
	return cmd
}

// pageView is the value of a demo record, as JSON.
type pageView struct {
	User      string `json:"user"`
	Page      string `json:"page"`
	Referrer  string `json:"referrer,omitempty"`
	Country   string `json:"country"`
	Device    string `json:"device"`
	EventTime string `json:"event_time"`
}

// produced is one record, as the producer sent it or the consumer got it.
type produced struct {
	offset     int64
	key, value []byte
	ts         int64 // Unix milliseconds
}

// partitionRun is what happened to one partition in this run.
type partitionRun struct {
	startedAt int64      // log end offset before this run
	resumeAt  int64      // where the group starts: its committed offset, or the log start
	sent      []produced // acknowledged, by offset
	got       []produced // consumed from startedAt on
	older     int        // consumed below startedAt: earlier runs' records the group had not consumed
}

// produceStats counts the batches the producer wrote (a franz-go hook).
type produceStats struct {
	mu      sync.Mutex
	batches int
	bytes   int64 // of the records in the batches, compressed
}

var _ kgo.HookProduceBatchWritten = (*produceStats)(nil)

func (s *produceStats) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.bytes += int64(m.CompressedBytes)
}

func runDemo(ctx context.Context, w io.Writer, cfg demoConfig) (err error) {
	out := &errWriter{w: w}
	so := store.DefaultOptions()
	so.Now = cfg.Now
	b, err := broker.New(broker.DataDir(cfg.DataDir), broker.ListenAddr("127.0.0.1:0"),
		broker.StoreOptions(so), broker.GroupInitialRebalanceDelay(0))
	if err != nil {
		return explainBrokerError(brokerConfig{DataDir: cfg.DataDir, Listen: "127.0.0.1:0"}, err)
	}
	closed := false
	defer func() {
		if !closed {
			err = errors.Join(err, b.Close())
		}
	}()
	abs, _ := filepath.Abs(cfg.DataDir)

	out.printf("runnel demo: a round trip through the broker over the Kafka protocol. The broker runs\n")
	out.printf("in this process; a franz-go producer and consumer talk to it as to any Kafka cluster.\n\n")
	out.printf("broker          listening on %s, data directory %s (cluster id %s)\n", b.Addr(), abs, b.Store().ClusterID())

	// The topic, and where this run starts.
	n, created, id, err := demoEnsureTopic(ctx, b.Addr())
	if err != nil {
		return err
	}
	// A client of its own after the topic exists: a franz-go client
	// caches for a while that a topic it looked up did not exist.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ClientID("runnel-demo-admin"))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if created {
		out.printf("topic           %s: created, %d partitions, topic id %s\n", demoTopic, n, id)
	} else {
		out.printf("topic           %s: exists from an earlier run, %d partitions, topic id %s\n", demoTopic, n, id)
	}
	starts, err := listOffsets(ctx, adm, demoTopic, "start", adm.ListStartOffsets)
	if err != nil {
		return err
	}
	ends, err := listOffsets(ctx, adm, demoTopic, "end", adm.ListEndOffsets)
	if err != nil {
		return err
	}
	committed, err := adm.FetchOffsets(ctx, demoGroup)
	if err != nil {
		return fmt.Errorf("cannot fetch the committed offsets of group %q: %w", demoGroup, err)
	}
	parts := make([]*partitionRun, n)
	var before int64
	var resumes []string
	for p := range parts {
		pr := &partitionRun{startedAt: ends[int32(p)], resumeAt: starts[int32(p)]}
		if o, ok := committed.Lookup(demoTopic, int32(p)); ok && o.Err == nil && o.At >= 0 {
			pr.resumeAt = o.At
			resumes = append(resumes, fmt.Sprintf("%d at %d", p, o.At))
		}
		parts[p] = pr
		before += pr.startedAt - starts[int32(p)]
	}
	if before > 0 {
		out.printf("                it holds %d records: this run appends after them\n", before)
	}
	if len(resumes) > 0 {
		out.printf("group           %s: committed offsets from an earlier run (partition %s): it resumes there\n", demoGroup, strings.Join(resumes, ", "))
	} else {
		out.printf("group           %s: new, it starts at the beginning of each partition\n", demoGroup)
	}

	// Produce.
	began := time.Now()
	stats, err := demoProduce(ctx, b.Addr(), parts, cfg)
	if err != nil {
		return err
	}
	out.printf("\nproduced %d page views in %d batches (%s, compression %s) in %v, idempotent, acks=all\n",
		cfg.Records, stats.batches, size(stats.bytes), codecName(cfg.Codec), time.Since(began).Round(time.Millisecond))
	var acked []string
	for p, pr := range parts {
		if len(pr.sent) > 0 {
			acked = append(acked, fmt.Sprintf("partition %d offsets %d-%d", p, pr.sent[0].offset, pr.sent[len(pr.sent)-1].offset))
		}
	}
	out.printf("acknowledged:   %s\n", strings.Join(acked, ", "))

	// Consume in the group, check, commit.
	began = time.Now()
	if err := demoConsume(ctx, b.Addr(), parts); err != nil {
		return err
	}
	took := time.Since(began)
	var newRecords, older int
	for p, pr := range parts {
		if err := compare(pr.sent, pr.got); err != nil {
			return fmt.Errorf("partition %d read back differs from what was produced: %w", p, err)
		}
		newRecords += len(pr.got)
		older += pr.older
	}
	out.printf("consumed them back in group %q in %v and committed: every key, value and timestamp as produced\n",
		demoGroup, took.Round(time.Millisecond))
	switch {
	case older > 0:
		out.printf("the group read %d records: this run's %d, and %d older ones it had not consumed before\n",
			newRecords+older, newRecords, older)
	case len(resumes) > 0:
		out.printf("the group read %d records, only this run's: it resumed from the offsets it had committed\n", newRecords)
	default:
		out.printf("the group read %d records, from the beginning of each partition\n", newRecords)
	}

	// What the broker says now.
	lags, err := adm.Lag(ctx, demoGroup)
	if err == nil {
		err = lags.Error()
	}
	if err != nil {
		return fmt.Errorf("cannot describe group %q: %w", demoGroup, err)
	}
	lag := lags[demoGroup].Lag
	out.printf("\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "partition\tacked this run\tlog start\tlog end\tcommitted\tlag\tsize\tsegments\t\n")
	for p, pr := range parts {
		thisRun := "-"
		if len(pr.sent) > 0 {
			thisRun = fmt.Sprintf("%d..%d", pr.sent[0].offset, pr.sent[len(pr.sent)-1].offset)
		}
		start, end, commit, lagged := "?", "?", "-", "?"
		if l, ok := lag.Lookup(demoTopic, int32(p)); ok {
			if l.Start.Err == nil {
				start = strconv.FormatInt(l.Start.Offset, 10)
			}
			if l.End.Err == nil {
				end = strconv.FormatInt(l.End.Offset, 10)
			}
			if l.Commit.At >= 0 {
				commit = strconv.FormatInt(l.Commit.At, 10)
			}
			if l.Lag >= 0 {
				lagged = strconv.FormatInt(l.Lag, 10)
			}
		}
		bytes, segments := "?", "?"
		if l, err := b.Store().Partition(demoTopic, p); err == nil {
			bytes, segments = size(l.Size()), strconv.Itoa(l.Segments())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p, thisRun, start, end, commit, lagged, bytes, segments)
	}
	tw.Flush()

	out.printf("\na few of the records consumed (partition, offset, timestamp, key, value):\n")
	for p, pr := range parts {
		for _, r := range pr.got[:min(2, len(pr.got))] {
			out.printf("  %d  %-6d  %s  %-8s  %s\n", p, r.offset,
				time.UnixMilli(r.ts).UTC().Format("15:04:05.000"), r.key, truncate(r.value, 60))
		}
	}

	// Close first: the logs are flushed and checkpointed then.
	admCl.Close()
	closed = true
	if err := b.Close(); err != nil {
		return fmt.Errorf("shutting the broker down: %w", err)
	}
	out.printf("\nshut the broker down cleanly: every log flushed and checkpointed, so the next start reads no log data.\n")
	if err := describeLayout(out, abs, n); err != nil {
		return err
	}

	flag := ""
	if cfg.DataDir != "./data" && cfg.DataDir != "data" {
		flag = " --data-dir " + cfg.DataDir
	}
	out.printf("\ntalk to it with any Kafka client: serve the data directory with\n")
	tw = tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  runnel broker%s\t# listens on 127.0.0.1:9092 until Ctrl-C\n", flag)
	tw.Flush()
	out.printf("and, in another terminal:\n")
	tw = tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  runnel consume %s --format '{{.Partition}}/{{.Offset}} {{.Key}} {{.Value}}'\t# every record\n", demoTopic)
	fmt.Fprintf(tw, "  runnel group describe %s\t# the group's committed offsets and lag\n", demoGroup)
	fmt.Fprintf(tw, "  kcat -b 127.0.0.1:9092 -C -t %s -e -f '%%p/%%o %%k %%s\\n'\t# librdkafka's kcat, if installed\n", demoTopic)
	tw.Flush()

	seg := filepath.Join(cfg.DataDir, demoTopic+"-0", fmt.Sprintf("%020d.log", 0))
	out.printf("\nnext:\n")
	tw = tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  runnel log dump %s --records\t# look inside a segment\n", seg)
	fmt.Fprintf(tw, "  runnel demo --data-dir %s\t# run again: offsets go on, the group resumes\n", cfg.DataDir)
	tw.Flush()
	return out.err
}

// demoEnsureTopic creates the demo topic unless it exists, and returns its
// partition count and id.
func demoEnsureTopic(ctx context.Context, addr string) (partitions int, created bool, id string, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("runnel-demo-admin"))
	if err != nil {
		return 0, false, "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tds, err := adm.ListTopics(ctx, demoTopic)
	if err != nil {
		return 0, false, "", fmt.Errorf("cannot look up topic %q: %w", demoTopic, err)
	}
	td := tds[demoTopic]
	if errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		resp, err := adm.CreateTopic(ctx, demoPartitions, -1, nil, demoTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return 0, false, "", topicError("create", demoTopic, "", err, resp.ErrMessage)
		}
		return int(resp.NumPartitions), true, base64.RawURLEncoding.EncodeToString(resp.ID[:]), nil
	}
	if td.Err != nil {
		return 0, false, "", topicError("use", demoTopic, "", td.Err, "")
	}
	return len(td.Partitions), false, base64.RawURLEncoding.EncodeToString(td.ID[:]), nil
}

// demoProduce generates cfg.Records page views and produces them with a
// franz-go producer: idempotent, acks=all, keys hashed to partitions with
// Kafka's murmur2 (the sticky key partitioner). It records what each
// partition acknowledged in parts[p].sent.
func demoProduce(ctx context.Context, addr string, parts []*partitionRun, cfg demoConfig) (*produceStats, error) {
	stats := &produceStats{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("runnel-demo-producer"),
		kgo.DefaultProduceTopic(demoTopic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: franz-go's default, as Kafka's
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchCompression(kgoCodec(cfg.Codec)),
		kgo.WithHooks(stats))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// Not kgo.RecordDeliveryTimeout: it counts from the record timestamps,
	// which are event times here, up to minutes old.
	ctx, cancel := context.WithTimeout(ctx, demoProduceTimeout)
	defer cancel()

	var mu sync.Mutex
	var failed int
	var firstErr error
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed>>1|1))
	pages := []string{"/", "/search", "/products/42", "/products/7", "/products/1337", "/cart", "/checkout", "/blog/kafka-on-a-laptop", "/about"}
	referrers := []string{"", "", "https://duckduckgo.com/", "https://news.ycombinator.com/", "https://www.google.com/"}
	countries := []string{"DE", "FR", "US", "BR", "JP", "IN", "NG", "NL"}
	devices := []string{"desktop", "mobile", "mobile", "tablet"}
	// Event times run up to now, 10 to 60ms apart: a busy site.
	t := cfg.Now().Add(-time.Duration(cfg.Records) * 35 * time.Millisecond)
	for range cfg.Records {
		t = t.Add(time.Duration(10+rng.IntN(50)) * time.Millisecond)
		user := fmt.Sprintf("user-%d", 1+rng.IntN(40))
		value, err := json.Marshal(pageView{
			User:      user,
			Page:      pages[rng.IntN(len(pages))],
			Referrer:  referrers[rng.IntN(len(referrers))],
			Country:   countries[rng.IntN(len(countries))],
			Device:    devices[rng.IntN(len(devices))],
			EventTime: t.UTC().Format("2006-01-02T15:04:05.000Z"),
		})
		if err != nil {
			return nil, err
		}
		r := &kgo.Record{Key: []byte(user), Value: value, Timestamp: t}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if failed++; firstErr == nil {
					firstErr = err
				}
				return
			}
			pr := parts[r.Partition]
			pr.sent = append(pr.sent, produced{r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli()})
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, fmt.Errorf("waiting for the broker's acknowledgements: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return nil, fmt.Errorf("%d of %d page views failed; the first: %s", failed, cfg.Records, brokerSays(firstErr, ""))
	}
	for _, pr := range parts {
		slices.SortFunc(pr.sent, func(a, b produced) int { return cmp.Compare(a.offset, b.offset) })
	}
	stats.mu.Lock()
	defer stats.mu.Unlock()
	return &produceStats{batches: stats.batches, bytes: stats.bytes}, nil
}

// demoConsume consumes the demo topic as a member of the demo group, from
// the group's committed offsets up to what this run produced, keeps what
// it reads in parts, commits, and leaves the group.
func demoConsume(ctx context.Context, addr string, parts []*partitionRun) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("runnel-demo-consumer"),
		kgo.ConsumerGroup(demoGroup), kgo.ConsumeTopics(demoTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		return err
	}
	defer cl.Close() // leaves the group

	// Until where: the last offset this run's producer got acknowledged.
	pending := map[int32]int64{}
	for p, pr := range parts {
		if len(pr.sent) > 0 {
			pending[int32(p)] = pr.sent[len(pr.sent)-1].offset
		} else if pr.resumeAt < pr.startedAt {
			pending[int32(p)] = pr.startedAt - 1
		}
	}
	idleSince := time.Now()
	for len(pending) > 0 {
		pctx, cancel := context.WithTimeout(ctx, pollWait)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var fetchErr error
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && fetchErr == nil {
				fetchErr = fmt.Errorf("consuming partition %d: %w", p, err)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			pr := parts[r.Partition]
			if r.Offset < pr.startedAt {
				pr.older++
			} else {
				pr.got = append(pr.got, produced{r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli()})
			}
			if last, ok := pending[r.Partition]; ok && r.Offset >= last {
				delete(pending, r.Partition)
			}
		})
		if n > 0 {
			idleSince = time.Now()
		} else if time.Since(idleSince) > demoIdle {
			var waiting []string
			for _, p := range slices.Sorted(maps.Keys(pending)) {
				waiting = append(waiting, fmt.Sprintf("partition %d up to offset %d", p, pending[p]))
			}
			return fmt.Errorf("the consumer in group %q got no records for %v; still waiting for %s", demoGroup, demoIdle, strings.Join(waiting, ", "))
		}
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("committing the offsets of group %q: %w", demoGroup, err)
	}
	return nil
}

func compare(sent, got []produced) error {
	if len(sent) != len(got) {
		return fmt.Errorf("produced %d records, read %d", len(sent), len(got))
	}
	for i := range sent {
		s, g := sent[i], got[i]
		if s.offset != g.offset || !bytes.Equal(s.key, g.key) || !bytes.Equal(s.value, g.value) || s.ts != g.ts {
			return fmt.Errorf("record %d: produced %s=%s at offset %d, time %d; read %s=%s at offset %d, time %d",
				i, s.key, s.value, s.offset, s.ts, g.key, g.value, g.offset, g.ts)
		}
	}
	return nil
}

// describeLayout prints the top of the data directory and the files of the
// first partition.
func describeLayout(out io.Writer, abs string, partitions int) error {
	fmt.Fprintf(out, "\nthe data lives in %s:\n", abs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  meta.properties\tthe broker's identity: cluster id and node id\n")
	fmt.Fprintf(tw, "  topics.json\tthe topics: ids, partition counts, configs\n")
	fmt.Fprintf(tw, "  %s-0/ .. %s-%d/\tone directory per partition, Kafka's layout\n", demoTopic, demoTopic, partitions-1)
	fmt.Fprintf(tw, "  __consumer_offsets-0/\tthe groups and their committed offsets, a compacted topic as in Kafka\n")
	if _, err := os.Stat(filepath.Join(abs, "producer-id-block")); err == nil {
		fmt.Fprintf(tw, "  producer-id-block\tthe next producer id to hand out (the producer is idempotent)\n")
	}
	tw.Flush()
	dir := filepath.Join(abs, demoTopic+"-0")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	what := func(name string) string {
		switch {
		case strings.HasSuffix(name, ".log"):
			return "record batches, stored as the producer sent them"
		case strings.HasSuffix(name, ".timeindex"):
			return "timestamp -> offset, for ListOffsets by time and retention"
		case strings.HasSuffix(name, ".index"):
			return "offset -> file position, one entry per 4 KiB of log"
		case strings.HasSuffix(name, ".txnindex"):
			return "aborted transactions, for read_committed consumers"
		case strings.HasSuffix(name, ".snapshot"):
			return "the idempotent producers' state at this offset"
		case name == "checkpoint":
			return "recovery point and log start offset; marked clean on close"
		}
		return ""
	}
	fmt.Fprintf(out, "  in %s-0/:\n", demoTopic)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", e.Name(), size(info.Size()), what(e.Name()))
	}
	return tw.Flush()
}

// explainOpenError turns an error of store.Open into advice.
func explainOpenError(dir string, err error) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("the data directory %s is in use by another runnel process; stop it, or pick another --data-dir", dir)
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("the data directory %s cannot be opened: %w", dir, err)
	}
	return fmt.Errorf("cannot open the data directory %s: %w", dir, err)
}

// size formats a byte count for people.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// errWriter remembers the first write error, so that printing code stays
// readable and the command still fails when stdout is gone.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
