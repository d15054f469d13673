package log

import (
	"runtime"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

// Appenders that write while an fsync is pending share it. The hook holds
// every syncer until all appenders have written, so at most maxSyncers
// fsyncs may serve the eight appends.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	// Not parallel: it sets a package hook.
	const appenders = 8
	l := mustOpen(t, t.TempDir(), nil)
	defer l.Close()
	release := make(chan struct{})
	testHookSyncer = func() { <-release }
	defer func() { testHookSyncer = nil }()

	var wg sync.WaitGroup
	for i := 0; i < appenders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Append(mkBatch(t, batch.CodecNone, "v", 2, 1)); err != nil {
				t.Error(err)
			}
		}()
	}
	// Release the syncers once all appends are written (the log end
	// says so); appends write under the lock, then wait.
	for {
		if _, _, end := l.Offsets(); end == 2*appenders {
			close(release)
			break
		}
		runtime.Gosched()
	}
	wg.Wait()
	if st := l.Stats(); st.Fsyncs < 1 || st.Fsyncs > maxSyncers || st.Appends != appenders {
		t.Fatalf("%d appends took %d fsyncs, want 1 to %d", st.Appends, st.Fsyncs, maxSyncers)
	}
	if hw := l.HighWatermark(); hw != 2*appenders {
		t.Fatalf("high watermark %d, want %d", hw, 2*appenders)
	}
}

// With the durable policy a record is readable only once fsynced: the high
// watermark trails the log end while an fsync is pending.
func TestHighWatermarkIsDurableEnd(t *testing.T) {
	l := mustOpen(t, t.TempDir(), nil)
	defer l.Close()
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 3, 1))
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	testHookSyncer = func() { once.Do(func() { close(entered); <-release }) }
	defer func() { testHookSyncer = nil }()
	done := make(chan error)
	go func() {
		_, err := l.Append(mkBatch(t, batch.CodecNone, "w", 2, 1))
		done <- err
	}()
	<-entered
	if start, hw, end := l.Offsets(); start != 0 || hw != 3 || end != 5 {
		t.Fatalf("during the fsync: start %d hw %d end %d, want 0 3 5", start, hw, end)
	}
	if res, err := l.Read(3, 1<<20); err != nil || len(res.Data) != 0 {
		t.Fatalf("read past the durable end returned %d bytes, %v", len(res.Data), err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if hw := l.HighWatermark(); hw != 5 {
		t.Fatalf("after the fsync hw %d, want 5", hw)
	}
}

func TestFlushMessagesPolicy(t *testing.T) {
	t.Parallel()
	l := mustOpen(t, t.TempDir(), &Options{FlushMessages: 10})
	defer l.Close()
	for i := 0; i < 4; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 2, 1))
	}
	if st := l.Stats(); st.Fsyncs != 0 {
		t.Fatalf("%d fsyncs for 8 of 10 unflushed records", st.Fsyncs)
	}
	if hw := l.HighWatermark(); hw != 8 {
		t.Fatalf("non-durable policy hides written records: hw %d", hw)
	}
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 2, 1))
	if st := l.Stats(); st.Fsyncs != 1 {
		t.Fatalf("%d fsyncs after reaching flush.messages", st.Fsyncs)
	}
}

func TestWatchFiresWhenHighWatermarkMoves(t *testing.T) {
	t.Parallel()
	for _, flush := range []int64{1, 100} {
		l := mustOpen(t, t.TempDir(), &Options{FlushMessages: flush})
		w := l.Watch()
		select {
		case <-w:
			t.Fatal("watch fired before anything happened")
		default:
		}
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 1, 1))
		select {
		case <-w:
		default:
			t.Fatalf("flush.messages=%d: watch did not fire after the high watermark moved", flush)
		}
		w = l.Watch()
		l.Close()
		<-w // Close wakes watchers too; a hang here fails the test by timeout
	}
}
