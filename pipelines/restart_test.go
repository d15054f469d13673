package pipelines_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

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
	calm            *atomic.Bool // set: no more failures (the test stops)
}

var errFlaky = errors.New("flaky: the server went away")

func (f flaky) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if f.commits.Add(1)%f.every == 0 && !f.calm.Load() {
		f.failed.Add(1)
		return errFlaky
	}
	return f.Sink.Commit(ctx, cp)
}

// A sink that fails now and then makes its stage restart from its last
// checkpoint: the output stays exactly once.
func TestFailingSinkRestartsTheStage(t *testing.T) {
	addr := startBroker(t)
	dir := t.TempDir()
	want := clickInput(t, addr, 2, 4000, 11, 5, 25)

	var commits, failed atomic.Int64
	var calm atomic.Bool
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
		return flaky{s, &commits, &failed, 2, &calm}, err
	}, engine.JSON[engine.WindowKey[string]](), engine.JSON[windowRow]())

	// The commit of the stop must not fail: Run would return its error.
	runUntil(t, p, func() bool {
		done := len(readRows(t, dir)) >= len(want)
		calm.Store(done)
		return done
	})
	if failed.Load() == 0 {
		t.Fatalf("%d commits, none failed", commits.Load())
	}
	t.Logf("%d commits, %d failed", commits.Load(), failed.Load())
	checkCounts(t, dir, want)
}
