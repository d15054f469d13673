package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

const (
	demoTopic      = "quickstart"
	demoPartitions = 3
	// demoBatchRecords is how many records a producer puts in one batch
	// here (a real one fills batches by size and linger time).
	demoBatchRecords = 25
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

func newDemoCmd() *cobra.Command {
	cfg := demoConfig{DataDir: "./data", Records: 300, Now: time.Now, Seed: uint64(time.Now().UnixNano())}
	compression := "none"
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Produce page views into a local data directory and consume them back",
		Long: `demo runs the broker's storage in this process, without a network, and
drives it the way "runnel broker" does for Kafka clients: it opens (or creates) a data directory, creates the
topic "quickstart" with 3 partitions (or reuses it), produces page-view
records keyed by user into record batches spread over the partitions with
Kafka's key hash, reads every record back through the partition logs, and
shows what was written and where it lives on disk.

Run it twice: the second run appends after the first, and offsets go on
from where they were.`,
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
			return runDemo(cmd.OutOrStdout(), cfg)
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

// produced is one record the demo appended, to check what it reads back.
type produced struct {
	key, value []byte
	ts         int64
}

// partitionRun is what happened to one partition in this run.
type partitionRun struct {
	l         *log.Log
	startedAt int64 // log end offset before this run
	sent      []produced
	got       []produced // read back from startedAt on
	total     int64      // records readable from the log start
	start     int64      // log start offset
}

func runDemo(w io.Writer, cfg demoConfig) (err error) {
	out := &errWriter{w: w}
	opts := store.DefaultOptions()
	opts.Now = cfg.Now
	st, err := store.Open(cfg.DataDir, opts)
	if err != nil {
		return explainOpenError(cfg.DataDir, err)
	}
	closed := false
	defer func() {
		if !closed {
			err = errors.Join(err, st.Close())
		}
	}()
	abs, _ := filepath.Abs(cfg.DataDir)

	out.printf("runnel demo: the broker's storage, in this process. (No network: this drives the\n")
	out.printf("partition logs directly, the way runnel broker serves produce and fetch requests.)\n\n")
	out.printf("data directory  %s (cluster id %s)\n", abs, st.ClusterID())

	desc, err := st.CreateTopic(demoTopic, demoPartitions, nil)
	switch {
	case err == nil:
		out.printf("topic           %s: created, %d partitions, topic id %s\n", demoTopic, desc.Partitions, desc.ID)
	case errors.Is(err, store.ErrTopicExists):
		if desc, err = st.Topic(demoTopic); err != nil {
			return err
		}
		out.printf("topic           %s: exists from an earlier run, %d partitions, topic id %s\n", demoTopic, desc.Partitions, desc.ID)
	default:
		return err
	}

	parts := make([]*partitionRun, desc.Partitions)
	var before int64
	for p := range parts {
		l, err := st.Partition(demoTopic, p)
		if err != nil {
			return err
		}
		_, _, end := l.Offsets()
		parts[p] = &partitionRun{l: l, startedAt: end}
		before += end
	}
	if before > 0 {
		out.printf("                it holds %d records: this run appends after them\n", before)
	}

	// Produce.
	began := time.Now()
	batches, bytesOut, err := produce(parts, cfg)
	if err != nil {
		return err
	}
	took := time.Since(began)
	out.printf("\nproduced %d page views in %d batches (%s, compression %s) in %v\n",
		cfg.Records, batches, size(bytesOut), codecName(cfg.Codec), took.Round(time.Microsecond))

	// Consume and check.
	began = time.Now()
	for p, pr := range parts {
		if err := consume(pr); err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
		if err := compare(pr.sent, pr.got); err != nil {
			return fmt.Errorf("partition %d read back differs from what was produced: %w", p, err)
		}
	}
	out.printf("consumed them back with log.Read in %v: every key, value and timestamp as produced\n\n",
		time.Since(began).Round(time.Microsecond))

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "partition\tthis run\tlog start\thigh watermark\trecords\tsize\tsegments\t\n")
	for p, pr := range parts {
		thisRun := "-"
		if len(pr.sent) > 0 {
			thisRun = fmt.Sprintf("%d..%d", pr.startedAt, pr.startedAt+int64(len(pr.sent))-1)
		}
		_, hw, _ := pr.l.Offsets()
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%d\t\n", p, thisRun, pr.start, hw, pr.total, size(pr.l.Size()), pr.l.Segments())
	}
	tw.Flush()

	out.printf("\na few of the records consumed (partition, offset, timestamp, key, value):\n")
	for p, pr := range parts {
		for i, r := range pr.got[:min(2, len(pr.got))] {
			out.printf("  %d  %-6d  %s  %-8s  %s\n", p, pr.startedAt+int64(i),
				time.UnixMilli(r.ts).UTC().Format("15:04:05.000"), r.key, truncate(r.value, 60))
		}
	}

	// Close first: the indexes and the clean checkpoint are written then.
	closed = true
	if err := st.Close(); err != nil {
		return err
	}
	out.printf("\nclosed the store cleanly: the next start reads no log data.\n")
	if err := describeLayout(out, abs, desc.Partitions); err != nil {
		return err
	}
	seg := filepath.Join(cfg.DataDir, demoTopic+"-0", fmt.Sprintf("%020d.log", 0))
	out.printf("\nnext:\n")
	tw = tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  runnel log dump %s --records\t# look inside a segment\n", seg)
	fmt.Fprintf(tw, "  runnel demo --data-dir %s\t# run again: offsets go on from here\n", cfg.DataDir)
	tw.Flush()
	return out.err
}

// produce generates cfg.Records page views, spreads them over the
// partitions with Kafka's default key hash (murmur2), and appends them in
// batches of demoBatchRecords per partition.
func produce(parts []*partitionRun, cfg demoConfig) (batches int, bytesOut int64, err error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed>>1|1))
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(demoTopic)
	builders := make([]*batch.Builder, len(parts))
	for p := range builders {
		builders[p] = batch.NewBuilder(cfg.Codec)
	}
	flush := func(p int) error {
		if builders[p].Len() == 0 {
			return nil
		}
		b, err := builders[p].Build()
		if err != nil {
			return err
		}
		builders[p].Reset()
		if _, err := parts[p].l.Append(b); err != nil {
			return fmt.Errorf("append to partition %d: %w", p, err)
		}
		batches++
		bytesOut += int64(len(b))
		return nil
	}

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
			return 0, 0, err
		}
		p := partitioner.Partition(&kgo.Record{Key: []byte(user)}, len(parts))
		builders[p].Add([]byte(user), value, t.UnixMilli())
		parts[p].sent = append(parts[p].sent, produced{[]byte(user), value, t.UnixMilli()})
		if builders[p].Len() == demoBatchRecords {
			if err := flush(p); err != nil {
				return 0, 0, err
			}
		}
	}
	for p := range parts {
		if err := flush(p); err != nil {
			return 0, 0, err
		}
	}
	return batches, bytesOut, nil
}

