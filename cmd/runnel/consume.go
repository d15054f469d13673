package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	topicsrc "github.com/runnel-io/runnel/sources/topic"
)

// consumeConfig is what "runnel consume" does; tests fill it directly.
type consumeConfig struct {
	Bootstrap     string
	Topic         string
	FromBeginning bool
	Offset        int64 // -1: not given
	Partition     int32 // -1: every partition
	FromTime      string
	Group         string
	Format        string
	Count         int // 0: no limit
	Follow        bool
	// Idle is how long a bounded consume (no --follow) waits without
	// records before it gives up on reaching the end offsets (which only
	// happens when the last offsets hold no records to show, such as
	// transaction markers).
	Idle time.Duration
}

// pollWait is how often a bounded consume checks whether it is done.
const pollWait = 250 * time.Millisecond

const defaultFormat = "{{.Value}}"

func newConsumeCmd() *cobra.Command {
	cfg := consumeConfig{Bootstrap: defaultBootstrap, Offset: -1, Partition: -1, Format: defaultFormat, Idle: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the records of a topic, from runnel or any Kafka cluster",
		Long: `consume prints the records of a topic, one line per record (by default
the value; see --format).

Where it starts: --from-beginning (each partition's log start),
--offset N (with --partition), or --from-time (the first record at or
after that time). Without one of these it starts at the beginning, or
with --follow at the end (only new records, like tail -f).

Where it stops: at the end offsets the topic had when it started, or
after --count records, whichever comes first. With --follow it keeps
waiting for new records until --count or Ctrl-C.

With --group it consumes as a member of that consumer group: the group
assigns the partitions, and the group's committed offsets say where to
start (the starting flags then apply only to partitions without one). It
commits the offsets of the records it printed when it stops.

--format is a Go template (text/template) over the record's fields
{{.Topic}} {{.Partition}} {{.Offset}} {{.Key}} {{.Value}} {{.Timestamp}}
and {{.Headers}} (printed as k=v,k=v; one header's value with
{{.Header "k"}}); a newline follows each record. The summary goes to
stderr.`,
		Example: "  runnel consume clicks\n" +
			"  runnel consume clicks --follow --format '{{.Partition}}/{{.Offset}} {{.Key}}: {{.Value}}'\n" +
			"  runnel consume clicks --partition 2 --offset 100 --count 10\n" +
			"  runnel consume clicks --from-time 2025-03-01T12:00:00Z --format '{{.Timestamp.Format \"15:04:05\"}} {{.Value}}'\n" +
			"  runnel consume clicks --group reports",
		Args: oneTopic,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Topic = args[0]
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runConsume(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Bootstrap, "bootstrap", "b", cfg.Bootstrap, bootstrapUsage)
	f.BoolVar(&cfg.FromBeginning, "from-beginning", false, "start at the log start of each partition")
	f.Int64Var(&cfg.Offset, "offset", cfg.Offset, "start at this offset of --partition")
	f.Int32Var(&cfg.Partition, "partition", cfg.Partition, "consume this partition only; -1 consumes all")
	f.StringVar(&cfg.FromTime, "from-time", "", "start at the first record at or after this time (RFC 3339, e.g. 2025-03-01T12:00:00Z)")
	f.StringVar(&cfg.Group, "group", "", "consume as a member of this consumer group, and commit")
	f.StringVar(&cfg.Format, "format", cfg.Format, "Go template for each record (see above)")
	f.IntVar(&cfg.Count, "count", 0, "stop after this many records (default: no limit)")
	f.BoolVar(&cfg.Follow, "follow", false, "keep waiting for new records instead of stopping at the end")
	return cmd
}

// recordView is what --format sees of a record.
type recordView struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Timestamp time.Time
	Headers   recordHeaders
}

