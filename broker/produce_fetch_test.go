package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/runnel-io/runnel/broker/store"
)

func newClient(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.Addr()),
		kgo.AllowAutoTopicCreation(),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Produce with a real client (auto-creating the topic), consume it back,
// check every record's key, value, headers and offset.
func TestProduceConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		codec := codec
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			t.Parallel()
			b := startBroker(t)
			ctx := ctxT(t)
			const topic, n = "round-trip", 500
			prod := newClient(t, b, kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic))
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				r := &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprint("value-", i)),
					Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}}
				prod.Produce(ctx, r, func(r *kgo.Record, err error) {
					defer wg.Done()
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			wg.Wait()

			cons := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			seen := map[string]bool{}
			for len(seen) < n {
				fs := cons.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					t.Fatal(err)
				}
				fs.EachRecord(func(r *kgo.Record) {
					if string(r.Value) != "value-"+string(r.Headers[0].Value) {
						t.Fatalf("record %d: value %q, header %q", r.Offset, r.Value, r.Headers[0].Value)
					}
					if seen[string(r.Value)] {
						t.Fatalf("duplicate %q at offset %d", r.Value, r.Offset)
					}
					seen[string(r.Value)] = true
				})
			}
		})
	}
}

// A fetch at an offset out of range answers OFFSET_OUT_OF_RANGE at once,
// whatever its max wait (kafka-go's Conn sends one near MaxInt32, and hung
// until it ran out): a partition error ends the long poll, as in Kafka.
func TestFetchOutOfRangeDoesNotWait(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	const topic = "out-of-range"
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic))
	if err := cl.ProduceSync(ctx, kgo.StringRecord("one")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{5, -7} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 12, 1<<31-1, 1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = off, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		// ctxT's deadline (30 s) is far below the max wait: a fetch that
		// waits it out fails the test.
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("fetch at %d: %v", off, err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
			t.Fatalf("fetch at %d: error code %d, want OFFSET_OUT_OF_RANGE", off, code)
		}
	}
}

// A consumer waiting at the end gets a record produced later without
// polling in a loop: the fetch long poll wakes on the append.
func TestFetchLongPollWakesOnAppend(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	const topic = "long-poll"
	adm := kadm.NewClient(newClient(t, b))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cons := newClient(t, b, kgo.ConsumeTopics(topic), kgo.FetchMaxWait(20*time.Second))
	got := make(chan string, 1)
	go func() {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got <- string(r.Value) })
	}()
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic))
	// The consumer may not have started its fetch yet; either way the
	// record must arrive long before the 20 s max wait.
	if err := prod.ProduceSync(ctx, kgo.StringRecord("wake")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "wake" {
			t.Fatalf("got %q", v)
		}
	case <-ctx.Done():
		t.Fatal("record never arrived")
	}
}

func TestAdminTopicsAndOffsets(t *testing.T) {
	t.Parallel()
	b := startBroker(t, StoreOptions(&store.Options{AutoCreateTopics: false}))
	ctx := ctxT(t)
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)

	resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "admin-a")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "admin-a"); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "admin-b"); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("replication factor 3: %v", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.mss": kadm.StringPtr("1")}, "admin-b"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "bad/name"); !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v", err)
	}
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := md.Topics["admin-a"]; !ok || len(d.Partitions) != 3 {
		t.Fatalf("metadata: %+v", md.Topics)
	}
	if _, ok := md.Topics["admin-b"]; ok {
		t.Fatal("a failed create left a topic behind")
	}

	// Offsets: produce 10 records with known timestamps to partition 1.
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Topic: "admin-a", Partition: 1, Key: []byte("k"), Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("admin-a", 1); o.Offset != 0 {
		t.Fatalf("start offset %+v", o)
	}
	if o, _ := ends.Lookup("admin-a", 1); o.Offset != 10 {
		t.Fatalf("end offset %+v", o)
	}
	byTime, err := adm.ListOffsetsAfterMilli(ctx, base.Add(4500*time.Millisecond).UnixMilli(), "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := byTime.Lookup("admin-a", 1); o.Offset != 5 || o.Timestamp != base.Add(5*time.Second).UnixMilli() {
		t.Fatalf("offset by time: %+v", o)
	}

	if _, err := adm.DeleteTopic(ctx, "admin-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopic(ctx, "admin-a"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", err)
	}
}

// Bad batches get Kafka's error codes and leave the log as it was.
func TestProduceRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.ProducerBatchMaxBytes(2<<20), kgo.DefaultProduceTopic("limits"))
	big := make([]byte, 1100<<10) // over max.message.bytes (1 MiB), incompressible
	rand.Read(big)
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: big}).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("oversized batch: %v", err)
	}
	if err := prod.ProduceSync(ctx, kgo.StringRecord("fits")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	l, err := b.Store().Partition("limits", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, end := l.Offsets(); end != 1 {
		t.Fatalf("log end %d after one good and one rejected batch", end)
	}
}

// A client pinned to Kafka 0.10's protocol (Fetch v2, message format v1)
// reads what current producers wrote.
func TestFetchOldVersionsDownConvert(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.DefaultProduceTopic("old-fetch"), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	for i := 0; i < 20; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []*kversion.Versions{kversion.V0_10_0(), kversion.V0_9_0()} {
		cons := newClient(t, b, kgo.MaxVersions(v), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"old-fetch": {0: kgo.NewOffset().At(0)}}))
		var got []string
		for len(got) < 20 {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			for _, r := range fs.Records() {
				if want := fmt.Sprint("v", r.Offset); string(r.Value) != want || string(r.Key) != fmt.Sprint(r.Offset) {
					t.Fatalf("offset %d: key %q value %q, want value %q", r.Offset, r.Key, r.Value, want)
				}
				got = append(got, string(r.Value))
			}
		}
		if len(got) != 20 {
			t.Fatalf("read %d records", len(got))
		}
	}
}
