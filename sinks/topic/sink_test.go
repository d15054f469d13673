package topic_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/sinks/topic"
	topicsrc "github.com/runnel-io/runnel/sources/topic"
)

// The sink's tests run against the built-in broker, in this process.

var quiet = slog.New(slog.DiscardHandler)

// readUntil reads topic from the start with the given isolation level
// until done says so, and returns what it read.
func readUntil(t *testing.T, addr, topicName string, iso kgo.IsolationLevel, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl := brokertest.Client(t, addr, kgo.ConsumeTopics(topicName), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for !done(out) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s before the deadline", len(out), topicName)
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func atLeast(n int) func([]*kgo.Record) bool {
	return func(rs []*kgo.Record) bool { return len(rs) >= n }
}

func newSink(t *testing.T, cfg topic.Config) *topic.Sink {
	t.Helper()
	s, err := topic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// murmur2 is Kafka's Utils.murmur2, written from the Java source.
func murmur2(data []byte) uint32 {
	const m, r = 0x5bd1e995, 24
	h := uint32(0x9747b28c) ^ uint32(len(data))
	n4 := len(data) / 4
	for i := 0; i < n4; i++ {
		k := uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n4*4:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// javaPartition is where Kafka's Java producer puts a keyed record:
// toPositive(murmur2(key)) % partitions.
func javaPartition(key []byte, partitions int) int32 {
	return int32(int(murmur2(key)&0x7fffffff) % partitions)
}

// TestMurmur2 checks murmur2 against the values of Kafka's own test
// (UtilsTest.testMurmur2).
func TestMurmur2(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestKeysHeadersTimestamps: the at-least-once sink puts keyed records
// where Kafka's Java producer would, and keeps their headers and event
// times.
func TestKeysHeadersTimestamps(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	const partitions = 7
	brokertest.CreateTopic(t, addr, "out", partitions, nil)
	s := newSink(t, topic.Config{Brokers: []string{addr}, Topic: "out"})
	if s.Delivery() != connect.AtLeastOnce {
		t.Fatal("New must return an at-least-once sink")
	}
	if p, err := s.OpenTask(brokertest.Context(t), 0); p != nil || err != nil {
		t.Fatalf("OpenTask of an at-least-once sink: %v, %v; want nothing", p, err)
	}
	keys := []string{"21", "foobar", "a-little-bit-long-string", "a-little-bit-longer-string", "abc", ""}
	for i := range 60 {
		keys = append(keys, fmt.Sprintf("user-%d", i))
	}
	var recs []*connect.Record
	for i, k := range keys {
		recs = append(recs, &connect.Record{Key: []byte(k), Value: fmt.Appendf(nil, "v%d", i), Time: 1_700_000_000_000 + int64(i),
			Headers: []engine.Header{{Key: "trace", Value: fmt.Appendf(nil, "t%d", i)}, {Key: "trace", Value: []byte("again")}, {Key: "empty", Value: []byte{}}}})
	}
	ctx := brokertest.Context(t)
	if err := s.Write(ctx, 0, recs[:30]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, 1, recs[30:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, connect.Checkpoint{}); err != nil {
		t.Fatal(err)
	}
	got := readUntil(t, addr, "out", kgo.ReadUncommitted(), atLeast(len(recs)))
	if len(got) != len(recs) {
		t.Fatalf("read %d records, want %d", len(got), len(recs))
	}
	used := map[int32]bool{}
	for _, r := range got {
		var i int
		if _, err := fmt.Sscanf(string(r.Value), "v%d", &i); err != nil {
			t.Fatal(err)
		}
		want := recs[i]
		if !bytes.Equal(r.Key, want.Key) {
			t.Errorf("record %d: key %q, want %q", i, r.Key, want.Key)
		}
		if len(want.Key) > 0 {
			used[r.Partition] = true
			if p := javaPartition(want.Key, partitions); r.Partition != p {
				t.Errorf("key %q in partition %d, want %d (murmur2)", want.Key, r.Partition, p)
			}
		}
		if r.Timestamp.UnixMilli() != want.Time {
			t.Errorf("record %d: timestamp %d, want %d", i, r.Timestamp.UnixMilli(), want.Time)
		}
		var hs []engine.Header
		for _, h := range r.Headers {
			hs = append(hs, engine.Header{Key: h.Key, Value: h.Value})
		}
		if !slices.EqualFunc(hs, want.Headers, func(a, b engine.Header) bool { return a.Key == b.Key && bytes.Equal(a.Value, b.Value) }) {
			t.Errorf("record %d: headers %q, want %q", i, hs, want.Headers)
		}
	}
	if len(used) < partitions {
		t.Errorf("the keys used %d partitions of %d: the test proves little", len(used), partitions)
	}
}

// TestBroadcast: Broadcast writes one copy of a record to every
// partition, and keyed records written after it are still placed by key.
func TestBroadcast(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	const partitions = 3
	brokertest.CreateTopic(t, addr, "out", partitions, nil)
	s := newSink(t, topic.Config{Brokers: []string{addr}, Topic: "out"})
	ctx := brokertest.Context(t)
	marker := &connect.Record{Time: 5000, Headers: []engine.Header{{Key: engine.HeaderWatermark, Value: []byte("0\x005000")}}}
	if err := s.Broadcast(ctx, 0, marker); err != nil {
		t.Fatal(err)
	}
	var keyed []*connect.Record
	for i := range 12 {
		keyed = append(keyed, &connect.Record{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v"), Time: 6000})
	}
	if err := s.Write(ctx, 0, keyed); err != nil {
		t.Fatal(err)
	}
	if err := s.Broadcast(ctx, 0, marker); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, connect.Checkpoint{}); err != nil {
		t.Fatal(err)
	}
	got := readUntil(t, addr, "out", kgo.ReadUncommitted(), atLeast(2*partitions+len(keyed)))
	markers := map[int32]int{}
	for _, r := range got {
		if r.Key != nil {
			if p := javaPartition(r.Key, partitions); r.Partition != p {
				t.Errorf("key %q in partition %d, want %d", r.Key, r.Partition, p)
			}
			continue
		}
		markers[r.Partition]++
		if len(r.Headers) != 1 || r.Headers[0].Key != engine.HeaderWatermark || r.Timestamp.UnixMilli() != 5000 {
			t.Errorf("marker in partition %d: %+v", r.Partition, r)
		}
	}
	for p := range int32(partitions) {
		if markers[p] != 2 {
			t.Errorf("partition %d got %d markers, want 2 (one per Broadcast)", p, markers[p])
		}
	}
	if len(got) != 2*partitions+len(keyed) {
		t.Fatalf("read %d records, want %d", len(got), 2*partitions+len(keyed))
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if _, err := topic.New(topic.Config{Brokers: []string{"b:9092"}}); err == nil || !strings.Contains(err.Error(), "topic:") {
		t.Fatalf("New without a topic: %v", err)
	}
	if _, err := topic.New(topic.Config{Topic: "t"}); err == nil || !strings.Contains(err.Error(), "brokers:") {
		t.Fatalf("New without brokers: %v", err)
	}
}

// opener is the runtime's part in a transactional run: Assigned asks the
// sink where each task resumes.
type opener struct {
	sink *topic.Sink

	mu      sync.Mutex
	resumed []map[connect.TaskID]engine.Positions
	lost    [][]connect.TaskID
	err     error
}

func (o *opener) Assigned(ctx context.Context, ids []connect.TaskID) (map[connect.TaskID]engine.Positions, error) {
	res := map[connect.TaskID]engine.Positions{}
	for _, id := range ids {
		pos, err := o.sink.OpenTask(ctx, id)
		if err != nil {
			o.mu.Lock()
			o.err = err
			o.mu.Unlock()
			return nil, err
		}
		if pos != nil {
			res[id] = pos
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.resumed = append(o.resumed, res)
	return res, nil
}

func (o *opener) Revoked(_ context.Context, ids []connect.TaskID) {}

func (o *opener) Lost(_ context.Context, ids []connect.TaskID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lost = append(o.lost, ids)
}

// incarnation is one process running a topic source and a transactional
// sink with one transactional id.
type incarnation struct {
	src  *topicsrc.Source
	sink *topic.Sink
	o    *opener
}

func startIncarnation(t *testing.T, addr, txnID string) *incarnation {
	t.Helper()
	src, err := topicsrc.New(topicsrc.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// Longer than the test: only fencing can end a crashed transaction.
	sink, err := topic.NewTransactional(src, topic.Config{Topic: "out", TransactionalID: txnID, TransactionTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if sink.Delivery() != connect.ExactlyOnce {
		t.Fatal("NewTransactional must return an exactly-once sink")
	}
	o := &opener{sink: sink}
	if err := src.Open(brokertest.Context(t), o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close(context.Background()) })
	return &incarnation{src: src, sink: sink, o: o}
}

// process polls n records and writes them to the sink as "<tag>-<value>",
// returning the checkpoint of what it processed.
func (inc *incarnation) process(t *testing.T, n int, tag string) connect.Checkpoint {
	t.Helper()
	cp := connect.Checkpoint{}
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for got < n {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d records of %d", got, n)
		}
		got += inc.pollOnce(t, tag, cp)
	}
	if got != n {
		t.Fatalf("polled %d records, want %d", got, n)
	}
	return cp
}

func produceInput(t *testing.T, addr string, from, n int) {
	t.Helper()
	cl := brokertest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "in", Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)})
		}
	}
	if err := cl.ProduceSync(brokertest.Context(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func in(stream string, p int32) engine.Input { return engine.Input{Stream: stream, Partition: p} }

// TestTransactional: what a transactional sink commits is visible to
// read_committed readers, with the consumed offsets, which OpenTask then
// reports; what it wrote when its process died is never visible, and its
// next incarnation (the same transactional id) resumes at the committed
// offsets without waiting for the dead transaction to time out.
func TestTransactional(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 2, nil)
	brokertest.CreateTopic(t, addr, "out", 2, nil)
	produceInput(t, addr, 0, 3)

	first := startIncarnation(t, addr, "tx")
	cp := first.process(t, 6, "one")
	if err := first.sink.Commit(brokertest.Context(t), cp); err != nil {
		t.Fatal(err)
	}
	got := readUntil(t, addr, "out", kgo.ReadCommitted(), atLeast(6))
	if len(got) != 6 {
		t.Fatalf("read %d committed records, want 6", len(got))
	}
	for task := range connect.TaskID(2) {
		pos, err := first.sink.OpenTask(brokertest.Context(t), task)
		if err != nil {
			t.Fatal(err)
		}
		if want := (engine.Positions{in("in", task): 3}); !pos.Equal(want) {
			t.Fatalf("OpenTask(%d) after the commit: %v, want %v", task, pos, want)
		}
	}

	// The first incarnation processes two more records per partition,
	// writes them out, and dies before its commit.
	produceInput(t, addr, 3, 2)
	first.process(t, 4, "dead")
	if err := first.src.Client().Flush(brokertest.Context(t)); err != nil {
		t.Fatal(err)
	}
	if err := first.src.Close(brokertest.Context(t)); err != nil {
		t.Fatal(err)
	}

	second := startIncarnation(t, addr, "tx")
	cp = second.process(t, 4, "two")
	second.o.mu.Lock()
	resumed := slices.Clone(second.o.resumed)
	second.o.mu.Unlock()
	if len(resumed) == 0 || !resumed[0][0].Equal(engine.Positions{in("in", 0): 3}) || !resumed[0][1].Equal(engine.Positions{in("in", 1): 3}) {
		t.Fatalf("the second incarnation resumed at %v, want offset 3 of both partitions", resumed)
	}
	if want := (connect.Checkpoint{0: {in("in", 0): 5}, 1: {in("in", 1): 5}}); len(cp) != 2 || !cp[0].Equal(want[0]) || !cp[1].Equal(want[1]) {
		t.Fatalf("the second incarnation processed up to %v, want %v", cp, want)
	}
	if err := second.sink.Commit(brokertest.Context(t), cp); err != nil {
		t.Fatal(err)
	}
	pos, err := second.sink.OpenTask(brokertest.Context(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (engine.Positions{in("in", 1): 5}); !pos.Equal(want) {
		t.Fatalf("OpenTask(1) after the second commit: %v, want %v", pos, want)
	}

	// A record after everything in each partition: once read, the
	// committed records before it are all there is.
	end := brokertest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		if err := end.ProduceSync(brokertest.Context(t), &kgo.Record{Topic: "out", Partition: p, Value: []byte("end")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got = readUntil(t, addr, "out", kgo.ReadCommitted(), func(rs []*kgo.Record) bool {
		n := 0
		for _, r := range rs {
			if string(r.Value) == "end" {
				n++
			}
		}
		return n == 2
	})
	var vs []string
	for _, r := range got {
		if v := string(r.Value); v != "end" {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	want := []string{
		"one-p0-0", "one-p0-1", "one-p0-2", "one-p1-0", "one-p1-1", "one-p1-2",
		"two-p0-3", "two-p0-4", "two-p1-3", "two-p1-4",
	}
	if !slices.Equal(vs, want) {
		t.Fatalf("committed output %q, want %q (nothing of the dead incarnation)", vs, want)
	}
	// The dead records are in the log, aborted.
	all := readUntil(t, addr, "out", kgo.ReadUncommitted(), atLeast(len(want)+4+2))
	dead := 0
	for _, r := range all {
		if strings.HasPrefix(string(r.Value), "dead-") {
			dead++
		}
	}
	if dead != 4 {
		t.Fatalf("%d records of the dead incarnation in the log, want 4 (aborted)", dead)
	}
}

// TestTransactionalAbortedByRebalance: a rebalance between the writes and
// the commit aborts the transaction: Commit returns connect.ErrAborted,
// nothing of it is ever visible, and the source reads again from the
// committed offsets.
func TestTransactionalAbortedByRebalance(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 2, nil)
	brokertest.CreateTopic(t, addr, "out", 2, nil)
	produceInput(t, addr, 0, 3)

	first := startIncarnation(t, addr, "tx-first")
	cp := first.process(t, 6, "aborted")

	// A second member joins the group; the first lets the rebalance
	// through in Poll and loses its tasks (a transactional source cannot
	// commit in a rebalance). Whatever it reads meanwhile goes into the
	// doomed transaction, as it would in the runtime.
	second := startIncarnation(t, addr, "tx-second")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			second.src.Poll(pctx) // its records are of no interest
			pcancel()
		}
	}()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		first.o.mu.Lock()
		lost := len(first.o.lost)
		first.o.mu.Unlock()
		if lost > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first member was never told of the rebalance")
		}
		first.pollOnce(t, "aborted", cp)
	}
	if err := first.sink.Commit(brokertest.Context(t), cp); !errors.Is(err, connect.ErrAborted) {
		t.Fatalf("Commit after a rebalance: %v, want connect.ErrAborted", err)
	}

	// The first member owns one partition now, read again from the start
	// (nothing was committed).
	retry := connect.Checkpoint{}
	for n := 0; n < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("read %d records again after the abort, want 3", n)
		}
		n += first.pollOnce(t, "retry", retry)
	}
	if len(retry) != 1 {
		t.Fatalf("read again from tasks %v, want one", retry)
	}
	task := slices.Collect(maps.Keys(retry))[0]
	if want := (engine.Positions{in("in", task): 3}); !retry[task].Equal(want) {
		t.Fatalf("read again up to %v, want %v", retry[task], want)
	}
	if err := first.sink.Commit(brokertest.Context(t), retry); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done

	end := brokertest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		if err := end.ProduceSync(brokertest.Context(t), &kgo.Record{Topic: "out", Partition: p, Value: []byte("end")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := readUntil(t, addr, "out", kgo.ReadCommitted(), func(rs []*kgo.Record) bool {
		n := 0
		for _, r := range rs {
			if string(r.Value) == "end" {
				n++
			}
		}
		return n == 2
	})
	var vs []string
	for _, r := range got {
		if v := string(r.Value); v != "end" {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	want := []string{fmt.Sprintf("retry-p%d-0", task), fmt.Sprintf("retry-p%d-1", task), fmt.Sprintf("retry-p%d-2", task)}
	if !slices.Equal(vs, want) {
		t.Fatalf("committed output %q, want %q: nothing of the aborted transaction", vs, want)
	}
	if offs := kadmOffsets(t, addr); len(offs) != 1 || offs[in("in", task)] != 3 {
		t.Fatalf("the group's offsets %v, want only in/%d at 3", offs, task)
	}
}

// pollOnce polls once, writes what it got as "<tag>-<value>" and notes
// its positions in cp; it returns how many records it got.
func (inc *incarnation) pollOnce(t *testing.T, tag string, cp connect.Checkpoint) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	bs, err := inc.src.Poll(ctx)
	cancel()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll: %v", err)
	}
	n := 0
	for _, b := range bs {
		out := make([]*connect.Record, len(b.Records))
		for i, r := range b.Records {
			out[i] = &connect.Record{Key: r.Key, Value: fmt.Appendf(nil, "%s-%s", tag, r.Value), Time: r.Time}
			if cp[b.Task] == nil {
				cp[b.Task] = engine.Positions{}
			}
			cp[b.Task][r.Pos.Input] = r.Pos.Next
		}
		if err := inc.sink.Write(brokertest.Context(t), b.Task, out); err != nil {
			t.Fatal(err)
		}
		n += len(b.Records)
	}
	return n
}

// kadmOffsets returns the offsets group g committed.
func kadmOffsets(t *testing.T, addr string) map[engine.Input]int64 {
	t.Helper()
	resp, err := kadm.NewClient(brokertest.Client(t, addr)).FetchOffsets(brokertest.Context(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	out := map[engine.Input]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			out[in(o.Topic, o.Partition)] = o.At
		}
	})
	return out
}

// TestPositionsTopic: a sink for a source that is not a topic (generated
// data, files) commits the records and the positions they cover in one
// transaction; a new incarnation with the same transactional id fences a
// crashed one, whose open transaction is aborted, and resumes at the
// positions committed last (issue 12: a datagen feed replayed into its
// topic after a kill -9, and the topic held 795,500 records, 787,500
// distinct).
func TestPositionsTopic(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "out", 2, nil)
	compact := "compact"
	brokertest.CreateTopic(t, addr, "out-positions", 1, map[string]*string{"cleanup.policy": &compact})
	ctx := brokertest.Context(t)
	cfg := topic.Config{Brokers: []string{addr}, Topic: "out", TransactionalID: "feed-out", PositionsTopic: "out-positions",
		PositionsScope: "feed/out", PositionsKey: "feed/out/host-1"}
	gen := engine.Input{Stream: "datagen:orders@2026-12-07T00:00:00Z"}
	recs := func(prefix string, from, to int) []*connect.Record {
		var out []*connect.Record
		for i := from; i < to; i++ {
			out = append(out, &connect.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", prefix, i), Time: time.Now().UnixMilli(),
				Pos: engine.Pos{Input: gen, Offset: int64(i), Next: int64(i + 1)}})
		}
		return out
	}
	first := newSink(t, cfg)
	if first.Delivery() != connect.ExactlyOnce {
		t.Fatal("a sink with a positions topic is not exactly once")
	}
	if pos, err := first.OpenTask(ctx, 0); err != nil || pos != nil {
		t.Fatalf("OpenTask of a new sink: %v, %v; want no positions", pos, err)
	}
	if err := first.Write(ctx, 0, recs("one", 0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx, connect.Checkpoint{0: {gen: 5}}); err != nil {
		t.Fatal(err)
	}
	// It writes more and dies before its commit.
	if err := first.Write(ctx, 0, recs("dead", 5, 8)); err != nil {
		t.Fatal(err)
	}

	second := newSink(t, cfg)
	pos, err := second.OpenTask(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (engine.Positions{gen: 5}); !pos.Equal(want) {
		t.Fatalf("the second incarnation resumes at %v, want %v", pos, want)
	}
	if err := first.Commit(ctx, connect.Checkpoint{0: {gen: 8}}); err == nil {
		t.Fatal("the fenced incarnation committed")
	}
	if err := second.Write(ctx, 0, recs("two", 5, 8)); err != nil {
		t.Fatal(err)
	}
	if err := second.Commit(ctx, connect.Checkpoint{0: {gen: 8}}); err != nil {
		t.Fatal(err)
	}
	// Another task of the sink, and another key: apart.
	if pos, err := newSink(t, cfg).OpenTask(ctx, 1); err != nil || pos != nil {
		t.Fatalf("OpenTask(1): %v, %v; want nothing", pos, err)
	}
	if pos, err := newSink(t, cfg).OpenTask(ctx, 0); err != nil || !pos.Equal(engine.Positions{gen: 8}) {
		t.Fatalf("OpenTask(0) after the second commit: %v, %v; want position 8", pos, err)
	}

	got := readUntil(t, addr, "out", kgo.ReadCommitted(), atLeast(8))
	var vs []string
	for _, r := range got {
		vs = append(vs, string(r.Value))
	}
	slices.Sort(vs)
	if want := []string{"one-0", "one-1", "one-2", "one-3", "one-4", "two-5", "two-6", "two-7"}; !slices.Equal(vs, want) {
		t.Fatalf("committed output %q, want %q (nothing of the dead incarnation)", vs, want)
	}
}

// TestPositionsTopicDelete: DeletePositions writes a tombstone for every
// key of the sink's scope, other processes' keys too, and none of another
// scope (another pipeline whose positions topic has the same name);
// OpenTask and StoredPositions then find none, and the records written
// stay. StoredPositions lists every process's, merged.
func TestPositionsTopicDelete(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "out", 1, nil)
	compact := "compact"
	brokertest.CreateTopic(t, addr, "out-positions", 1, map[string]*string{"cleanup.policy": &compact})
	ctx := brokertest.Context(t)
	scoped := func(scope, instance string) topic.Config {
		return topic.Config{Brokers: []string{addr}, Topic: "out", TransactionalID: "positions:" + scope + "/" + instance, PositionsTopic: "out-positions",
			PositionsScope: scope, PositionsKey: scope + "/" + instance}
	}
	cfg := func(instance string) topic.Config { return scoped("feed/out", instance) }
	gen := engine.Input{Stream: "datagen:orders@2026-12-07T00:00:00Z"}
	commitAt := func(s *topic.Sink, task connect.TaskID, next int64) {
		t.Helper()
		if _, err := s.OpenTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		rec := &connect.Record{Value: fmt.Appendf(nil, "v%d", next), Pos: engine.Pos{Input: gen, Offset: next - 1, Next: next}}
		if err := s.Write(ctx, task, []*connect.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, connect.Checkpoint{task: {gen: next}}); err != nil {
			t.Fatal(err)
		}
	}
	a := newSink(t, cfg("host-1"))
	commitAt(a, 0, 5)
	commitAt(a, 1, 7)
	b := newSink(t, cfg("host-2"))
	commitAt(b, 0, 9)
	other := newSink(t, scoped("fee/d/out", "host-1")) // another pipeline's
	commitAt(other, 0, 4)
	requireNoError(t, a.Close(ctx))
	requireNoError(t, b.Close(ctx))

	r := newSink(t, cfg("host-1"))
	stored, err := r.StoredPositions(ctx)
	requireNoError(t, err)
	if want := map[connect.TaskID]engine.Positions{0: {gen: 9}, 1: {gen: 7}}; !maps.EqualFunc(stored, want, engine.Positions.Equal) {
		t.Fatalf("StoredPositions = %v, want %v (both processes' keys, the furthest)", stored, want)
	}
	requireNoError(t, r.DeletePositions(ctx))
	if pos, err := newSink(t, scoped("fee/d/out", "host-1")).OpenTask(ctx, 0); err != nil || !pos.Equal(engine.Positions{gen: 4}) {
		t.Fatalf("another scope's positions after DeletePositions: %v, %v; want position 4", pos, err)
	}
	for _, instance := range []string{"host-1", "host-2"} {
		s := newSink(t, cfg(instance))
		if stored, err := s.StoredPositions(ctx); err != nil || len(stored) != 0 {
			t.Fatalf("%s after DeletePositions: StoredPositions = %v, %v", instance, stored, err)
		}
		if pos, err := s.OpenTask(ctx, 0); err != nil || pos != nil {
			t.Fatalf("%s after DeletePositions: OpenTask(0) = %v, %v; want none", instance, pos, err)
		}
	}
	if got := readUntil(t, addr, "out", kgo.ReadCommitted(), atLeast(4)); len(got) != 4 {
		t.Fatalf("the output holds %d records, want the 4 written", len(got))
	}
	// Positions committed after a reset are read back.
	c := newSink(t, cfg("host-1"))
	commitAt(c, 0, 2)
	if pos, err := newSink(t, cfg("host-1")).OpenTask(ctx, 0); err != nil || !pos.Equal(engine.Positions{gen: 2}) {
		t.Fatalf("after a new commit: OpenTask(0) = %v, %v; want position 2", pos, err)
	}
	// A sink without a positions topic has none to list or delete.
	plain := newSink(t, topic.Config{Brokers: []string{addr}, Topic: "out"})
	if stored, err := plain.StoredPositions(ctx); err != nil || len(stored) != 0 {
		t.Fatalf("an at-least-once sink's StoredPositions: %v, %v", stored, err)
	}
	requireNoError(t, plain.DeletePositions(ctx))
}

func requireNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
