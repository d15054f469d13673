package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceConfig is what "runnel produce" does; tests fill it directly.
type produceConfig struct {
	Bootstrap    string
	Topic        string
	KeySeparator string // empty: no keys
	Headers      []string
	Acks         string
	Partition    int32 // -1: the default partitioner
}

// maxLineBytes bounds one input line (Kafka's default max.message.bytes is
// about 1 MiB; larger records fail at the broker anyway).
const maxLineBytes = 16 << 20

func newProduceCmd() *cobra.Command {
	cfg := produceConfig{Bootstrap: defaultBootstrap, Acks: "all", Partition: -1}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce the lines of stdin as records, to runnel or any Kafka cluster",
		Long: `produce reads stdin line by line and produces each line as one record's
value (an empty line is a record with an empty value). With
--key-separator, each line is KEY<SEP>VALUE, split at the first SEP, and a
line without SEP is an error. --header adds a header to every record.

Records go to the topic's partitions by key hash (records without a key
are spread in batches), or all to --partition. At the end it prints what
the broker acknowledged: how many records, and the offsets they got in
each partition. It exits with status 1 if any record failed, after saying
which and why.

The topic must exist (see runnel topic create).`,
		Example: "  echo hello | runnel produce clicks\n" +
			"  printf 'alice:login\\nbob:logout\\n' | runnel produce clicks --key-separator : --header source=cli\n" +
			"  runnel produce clicks --acks 1 --partition 0 < lines.txt",
		Args: oneTopic,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Topic = args[0]
			return runProduce(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Bootstrap, "bootstrap", "b", cfg.Bootstrap, bootstrapUsage)
	f.StringVar(&cfg.KeySeparator, "key-separator", "", "split each line into KEY<SEP>VALUE at the first SEP")
	f.StringArrayVar(&cfg.Headers, "header", nil, "a record header key=value for every record; repeat for several")
	f.StringVar(&cfg.Acks, "acks", cfg.Acks, "all (every in-sync replica), 1 (the leader) or 0 (no acknowledgement)")
	f.Int32Var(&cfg.Partition, "partition", cfg.Partition, "produce every record to this partition; -1 picks by key")
	return cmd
}

// produceTally is what the broker acknowledged, per partition.
type produceTally struct {
	mu       sync.Mutex
	acked    int
	first    map[int32]int64
	last     map[int32]int64
	failed   int
	firstErr error
}

func (t *produceTally) done(line int, r *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed++
		if t.firstErr == nil {
			t.firstErr = fmt.Errorf("the record of line %d: %s", line, brokerSays(err, ""))
		}
		return
	}
	t.acked++
	if o, ok := t.first[r.Partition]; !ok || r.Offset < o {
		t.first[r.Partition] = r.Offset
	}
	if o, ok := t.last[r.Partition]; !ok || r.Offset > o {
		t.last[r.Partition] = r.Offset
	}
}

func runProduce(ctx context.Context, in io.Reader, w io.Writer, cfg produceConfig) error {
	// acks=all produces idempotently (franz-go's default, and Kafka's):
	// a retried batch is not written twice. The others cannot.
	opts := []kgo.Opt{kgo.DefaultProduceTopic(cfg.Topic), kgo.RecordDeliveryTimeout(time.Minute)}
	switch cfg.Acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return fmt.Errorf("--acks %q: want all, 1 or 0", cfg.Acks)
	}
	kvs, err := keyValues("--header", cfg.Headers)
	if err != nil {
		return err
	}
	var headers []kgo.RecordHeader
	for _, kv := range kvs {
		headers = append(headers, kgo.RecordHeader{Key: kv[0], Value: []byte(kv[1])})
	}
	if cfg.Partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := connect(ctx, cfg.Bootstrap, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkTopic(ctx, kadm.NewClient(cl), cfg.Topic, cfg.Partition, cfg.Bootstrap); err != nil {
		return err
	}

	tally := &produceTally{first: map[int32]int64{}, last: map[int32]int64{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var readErr error
	lines := 0
	for sc.Scan() {
		lines++
		line := strings.TrimSuffix(sc.Text(), "\r")
		r := &kgo.Record{Value: []byte(line), Headers: headers, Partition: cfg.Partition}
		if cfg.KeySeparator != "" {
			k, v, ok := strings.Cut(line, cfg.KeySeparator)
			if !ok {
				readErr = fmt.Errorf("line %d has no key separator %q; stopped reading there", lines, cfg.KeySeparator)
				lines--
				break
			}
			r.Key, r.Value = []byte(k), []byte(v)
		}
		n := lines
		cl.Produce(ctx, r, func(r *kgo.Record, err error) { tally.done(n, r, err) })
	}
	if err := sc.Err(); err != nil && readErr == nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line %d is longer than %d MiB", lines+1, maxLineBytes>>20)
		}
		readErr = fmt.Errorf("reading stdin: %w; stopped reading there", err)
	}
	if err := cl.Flush(ctx); err != nil {
		readErr = errors.Join(readErr, fmt.Errorf("waiting for the broker's acknowledgements: %w", err))
	}

	out := &errWriter{w: w}
	tally.mu.Lock()
	defer tally.mu.Unlock()
	switch {
	case lines == 0:
		out.printf("no input lines: nothing produced\n")
	case cfg.Acks == "0":
		out.printf("sent %s to topic %q (acks=0: the broker does not acknowledge them, so their offsets are unknown)\n",
			counted(int64(tally.acked), "record", "records"), cfg.Topic)
	default:
		var parts []string
		ps := make([]int32, 0, len(tally.first))
		for p := range tally.first {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		for _, p := range ps {
			if tally.first[p] == tally.last[p] {
				parts = append(parts, fmt.Sprintf("partition %d offset %d", p, tally.first[p]))
			} else {
				parts = append(parts, fmt.Sprintf("partition %d offsets %d-%d", p, tally.first[p], tally.last[p]))
			}
		}
		out.printf("produced %s to topic %q", counted(int64(tally.acked), "record", "records"), cfg.Topic)
		if len(parts) > 0 {
			out.printf(": %s", strings.Join(parts, ", "))
		}
		out.printf("\n")
	}
	var errs []error
	if tally.failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %s failed; the first: %w", tally.failed, counted(int64(lines), "record", "records"), tally.firstErr))
	}
	return errors.Join(append(errs, readErr, out.err)...)
}

// checkTopic checks that topic exists and, if partition is not -1, that
// it has that partition.
func checkTopic(ctx context.Context, adm *kadm.Client, topic string, partition int32, bootstrap string) error {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("cannot look up topic %q: %w", topic, err)
	}
	td := tds[topic]
	if td.Err != nil {
		return topicError("use", topic, bootstrap, td.Err, "")
	}
	if n := int32(len(td.Partitions)); partition >= n || partition < -1 {
		return fmt.Errorf("topic %q has %s (0 to %d); there is no partition %d", topic, counted(int64(n), "partition", "partitions"), n-1, partition)
	}
	return nil
}