// Header is the value of the first header named key, or "".
func (r recordView) Header(key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

type recordHeaders []kgo.RecordHeader

// String prints the headers as k=v,k=v.
func (h recordHeaders) String() string {
	s := make([]string, len(h))
	for i, x := range h {
		s[i] = x.Key + "=" + string(x.Value)
	}
	return strings.Join(s, ",")
}

// consumeState tracks which partitions still have records to reach before
// the end offsets seen at the start. It is shared with the group callbacks.
type consumeState struct {
	mu       sync.Mutex
	ends     map[int32]int64
	pending  map[int32]bool  // not yet at its end offset
	lastSeen map[int32]int64 // -1 before any record
	// next is, per partition, the offset of the next record: where it
	// starts, then after the last record seen (markers included). With a
	// group, where the group starts is not known here: no entry.
	next     map[int32]int64
	assigned map[int32]bool // nil without a group: every partition counts
	started  bool           // without a group at once; with one, once assigned
}

// deleted returns how many offsets before first, the first offset a fetch
// of partition p returned, were deleted before they were read
// (topic.Deleted); 0 when where p starts is not known here.
func (s *consumeState) deleted(p int32, first, logStart int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, ok := s.next[p]
	if !ok {
		return 0
	}
	return topicsrc.Deleted(next, first, logStart)
}

func (s *consumeState) seen(p int32, offset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeen[p] = max(s.lastSeen[p], offset)
	s.next[p] = max(s.next[p], offset+1)
	if offset >= s.ends[p]-1 {
		s.pending[p] = false
	}
}

func (s *consumeState) hasStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// done reports whether every partition that counts is at its end.
func (s *consumeState) done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return false
	}
	for p, pending := range s.pending {
		if pending && (s.assigned == nil || s.assigned[p]) {
			return false
		}
	}
	return true
}

// short describes the partitions that did not reach their end.
func (s *consumeState) short() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range slices.Sorted(maps.Keys(s.pending)) {
		if s.pending[p] && (s.assigned == nil || s.assigned[p]) {
			out = append(out, fmt.Sprintf("partition %d was to reach offset %d, the last record seen was %d", p, s.ends[p]-1, s.lastSeen[p]))
		}
	}
	return strings.Join(out, "; ")
}

