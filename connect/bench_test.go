package connect_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/sources/topic"
)

// BenchmarkE2E measures the runtime end to end: a connect.Runner reads a
// topic of the built-in broker (in this process, over loopback) through
// the topic source and writes to a sink that drops everything. Its peer is
// franz-go's consumer reading the same topic into a counting loop
// (kgo-consume), so that the ratio of the two shows what the runtime adds
// to fetching.
//
// The topic has 4 partitions holding e2eRecords bids, produced once per
// run: a key of 8 bytes (the auction) and a value of 32 bytes (the
// engine benchmarks' bid encoding), with the bid's time as the record
// timestamp. The records are keyed by auction, so the topic is partitioned
// by the key the windows group by, and the stateful graph reads it in one
// stage (a KeyBy would make two: see Graph.Stages).
//
//	stateless    From (the price) -> Map (to cents) -> To("null")
//	tumbling     From -> Window(tumbling 10s, delay 1s) -> Aggregate(Count) -> To("null")
//	kgo-consume  a consumer in a group, PollFetches, count
//
// An op is one read of the whole topic, in a new consumer group from the
// earliest offsets; the clock runs from the start of the consumer (the
// group join included, for both) until the last record was processed
// (Stats().In) or counted. Shutting down (the final checkpoint, leaving
// the group) is not timed. "records/s" and MB/s are of the topic's
// records (key and value bytes); "first-ms" is how long the first record
// took (joining the group, the first fetch), part of the timed op.
//
//	go test -run '^$' -bench E2E -benchtime 3x -count 6 ./connect > e2e.txt
//	benchstat e2e.txt
func BenchmarkE2E(b *testing.B) {
	addr := e2eBroker(b)
	e2eProduce(b, addr)
	n := 0
	group := func() string { n++; return fmt.Sprintf("bench-%d", n) }
	var first time.Duration // summed over the iterations of a sub-benchmark
	report := func(b *testing.B) {
		b.SetBytes(e2eRecords * (8 + bidSize))
		b.ReportMetric(float64(b.N)*e2eRecords/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(first.Seconds()*1000/float64(b.N), "first-ms")
		first = 0
	}
	b.Run("kgo-consume", func(b *testing.B) {
		for b.Loop() {
			first += e2eConsume(b, addr, group())
		}
		report(b)
	})
	b.Run("stateless", func(b *testing.B) {
		for b.Loop() {
			sink := &nullSink{}
			_, d := e2eRun(b, addr, group(), statelessGraph(), sink, nil)
			first += d
			if got := sink.records.Load(); got != e2eRecords {
				b.Fatalf("the sink got %d records, want %d", got, e2eRecords)
			}
		}
		report(b)
	})
	b.Run("tumbling", func(b *testing.B) {
		for b.Loop() {
			sink := &nullSink{}
			st, d := e2eRun(b, addr, group(), tumblingGraph(), sink, &memState{})
			first += d
			if st.Late != 0 {
				b.Fatalf("%d late records; the delay covers the disorder of the events", st.Late)
			}
			if sink.records.Load() == 0 {
				b.Fatal("no window closed")
			}
		}
		report(b)
	})
}

const (
	e2eRecords    = 1_000_000
	e2ePartitions = 4
	e2eTopic      = "bids"
	e2eAuctions   = 10_000
	e2eDisorder   = 500 // ms
	e2eStart      = 1_700_000_000_000
	bidSize       = 32
)

// e2eBroker starts a broker on a temporary directory, closed when b ends.
func e2eBroker(b *testing.B) string {
	b.Helper()
	br, err := broker.New(broker.DataDir(b.TempDir()), broker.ListenAddr("127.0.0.1:0"),
		broker.GroupInitialRebalanceDelay(0), broker.Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := br.Close(); err != nil {
			b.Error(err)
		}
	})
	return br.Addr()
}

