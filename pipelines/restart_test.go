package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
)

// flaky fails every few commits, as a sink whose server goes away.
type flaky struct {
	connect.Sink
	commits, failed *atomic.Int64
	every           int64
}

var errFlaky = errors.New("flaky: the server went away")

func (f flaky) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if f.commits.Add(1)%f.every == 0 {
		f.failed.Add(1)
		return errFlaky
	}
	return f.Sink.Commit(ctx, cp)
}

// A sink that fails now and then makes its stage restart from its last
// checkpoint: the output stays exactly once.
func TestFailingSinkRestartsTheStage(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "clicks", 2)
	dir := t.TempDir()
	var clicks []click
	var recs []*kgo.Record
	for i := 0; i < 4000; i++ {
		c := click{User: fmt.Sprint("u", i%11), Page: fmt.Sprint("/p", i%5), TS: int64(i) * 25}
		clicks = append(clicks, c)
		v, _ := json.Marshal(c)
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(c.User), Value: v})
	}
	produce(t, addr, recs...)
	flush(t, addr, "clicks", 2, 4000*25+20000)
	want := expectedCounts(clicks, 4000*25+20000)

	var commits, failed atomic.Int64
	p := pipelines.New("pages", pipelines.Options{Brokers: []string{addr}, CheckpointInterval: 20 * time.Millisecond, MaxRestarts: 1000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	in := pipelines.FromTopic(p, "clicks", engine.String(), engine.JSON[click]())
	timed := engine.WithTime(in, func(r engine.Record[string, click]) (int64, error) { return r.Value.TS, nil })
	byPage := engine.KeyBy(timed, func(r engine.Record[string, click]) string { return r.Value.Page }, engine.Name("by-page"))
	counts := engine.Aggregate(engine.Window(byPage, engine.Hopping(10*time.Second, 5*time.Second), engine.Name("counts")), engine.Count[click]())
	rows := engine.Map(counts, func(r engine.Record[engine.WindowKey[string], int64]) (windowRow, error) {
		return windowRow{r.Key, r.Value}, nil
	})
	pipelines.ToSink(rows, "flaky-files", func() (connect.Sink, error) {
		s, err := filesink.New(filesink.Config{Dir: dir})
		return flaky{s, &commits, &failed, 2}, err
	}, engine.JSON[engine.WindowKey[string]](), engine.JSON[windowRow]())

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() { defer wg.Done(); err = p.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for len(readRows(t, dir)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if failed.Load() == 0 {
		t.Fatalf("%d commits, none failed", commits.Load())
	}
	t.Logf("%d commits, %d failed", commits.Load(), failed.Load())
	got := map[engine.WindowKey[string]]int64{}
	for _, r := range readRows(t, dir) {
		if _, dup := got[r.Key]; dup {
			t.Errorf("window %+v written twice", r.Key)
		}
		got[r.Key] = r.Count
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%+v: got %d, want %d", k, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
}