func runConsume(ctx context.Context, w, stderr io.Writer, cfg consumeConfig) error {
	// Check the flags.
	starts := 0
	for _, given := range []bool{cfg.FromBeginning, cfg.Offset != -1, cfg.FromTime != ""} {
		if given {
			starts++
		}
	}
	var fromTime time.Time
	switch {
	case starts > 1:
		return errors.New("--from-beginning, --offset and --from-time each say where to start: give one")
	case cfg.Offset < -1:
		return fmt.Errorf("--offset %d: offsets start at 0", cfg.Offset)
	case cfg.Offset != -1 && cfg.Partition == -1:
		return errors.New("--offset needs --partition: offsets are per partition")
	case cfg.Group != "" && cfg.Partition != -1:
		return errors.New("--group assigns the partitions itself: leave out --partition and --offset")
	case cfg.Count < 0:
		return fmt.Errorf("--count %d: want a positive number of records, or 0 for no limit", cfg.Count)
	case cfg.FromTime != "":
		var err error
		if fromTime, err = time.Parse(time.RFC3339Nano, cfg.FromTime); err != nil {
			return fmt.Errorf("--from-time %q: want a time like 2025-03-01T12:00:00Z (RFC 3339)", cfg.FromTime)
		}
	}
	tmpl, err := template.New("format").Parse(cfg.Format)
	if err == nil {
		err = tmpl.Execute(io.Discard, recordView{}) // catches unknown fields now
	}
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}

	// Find where to start and where the end is.
	admCl, err := connect(ctx, cfg.Bootstrap)
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if err := checkTopic(ctx, adm, cfg.Topic, cfg.Partition, cfg.Bootstrap); err != nil {
		return err
	}
	if cfg.Group != "" {
		if err := checkGroupsServed(ctx, adm, cfg.Bootstrap); err != nil {
			return err
		}
	}
	ends, err := listOffsets(ctx, adm, cfg.Topic, "end", adm.ListEndOffsets)
	if err != nil {
		return err
	}
	var startAt map[int32]int64
	var reset kgo.Offset
	switch {
	case cfg.FromTime != "":
		reset = kgo.NewOffset().AfterMilli(fromTime.UnixMilli())
		startAt, err = listOffsets(ctx, adm, cfg.Topic, "time", func(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, fromTime.UnixMilli(), topics...)
		})
	case cfg.Follow && !cfg.FromBeginning && cfg.Offset == -1:
		reset, startAt = kgo.NewOffset().AtEnd(), ends
	default:
		reset = kgo.NewOffset().AtStart()
		startAt, err = listOffsets(ctx, adm, cfg.Topic, "start", adm.ListStartOffsets)
	}
	if err != nil {
		return err
	}
	if cfg.Offset != -1 {
		first, end := startAt[cfg.Partition], ends[cfg.Partition] // startAt: the log start offsets here
		switch {
		case (cfg.Offset > end || cfg.Offset < first) && first == end:
			return fmt.Errorf("--offset %d: partition %d of topic %q holds no records (the next one gets offset %d)", cfg.Offset, cfg.Partition, cfg.Topic, end)
		case cfg.Offset > end || cfg.Offset < first:
			return fmt.Errorf("--offset %d: partition %d of topic %q holds offsets %d to %d (the next record gets %d)", cfg.Offset, cfg.Partition, cfg.Topic, first, end-1, end)
		}
		startAt = map[int32]int64{cfg.Partition: cfg.Offset}
	}
	if cfg.Partition != -1 {
		startAt = map[int32]int64{cfg.Partition: startAt[cfg.Partition]}
	}
	if cfg.Group != "" {
		committed, err := adm.FetchOffsets(ctx, cfg.Group)
		if err != nil {
			return fmt.Errorf("cannot fetch the committed offsets of group %q: %w", cfg.Group, err)
		}
		for p := range startAt {
			if o, ok := committed.Lookup(cfg.Topic, p); ok && o.Err == nil && o.At >= 0 {
				startAt[p] = o.At
			}
		}
	}

	st := &consumeState{ends: ends, pending: map[int32]bool{}, lastSeen: map[int32]int64{}, next: map[int32]int64{}, started: cfg.Group == ""}
	for p, at := range startAt {
		st.pending[p] = at < ends[p]
		st.lastSeen[p] = -1
		st.next[p] = at
	}

	// Where each partition starts, when it starts at its log start: the
	// records before it were deleted, which explains a topic that holds
	// fewer records than were written to it.
	if cfg.FromBeginning || (starts == 0 && !cfg.Follow) {
		for _, p := range slices.Sorted(maps.Keys(startAt)) {
			if at := startAt[p]; at > 0 && cfg.Group == "" {
				fmt.Fprintf(stderr, "note: partition %d of %q starts at offset %d: the records before it were deleted (retention.ms, retention.bytes or DeleteRecords)\n", p, cfg.Topic, at)
			}
		}
	}

	// Consume. Transaction markers are kept (and not printed) so that a
	// partition ending with one is seen to reach its end.
	opts := []kgo.Opt{kgo.ConsumeResetOffset(reset), kgo.KeepControlRecords()}
	if cfg.Group == "" {
		offsets := map[int32]kgo.Offset{}
		for p, at := range startAt {
			offsets[p] = kgo.NewOffset().At(at)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offsets}))
	} else {
		st.assigned = map[int32]bool{}
		track := func(assign bool) func(context.Context, *kgo.Client, map[string][]int32) {
			return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				st.mu.Lock()
				defer st.mu.Unlock()
				for _, p := range m[cfg.Topic] {
					st.assigned[p] = assign
				}
				st.started = true
			}
		}
		opts = append(opts, kgo.ConsumerGroup(cfg.Group), kgo.ConsumeTopics(cfg.Topic), kgo.AutoCommitMarks(),
			kgo.OnPartitionsAssigned(track(true)), kgo.OnPartitionsRevoked(track(false)), kgo.OnPartitionsLost(track(false)))
	}
	cl, err := connect(ctx, cfg.Bootstrap, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	bw := bufio.NewWriter(w)
	printed, idle := 0, time.Duration(0)
	var stopNote string
	var consumeErr error
	for consumeErr == nil {
		if (cfg.Count > 0 && printed >= cfg.Count) || (!cfg.Follow && st.done()) {
			break
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !cfg.Follow {
			pctx, cancel = context.WithTimeout(ctx, pollWait)
		}
		fs := cl.PollRecords(pctx, max(cfg.Count-printed, 0))
		cancel()
		if ctx.Err() != nil || fs.IsClientClosed() {
			break
		}
		fs.EachError(func(_ string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			case errors.As(err, &loss):
				fmt.Fprintf(stderr, "warning: %v\n", err)
			case consumeErr == nil:
				consumeErr = fmt.Errorf("consuming partition %d of topic %q: %w", p, cfg.Topic, err)
			}
		})
		n := 0
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				if skipped := st.deleted(p.Partition, p.Records[0].Offset, p.LogStartOffset); skipped > 0 {
					fmt.Fprintf(stderr, "warning: partition %d of %q: %d records from offset %d were deleted before they were read (the log now starts at %d): skipping them\n",
						p.Partition, cfg.Topic, skipped, p.Records[0].Offset-skipped, p.LogStartOffset)
				}
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if consumeErr != nil || (cfg.Count > 0 && printed >= cfg.Count) {
				return
			}
			st.seen(r.Partition, r.Offset)
			if r.Attrs.IsControl() {
				return // a transaction marker
			}
			if !cfg.Follow && r.Offset >= ends[r.Partition] {
				return // produced after we started
			}
			v := recordView{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key),
				Value: string(r.Value), Timestamp: r.Timestamp.UTC(), Headers: r.Headers}
			if err := tmpl.Execute(bw, v); err != nil {
				consumeErr = fmt.Errorf("--format: %w", err)
				return
			}
			bw.WriteByte('\n')
			if cfg.Group != "" {
				cl.MarkCommitRecords(r)
			}
			printed++
			n++
		})
		if cfg.Follow {
			if err := bw.Flush(); err != nil {
				consumeErr = err
			}
			continue
		}
		switch {
		case n > 0:
			idle = 0
		case st.hasStarted():
			if idle += pollWait; idle >= cfg.Idle {
				stopNote = fmt.Sprintf("stopped after %v without records, before the end: %s; the rest may hold no records to show (transaction markers)", cfg.Idle, st.short())
				consumeErr = errStopped
			}
		}
	}
	if consumeErr == errStopped {
		consumeErr = nil
	}
	err = bw.Flush()
	if cfg.Group != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if cerr := cl.CommitMarkedOffsets(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("committing the offsets of group %q: %w", cfg.Group, cerr))
		}
		cancel()
	}
	if stopNote != "" {
		fmt.Fprintln(stderr, stopNote)
	}
	fmt.Fprintf(stderr, "%s from topic %q\n", counted(int64(printed), "record", "records"), cfg.Topic)
	return errors.Join(consumeErr, err)
}

