package pipelines_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
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

// A partition that ends with a transaction marker is committed at its end,
// marker included: the group shows no lag once everything is read (issue
// 12: "LAG 1 while idle"), and a stage closing its windows at the end of
// its input sees the end.
func TestMarkersAreCommittedPositions(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "in", 1)
	cl := brokertest.Client(t, addr, kgo.TransactionalID("feeder"), kgo.DefaultProduceTopic("in"))
	ctx := brokertest.Context(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := pipelines.New("copy", pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), Once: true})
	in := pipelines.FromTopic(p, "in", engine.String(), engine.String())
	pipelines.ToFile(in, filesink.Config{Dir: dir}, engine.String(), engine.String())
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(brokertest.Client(t, addr))
	lag, err := adm.Lag(ctx, "copy")
	if err != nil {
		t.Fatal(err)
	}
	l := lag["copy"].Lag.TotalByTopic()["in"]
	if l.Lag != 0 {
		t.Fatalf("the group's lag after reading everything: %+v, want 0 (the commit marker is past the last record)", l)
	}
}
