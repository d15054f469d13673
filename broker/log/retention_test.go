package log

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(ms int64) *clock { return &clock{t: time.UnixMilli(ms)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(ms int64) {
	c.mu.Lock()
	c.t = time.UnixMilli(ms)
	c.mu.Unlock()
}

func TestRetentionBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := mustOpen(t, dir, &Options{SegmentBytes: 2048, RetentionBytes: 5000, RetentionMs: -1})
	defer l.Close()
	for i := 0; i < 100; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 3, 1))
	}
	before := l.Segments()
	n, err := l.EnforceRetention()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || l.Segments() != before-n {
		t.Fatalf("deleted %d of %d segments, %d left", n, before, l.Segments())
	}
	// The log may keep up to retention.bytes plus the segment that would
	// take it below the limit.
	if size := l.Size(); size < 5000-2048 || size >= 5000+2048 {
		t.Fatalf("log is %d bytes after retention of 5000 with 2048-byte segments", size)
	}
	start, hw, end := l.Offsets()
	if start == 0 || hw != 300 || end != 300 {
		t.Fatalf("offsets after retention: start %d hw %d end %d", start, hw, end)
	}
	if _, err := l.Read(start-1, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
	checkContiguous(t, readAll(t, l), start, 300-start)
	if n, _ := l.EnforceRetention(); n != 0 {
		t.Fatalf("second pass deleted %d more segments", n)
	}
}

func TestRetentionMs(t *testing.T) {
	t.Parallel()
	base := 100 * time.Hour.Milliseconds()
	clk := newClock(base)
	dir := t.TempDir()
	opts := &Options{SegmentBytes: 1024, RetentionMs: time.Hour, Now: clk.Now}
	l := mustOpen(t, dir, opts)
	hour := time.Hour.Milliseconds()
	// Old records (two hours ago), then recent ones.
	for i := 0; i < 20; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "old", 2, base-2*hour+int64(i)))
	}
	_, _, oldEnd := l.Offsets()
	for i := 0; i < 20; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "new", 2, base+int64(i)))
	}
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	start, _, end := l.Offsets()
	// Every old segment went; the first remaining one may begin with old
	// records when a segment holds both.
	if start == 0 || start > oldEnd {
		t.Fatalf("log start %d, old records end at %d", start, oldEnd)
	}
	// Precisely: the log now starts at the segment holding the first new
	// record, the oldest one whose newest timestamp is recent.
	l.mu.RLock()
	want := int64(-1)
	for _, s := range l.mu.segments {
		if s.base <= oldEnd {
			want = s.base
		}
	}
	l.mu.RUnlock()
	if start != want {
		t.Fatalf("log start %d, want %d (segment of the first new record %d)", start, want, oldEnd)
	}
	// Once everything is past retention the active segment rolls and
	// goes too; the log end stays.
	clk.Set(base + 3*hour)
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	start, hw, end2 := l.Offsets()
	if start != end || hw != end || end2 != end {
		t.Fatalf("after full expiry: start %d hw %d end %d, want all %d", start, hw, end2, end)
	}
	if r := mustAppend(t, l, mkBatch(t, batch.CodecNone, "after", 1, base+3*hour)); r.BaseOffset != end {
		t.Fatalf("append after expiry at %d, want %d", r.BaseOffset, end)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, dir, opts)
	defer l.Close()
	if s, _, e := l.Offsets(); s != end || e != end+1 {
		t.Fatalf("reopened: start %d end %d, want %d %d", s, e, end, end+1)
	}
}

func TestRetentionCompactOnlyKeepsOldData(t *testing.T) {
	t.Parallel()
	clk := newClock(10 * time.Hour.Milliseconds())
	l := mustOpen(t, t.TempDir(), &Options{SegmentBytes: 512, RetentionMs: time.Millisecond, Compact: true, Now: clk.Now})
	defer l.Close()
	for i := 0; i < 20; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 2, 1))
	}
	if n, err := l.EnforceRetention(); err != nil || n != 0 {
		t.Fatalf("retention on a compact-only topic deleted %d segments (%v)", n, err)
	}
}

func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean", false: "crash"}[clean]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 1024, RetentionMs: -1}
			l := mustOpen(t, dir, opts)
			for i := 0; i < 60; i++ {
				mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 2, 1))
			}
			segs := l.Segments()
			start, err := l.DeleteRecords(77)
			if err != nil || start != 77 {
				t.Fatalf("DeleteRecords(77) = %d, %v", start, err)
			}
			if l.Segments() >= segs {
				t.Fatalf("no segment deleted below offset 77 (%d segments)", l.Segments())
			}
			if _, err := l.Read(76, 100); !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below new start: %v", err)
			}
			checkContiguous(t, readAll(t, l), 77, 120-77)
			if _, err := l.DeleteRecords(121); !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("DeleteRecords past the end: %v", err)
			}
			if clean {
				l.Close()
			}
			l2 := mustOpen(t, dir, opts)
			defer l2.Close()
			if s, _, _ := l2.Offsets(); s != 77 {
				t.Fatalf("log start after reopen %d, want 77", s)
			}
			if s, err := l2.DeleteRecords(-1); err != nil || s != 120 {
				t.Fatalf("DeleteRecords(-1) = %d, %v; want the high watermark 120", s, err)
			}
		})
	}
}
