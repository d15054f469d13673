package broker

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The benchmarks compare runnel with franz-go's kfake, an in-memory fake
// Kafka cluster, as a peer: the same franz-go client, over loopback, with
// acks=all and no compression. Runnel is durable (the ack waits for the
// fsync); kfake keeps everything in memory, so it is the cost of the
// protocol and nothing else.
//
// Each benchmark runs both peers with the same workload in the same
// function and reports, per peer, "<peer>-rec/s" and "<peer>-MB/s" (of
// record values), and the ratio "x-kfake" (runnel rec/s over kfake
// rec/s). An op is one record; ns/op covers both peers' timed parts, so
// read the per-peer metrics instead (and no b.SetBytes or ReportAllocs:
// they would mix the peers and the client). Both peers run side by side
// and take turns on chunks of the records (AB BA AB ...), so that other
// load on the machine hits both alike.
//
//	go test -run '^$' -bench 'BenchmarkProduce|BenchmarkConsume' -benchtime 3s -count 6 ./broker > new.txt
//	benchstat new.txt

// benchPeer starts one broker of a kind and returns its address and how to
// stop it.
type benchPeer struct {
	name  string
	start func(b *testing.B) (addr string, stop func())
}

var benchPeers = []benchPeer{
	{"runnel", func(b *testing.B) (string, func()) {
		br, err := New(ListenAddr("127.0.0.1:0"), DataDir(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		return br.Addr(), func() {
			if err := br.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"kfake", func(b *testing.B) (string, func()) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			b.Fatal(err)
		}
		return c.ListenAddrs()[0], c.Close
	}},
}

// benchSizes are the value sizes; benchPartitions the partition counts.
var (
	benchSizes = []struct {
		name string
		size int
	}{{"100B", 100}, {"16KiB", 16 << 10}}
	benchPartitions = []int{1, 4}
)

// benchConsumeBytes bounds the values prefilled for a consume benchmark;
// the consumer reads them as many times as b.N needs. At least
// benchConsumeMinBytes are prefilled.
const (
	benchConsumeBytes    = 64 << 20
	benchConsumeMinBytes = 8 << 20
)

func benchClient(b *testing.B, addr string, opts ...kgo.Opt) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		// Plain acks=all producers on both peers: one produce request
		// in flight per broker (kgo's default without idempotence).
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Every record has the same value: compressed, a batch would
		// shrink to almost nothing and measure the codec.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedBytes(32 << 20), // the in-flight window
		kgo.MaxBufferedRecords(1 << 20),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return cl
}

// benchTopic creates topic with the given partitions.
func benchTopic(b *testing.B, cl *kgo.Client, topic string, partitions int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		b.Fatal(err)
	}
}

// benchProduce produces n records with value to topic and waits for every
// ack.
func benchProduce(b *testing.B, cl *kgo.Client, topic string, n int, value []byte) {
	b.Helper()
	ctx := context.Background()
	var failed atomic.Int64
	var firstErr atomic.Value
	cb := func(_ *kgo.Record, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, cb)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d records failed: %v", f, n, firstErr.Load())
	}
}

// benchValue is a value of size bytes of noise; every record of a
// benchmark carries the same one.
func benchValue(size int) []byte {
	v := make([]byte, size)
	x := uint32(2463534242)
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = byte(x)
	}
	return v
}