var errStopped = errors.New("stopped")

// listOffsets returns one kind ("start", "end", "time") of offsets of
// every partition of topic.
func listOffsets(ctx context.Context, adm *kadm.Client, topic, kind string,
	list func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
	l, err := list(ctx, topic)
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list the %s offsets of topic %q: %w", kind, topic, err)
	}
	out := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) {
		if o.Topic == topic {
			out[o.Partition] = o.Offset
		}
	})
	return out, nil
}

// groupKeys are the APIs a group member needs.
var groupKeys = []kmsg.Key{kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat,
	kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch}

// missingGroupAPIs lists the group APIs that no broker serves.
func missingGroupAPIs(ctx context.Context, adm *kadm.Client) ([]string, error) {
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range groupKeys {
		served := false
		vs.Each(func(v kadm.BrokerApiVersions) {
			if _, ok := v.KeyMaxVersion(int16(k)); ok {
				served = true
			}
		})
		if !served {
			missing = append(missing, kmsg.NameForKey(int16(k)))
		}
	}
	return missing, nil
}

// checkGroupsServed fails when the brokers do not serve consumer groups.
func checkGroupsServed(ctx context.Context, adm *kadm.Client, bootstrap string) error {
	missing, err := missingGroupAPIs(ctx, adm)
	if err != nil {
		return fmt.Errorf("cannot ask %s which APIs it serves: %w", bootstrap, err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("the broker at %s does not serve consumer groups (no %s); consume without --group", bootstrap, strings.Join(missing, ", "))
	}
	return nil
}
