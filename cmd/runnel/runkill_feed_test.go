package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/internal/proctest"
)

// feedYAML generates orders into a topic of the embedded broker: the
// quickstart's feed, paced so that a kill finds it writing.
const feedYAML = `broker:
  data_dir: ${DIR}/data
checkpoint_interval: 100ms
inputs:
  orders: {datagen: {preset: orders, count: 3000, rate: 4000}}
outputs:
  orders: {topic: {topic: orders}}
pipelines:
  feed:
    from: orders
    steps:
      - to: orders
`

// Issue 12: a source feeding a topic (datagen → topic) was at least once:
// after a kill -9 the quickstart's topic held 795,500 records, 787,500
// distinct. Now each checkpoint is one Kafka transaction with the
// source's positions (KIP-618). runnel run (embedded broker and all) is
// killed 10 times while it writes, then run --once finishes: the topic
// holds every order from o-0 up once, read_committed.
func TestKillFeedExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills runnel run 10 times")
	}
	t.Parallel()
	dir := t.TempDir()
	file := writeFile(t, dir, "feed.yaml", feedYAML)
	env := append(os.Environ(), "RUNNEL_TEST_RUN_MAIN=1", "DIR="+dir)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 3))
	logs := &proctest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The feed's position, as its offsets file says after each commit.
	offsets := filepath.Join(dir, "data", "offsets", "feed.orders.json")
	position := func() int64 {
		var o struct{ Next int64 }
		if b, err := os.ReadFile(offsets); err == nil {
			json.Unmarshal(b, &o)
		}
		return o.Next
	}
	for i := range 10 {
		before := position()
		cmd := exec.Command(os.Args[0], "run", "-q", "--log-level", "error", file)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		// Killed while it writes: once it committed in this run, then at
		// a random moment within 500 ms (or when it finished by itself).
		for position() == before {
			select {
			case <-exited:
			case <-ctx.Done():
				t.Fatalf("run %d committed nothing", i)
			case <-time.After(10 * time.Millisecond): // polling the offsets file
				continue
			}
			break
		}
		select {
		case <-exited:
		case <-time.After(time.Duration(rnd.IntN(500)) * time.Millisecond):
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill %d: %v", i, err)
			}
			<-exited
		}
	}
	once := exec.CommandContext(ctx, os.Args[0], "run", "--once", "-q", file)
	out := &proctest.Buffer{}
	once.Env, once.Stdout, once.Stderr = env, out, logs
	if err := once.Run(); err != nil {
		t.Fatalf("run --once: %v\n%s", err, out)
	}

	// Read the topic from the data directory, read_committed.
	b, err := broker.New(broker.DataDir(filepath.Join(dir, "data", "broker")), broker.ListenAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ends, err := kadm.NewClient(kafkaClient(t, b.Addr())).ListCommittedOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkaClient(t, b.Addr(), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	seen := map[string]int{}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= left[r.Partition] {
				delete(left, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			var o struct {
				ID string `json:"order_id"`
			}
			if err := json.Unmarshal(r.Value, &o); err != nil {
				t.Fatalf("%s: %v", r.Value, err)
			}
			seen[o.ID]++
		})
	}
	dups := 0
	for id, n := range seen {
		if n > 1 {
			dups++
			if dups <= 5 {
				t.Errorf("order %s is in the topic %d times", id, n)
			}
		}
	}
	n := len(seen)
	for i := range n {
		if seen[fmt.Sprintf("o-%d", i)] == 0 {
			t.Fatalf("order o-%d is missing from the %d orders of the topic", i, n)
		}
	}
	if dups > 0 || n < 3000 {
		t.Fatalf("%d orders, %d of them more than once; want at least 3000, each once", n, dups)
	}
	t.Logf("%d orders, each once, after 10 kills", n)
}