// e2eProduce creates the topic and produces the bids: about one per
// millisecond, each up to e2eDisorder ms behind, on auctions drawn from a
// Zipf distribution.
func e2eProduce(b *testing.B, addr string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(e2eRecords))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	// The bids are from 2023: without retention.ms=-1 the broker's
	// janitor deletes them (by time) while they are read.
	retention := "-1"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, e2ePartitions, 1, map[string]*string{"retention.ms": &retention}, e2eTopic); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	auctions := rand.NewZipf(r, 1.1, 10, e2eAuctions-1)
	var failed atomic.Pointer[error]
	for i := range e2eRecords {
		ts := e2eStart + int64(i) - r.Int64N(e2eDisorder+1)
		auction := 1000 + int64(auctions.Uint64())
		value := make([]byte, bidSize)
		binary.LittleEndian.PutUint64(value[0:], uint64(auction))
		binary.LittleEndian.PutUint64(value[8:], uint64(r.Int64N(100_000)))    // bidder
		binary.LittleEndian.PutUint64(value[16:], uint64(100+r.Int64N(1<<20))) // price
		binary.LittleEndian.PutUint64(value[24:], uint64(ts))
		rec := &kgo.Record{Topic: e2eTopic, Key: binary.BigEndian.AppendUint64(nil, uint64(auction)), Value: value, Timestamp: time.UnixMilli(ts)}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}

// e2eConsume reads the topic with franz-go in the group and counts. It
// returns how long the first record took.
func e2eConsume(b *testing.B, addr, group string) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(e2eTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// as the topic source reads
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var first time.Duration
	var records, bytes int64
	for records < e2eRecords {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			records++
			bytes += int64(len(r.Key) + len(r.Value))
		})
		if first == 0 && records > 0 {
			first = time.Since(start)
		}
	}
	b.StopTimer()
	cl.Close()
	if records != e2eRecords || bytes != e2eRecords*(8+bidSize) {
		b.Fatalf("read %d records of %d bytes, want %d of %d", records, bytes, e2eRecords, e2eRecords*(8+bidSize))
	}
	b.StartTimer()
	return first
}

