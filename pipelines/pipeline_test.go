package pipelines_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/pipelines"
)

func startBroker(t testing.TB) string { return brokertest.Start(t) }

func createTopic(t testing.TB, addr, topic string, partitions int32) {
	brokertest.CreateTopic(t, addr, topic, partitions, nil)
}

func produce(t testing.TB, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readCommitted reads topic with isolation read_committed until want
// records arrived or the deadline passed.
func readCommitted(t testing.TB, addr, topic string, want int, deadline time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestTopicToTopicExactlyOnce(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "in", 4)
	const n = 2000
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Topic: "in", Key: []byte(fmt.Sprint(i % 37)), Value: []byte(fmt.Sprintf("rec-%d", i))})
	}
	produce(t, addr, recs...)

	p := pipelines.New("upper", pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), CheckpointInterval: 100 * time.Millisecond})
	in := pipelines.FromTopic(p, "in", engine.String(), engine.String())
	up := engine.Map(in, func(r engine.Record[string, string]) (string, error) { return strings.ToUpper(r.Value), nil })
	pipelines.ToTopic(up, "out", engine.String(), engine.String())

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() { defer wg.Done(); runErr = p.Run(ctx) }()
	got := readCommitted(t, addr, "out", n, 30*time.Second)
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("REC-%d", i)]; c != 1 {
			t.Errorf("REC-%d seen %d times", i, c)
		}
	}
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
}