// consume reads the partition from its log start to the high watermark, as
// a consumer's fetches would, keeping the records of this run.
func consume(pr *partitionRun) error {
	start, hw, _ := pr.l.Offsets()
	pr.start = start
	for off := start; off < hw; {
		res, err := pr.l.Read(off, 64<<10)
		if err != nil {
			return fmt.Errorf("read at offset %d: %w", off, err)
		}
		if len(res.Data) == 0 {
			return fmt.Errorf("read at offset %d returned nothing below the high watermark %d", off, hw)
		}
		for data := res.Data; len(data) > 0; {
			h, n, err := batch.Check(data, 0)
			if err != nil {
				return fmt.Errorf("batch read at offset %d: %w", off, err)
			}
			recs, err := batch.Records(data[:n], &h)
			if err != nil {
				return fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
			}
			for _, r := range recs {
				o := h.BaseOffset + int64(r.OffsetDelta)
				if o < off {
					continue // the batch holding off started before it
				}
				pr.total++
				if o >= pr.startedAt {
					pr.got = append(pr.got, produced{
						slices.Clone(r.Key), slices.Clone(r.Value), h.FirstTimestamp + r.TimestampDelta})
				}
			}
			off = h.LastOffset() + 1
			data = data[n:]
		}
	}
	return nil
}

func compare(sent, got []produced) error {
	if len(sent) != len(got) {
		return fmt.Errorf("produced %d records, read %d", len(sent), len(got))
	}
	for i := range sent {
		s, g := sent[i], got[i]
		if !bytes.Equal(s.key, g.key) || !bytes.Equal(s.value, g.value) || s.ts != g.ts {
			return fmt.Errorf("record %d: produced %s=%s at %d, read %s=%s at %d", i, s.key, s.value, s.ts, g.key, g.value, g.ts)
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