// benchCompare starts both peers, calls setup (untimed) for each, then
// has each peer's run handle b.N records in chunks, alternating the peers
// (AB BA AB ...) so that a burst of load on the machine hits both alike.
// run returns the timed part of its work; it starts and stops the
// benchmark timer around it. It reports the per-peer rates and the ratio.
func benchCompare(b *testing.B, size int, setup func(b *testing.B, addr string) (run func(n int) time.Duration)) {
	b.StopTimer()
	runs := make([]func(int) time.Duration, len(benchPeers))
	for i, p := range benchPeers {
		addr, stop := p.start(b)
		defer stop()
		runs[i] = setup(b, addr)
	}
	took := make([]time.Duration, len(benchPeers))
	chunks := min(b.N, 8)
	for c := 0; c < chunks; c++ {
		n := b.N/chunks + btoi(c < b.N%chunks)
		for j := range benchPeers {
			i := j
			if c%2 == 1 {
				i = len(benchPeers) - 1 - j
			}
			runtime.GC()
			took[i] += runs[i](n)
		}
	}
	rates := map[string]float64{}
	for i, p := range benchPeers {
		rates[p.name] = float64(b.N) / took[i].Seconds()
		b.ReportMetric(rates[p.name], p.name+"-rec/s")
		b.ReportMetric(rates[p.name]*float64(size)/1e6, p.name+"-MB/s")
	}
	b.ReportMetric(rates["runnel"]/rates["kfake"], "x-kfake")
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// BenchmarkProduce: one client producing records asynchronously (the
// window is MaxBufferedBytes), acks=all, linger 1ms, until every record
// is acknowledged.
func BenchmarkProduce(b *testing.B) {
	for _, sz := range benchSizes {
		for _, parts := range benchPartitions {
			b.Run(fmt.Sprintf("%s/p%d", sz.name, parts), func(b *testing.B) {
				value := benchValue(sz.size)
				benchCompare(b, sz.size, func(b *testing.B, addr string) func(int) time.Duration {
					cl := benchClient(b, addr)
					b.Cleanup(cl.Close)
					benchTopic(b, cl, "bench", parts)
					benchProduce(b, cl, "bench", 100, value) // connections and metadata
					return func(n int) time.Duration {
						b.StartTimer()
						start := time.Now()
						benchProduce(b, cl, "bench", n, value)
						d := time.Since(start)
						b.StopTimer()
						return d
					}
				})
			})
		}
	}
}

// BenchmarkConsume: a topic prefilled with up to benchConsumeBytes of
// values, read from the start by a new direct consumer (ConsumePartitions)
// as many times as it takes to read b.N records. The prefill switches
// partition every 128 KiB and is at least 8 MiB, so that every partition
// has data: a new direct consumer may send its first fetch for only some
// of its partitions, which then waits FetchMaxWait (5s) if they are empty.
func BenchmarkConsume(b *testing.B) {
	for _, sz := range benchSizes {
		for _, parts := range benchPartitions {
			b.Run(fmt.Sprintf("%s/p%d", sz.name, parts), func(b *testing.B) {
				value := benchValue(sz.size)
				prefill := min(max(b.N, benchConsumeMinBytes/sz.size), benchConsumeBytes/sz.size)
				benchCompare(b, sz.size, func(b *testing.B, addr string) func(int) time.Duration {
					cl := benchClient(b, addr, kgo.RecordPartitioner(kgo.UniformBytesPartitioner(128<<10, false, false, nil)))
					benchTopic(b, cl, "bench", parts)
					benchProduce(b, cl, "bench", prefill, value)
					cl.Close()
					from := map[int32]kgo.Offset{}
					for p := 0; p < parts; p++ {
						from[int32(p)] = kgo.NewOffset().At(0)
					}
					return func(n int) time.Duration {
						var d time.Duration
						for n > 0 {
							pass := min(n, prefill)
							d += benchConsumePass(b, addr, from, pass, len(value))
							n -= pass
						}
						return d
					}
				})
			})
		}
	}
}

// benchConsumePass reads n records from the offsets of from with a new
// client and returns how long it took, client creation included.
func benchConsumePass(b *testing.B, addr string, from map[int32]kgo.Offset, n, size int) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.StartTimer()
	start := time.Now()
	cl := benchClient(b, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"bench": from}))
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			b.Fatalf("read %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("fetch %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != size {
				b.Fatalf("record of %d bytes, want %d", len(r.Value), size)
			}
			got++
		})
	}
	d := time.Since(start)
	b.StopTimer()
	cl.Close()
	return d
}
