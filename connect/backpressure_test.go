package connect_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
)

// gatedSink blocks every Write until the test lets it through.
type gatedSink struct {
	*connecttest.Sink
	gate    chan struct{}
	writing atomic.Int64 // Writes entered
}

func (s *gatedSink) Write(ctx context.Context, task connect.TaskID, recs []*connect.Record) error {
	s.writing.Add(1)
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Sink.Write(ctx, task, recs)
}

// countingSource counts Polls.
type countingSource struct {
	*connecttest.Source
	polls atomic.Int64
}

func (s *countingSource) Poll(ctx context.Context) ([]connect.Batch, error) {
	s.polls.Add(1)
	return s.Source.Poll(ctx)
}

// TestSlowSinkStopsTheSource: while the sink's Write blocks, the source is
// not polled: what is read is bounded by one poll, and a slow sink slows
// the source down to its pace.
func TestSlowSinkStopsTheSource(t *testing.T) {
	j := &connecttest.Journal{}
	src := &countingSource{Source: connecttest.NewSource(j)}
	src.SetMaxPoll(10)
	for i := 0; i < 100; i++ {
		src.Append(connecttest.Input("in", 0), connecttest.Rec("k", fmt.Sprint("v", i), int64(i)))
	}
	src.Push(connecttest.Assign(0))
	sink := &gatedSink{Sink: connecttest.NewAtLeastOnceSink("out", j), gate: make(chan struct{})}
	rn := startRun(t, connect.StageConfig{Graph: upperGraph(), Source: src, Sinks: map[string]connect.Sink{"out": sink}})

	rn.until("the first Write", func() bool { return sink.writing.Load() == 1 })
	polls := src.polls.Load()
	// Let the runner spin: if it polled while the sink was blocked, the
	// count would move. Each release lets exactly one Write through.
	for i := 0; i < 3; i++ {
		if got := src.polls.Load(); got != polls {
			t.Fatalf("the source was polled %d times while the sink blocked", got-polls)
		}
		sink.gate <- struct{}{}
		rn.until("the next Write", func() bool { return sink.writing.Load() == int64(i+2) })
		polls = src.polls.Load()
	}
	close(sink.gate)
	rn.until("every record written", func() bool { return len(sink.Output(0))+len(sink.Pending(0)) == 100 })
}