// e2eRun runs g's only stage over the topic in the group until the runner
// has processed every record, then stops it (untimed). It returns the
// runner's stats and how long the first record took (to a millisecond).
func e2eRun(b *testing.B, addr, group string, g *engine.Graph, sink *nullSink, state connect.StateStore) (connect.Stats, time.Duration) {
	b.Helper()
	src, err := topic.New(topic.Config{Brokers: []string{addr}, Topics: []string{e2eTopic}, Group: group,
		StartAt: "earliest", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	r, err := connect.NewRunner(connect.StageConfig{Graph: g, Source: src, Sinks: map[string]connect.Sink{"null": sink},
		State: state, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(ctx) }()
	deadline := start.Add(time.Minute)
	var first time.Duration
	for in := int64(0); in < e2eRecords; in = r.Stats().In {
		if first == 0 && in > 0 {
			first = time.Since(start)
		}
		select {
		case err := <-done:
			b.Fatalf("the runner stopped after %d records: %v", r.Stats().In, err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("the runner processed %d records of %d in a minute", r.Stats().In, e2eRecords)
		}
	}
	b.StopTimer()
	defer b.StartTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	st := r.Stats()
	if st.In != e2eRecords {
		b.Fatalf("the runner processed %d records, want %d", st.In, e2eRecords)
	}
	return st, first
}

// priceSerde decodes the price of a bid, all that Map needs; it does not
// encode.
type priceSerde struct{}

func (priceSerde) Encode(int64) ([]byte, error) { return nil, errors.New("priceSerde only decodes") }
func (priceSerde) Decode(b []byte) (int64, error) {
	if len(b) != bidSize {
		return 0, fmt.Errorf("a bid is %d bytes, not %d", bidSize, len(b))
	}
	return int64(binary.LittleEndian.Uint64(b[16:])), nil
}

// auctionSerde is the record key: the auction, 8 bytes big endian.
type auctionSerde struct{}

func (auctionSerde) Encode(a int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, uint64(a)), nil
}
func (auctionSerde) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("an auction key is 8 bytes, not %d", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// windowKeySerde encodes a window's key as | auction | start | end |, 8
// bytes each.
type windowKeySerde struct{}

func (windowKeySerde) Encode(k engine.WindowKey[int64]) ([]byte, error) {
	p := make([]byte, 0, 24)
	p = binary.LittleEndian.AppendUint64(p, uint64(k.Key))
	p = binary.LittleEndian.AppendUint64(p, uint64(k.Start))
	return binary.LittleEndian.AppendUint64(p, uint64(k.End)), nil
}
func (windowKeySerde) Decode([]byte) (engine.WindowKey[int64], error) {
	return engine.WindowKey[int64]{}, errors.New("windowKeySerde only encodes")
}

// int64Serde is an int64 in 8 bytes, little endian: the outputs' values.
type int64Serde struct{}

func (int64Serde) Encode(n int64) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, uint64(n)), nil
}
func (int64Serde) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("an int64 is 8 bytes, not %d", len(b))
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

var (
	_ engine.Serde[int64]                   = priceSerde{}
	_ engine.Serde[int64]                   = int64Serde{}
	_ engine.Serde[int64]                   = auctionSerde{}
	_ engine.Serde[engine.WindowKey[int64]] = windowKeySerde{}
)

func statelessGraph() *engine.Graph {
	g := engine.NewGraph("e2e-stateless")
	prices := engine.From(g, e2eTopic, auctionSerde{}, engine.Serde[int64](priceSerde{}))
	cents := engine.Map(prices, func(r engine.Record[int64, int64]) (int64, error) { return r.Value * 100, nil })
	engine.To(cents, "null", engine.Serde[int64](auctionSerde{}), engine.Serde[int64](int64Serde{}))
	return g
}

func tumblingGraph() *engine.Graph {
	g := engine.NewGraph("e2e-tumbling")
	bids := engine.From(g, e2eTopic, auctionSerde{}, engine.Bytes())
	spec := engine.Tumbling(10 * time.Second).WithDelay(time.Second)
	counts := engine.Aggregate(engine.Window(bids, spec), engine.Count[[]byte](), engine.Name("counts"))
	engine.To(counts, "null", engine.Serde[engine.WindowKey[int64]](windowKeySerde{}), engine.Serde[int64](int64Serde{}))
	return g
}

// nullSink drops what it is given and counts it.
type nullSink struct {
	records atomic.Int64
}

var _ connect.Sink = (*nullSink)(nil)

func (*nullSink) Delivery() connect.Delivery { return connect.AtLeastOnce }
func (*nullSink) OpenTask(context.Context, connect.TaskID) (engine.Positions, error) {
	return nil, nil
}
func (s *nullSink) Write(_ context.Context, _ connect.TaskID, recs []*connect.Record) error {
	s.records.Add(int64(len(recs)))
	return nil
}
func (*nullSink) Commit(context.Context, connect.Checkpoint) error { return nil }
func (*nullSink) CloseTask(context.Context, connect.TaskID) error  { return nil }
func (*nullSink) Close(context.Context) error                      { return nil }

// memState is a StateStore in memory: the last two snapshots of each task.
type memState struct {
	mu    sync.Mutex
	snaps map[string]map[connect.TaskID][]connect.Snapshot
}

var _ connect.StateStore = (*memState)(nil)

func (m *memState) Load(_ context.Context, stage string, tasks []connect.TaskID) (map[connect.TaskID][]connect.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[connect.TaskID][]connect.Snapshot{}
	for _, id := range tasks {
		if s := m.snaps[stage][id]; len(s) > 0 {
			out[id] = append([]connect.Snapshot(nil), s...)
		}
	}
	return out, nil
}

func (m *memState) Save(_ context.Context, stage string, snaps map[connect.TaskID]connect.Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snaps == nil {
		m.snaps = map[string]map[connect.TaskID][]connect.Snapshot{}
	}
	if m.snaps[stage] == nil {
		m.snaps[stage] = map[connect.TaskID][]connect.Snapshot{}
	}
	for id, s := range snaps {
		kept := append(m.snaps[stage][id], s)
		if len(kept) > 2 {
			kept = kept[len(kept)-2:]
		}
		m.snaps[stage][id] = kept
	}
	return nil
}
