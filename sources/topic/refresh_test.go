package topic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/internal/brokertest"
)

// A listing of the ends that started before StopAtEnd, and answers after
// it, is not where a bounded run stops: the stage upstream may have
// written more in between (the end of a --once stage after a key_by is
// listed once the stage before it is done).
func TestStopAtEndIgnoresAnEarlierListing(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 1, nil)
	cl := brokertest.Client(t, addr, kgo.DefaultProduceTopic("in"))
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(brokertest.Context(t), kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 5)
	s, err := New(Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// The test holds one listing of the refresher at its hook.
	var hold atomic.Bool
	listed, proceed, released := make(chan struct{}), make(chan struct{}), make(chan struct{})
	s.testHookListed = func() {
		if hold.Load() {
			select {
			case listed <- struct{}{}:
				select {
				case <-proceed:
				case <-released:
				}
			case <-released:
			}
		}
	}
	if err := s.Open(brokertest.Context(t), &connecttest.Assignments{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(released) // a failed test may have left a listing held
		s.Close(context.Background())
	})
	read := 0
	poll := func() error {
		ctx, cancel := context.WithTimeout(brokertest.Context(t), 100*time.Millisecond)
		defer cancel()
		bs, err := s.Poll(ctx)
		for _, b := range bs {
			read += len(b.Records)
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return brokertest.Context(t).Err()
	}
	for read < 5 {
		if err := poll(); err != nil {
			t.Fatal(err)
		}
	}
	hold.Store(true)
	<-listed // a listing of end 5, held
	produce(5, 10)
	s.StopAtEnd()
	proceed <- struct{}{} // its answer comes after StopAtEnd
	<-listed              // the next listing: the held one's answer is in
	// Polled now, the source must not take 5 for its end.
	for read < 10 {
		if err := poll(); err != nil {
			t.Fatalf("after %d records: %v", read, err)
		}
	}
	hold.Store(false)
	proceed <- struct{}{}
	for {
		err := poll()
		if errors.Is(err, connect.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if read != 10 {
		t.Fatalf("the bounded run ended after %d records, want 10", read)
	}
}
