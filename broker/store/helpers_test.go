package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/log"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testOptions are options without a janitor, on clk when it is not nil.
func testOptions(clk *clock) *Options {
	o := DefaultOptions()
	o.BackgroundInterval = 0
	if clk != nil {
		o.Now = clk.Now
	}
	return o
}

func mustOpen(t *testing.T, dir string, o *Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t *testing.T, s *Store, name string, n int, cfg map[string]string) TopicDescription {
	t.Helper()
	d, err := s.CreateTopic(name, n, cfg)
	if err != nil {
		t.Fatalf("CreateTopic(%q, %d, %v): %v", name, n, cfg, err)
	}
	return d
}

func mustPartition(t *testing.T, s *Store, topic string, p int) *log.Log {
	t.Helper()
	l, err := s.Partition(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err matches every sentinel and mentions every text.
func wantErr(t *testing.T, err error, sentinels []error, texts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", sentinels)
	}
	for _, s := range sentinels {
		if !errors.Is(err, s) {
			t.Errorf("error %q does not match %v", err, s)
		}
	}
	for _, txt := range texts {
		if !strings.Contains(err.Error(), txt) {
			t.Errorf("error %q does not mention %q", err, txt)
		}
	}
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// kv builds a batch of records key=value with timestamp ts; a "" value is
// a tombstone.
func kv(t *testing.T, ts int64, pairs ...string) []byte {
	t.Helper()
	b := batch.NewBuilder(batch.CodecNone)
	for i := 0; i < len(pairs); i += 2 {
		var v []byte
		if pairs[i+1] != "" {
			v = []byte(pairs[i+1])
		}
		b.Add([]byte(pairs[i]), v, ts)
	}
	out, err := b.Build()
	noErr(t, err)
	return out
}

func appendBatch(t *testing.T, l *log.Log, b []byte) log.AppendResult {
	t.Helper()
	r, err := l.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type rec struct {
	offset int64
	key    string
	value  string
}

func (r rec) String() string { return fmt.Sprintf("%d:%s=%s", r.offset, r.key, r.value) }

// readAll reads every record from the log start to the high watermark.
func readAll(t *testing.T, l *log.Log) []rec {
	t.Helper()
	start, hw, _ := l.Offsets()
	var out []rec
	for off := start; off < hw; {
		res, err := l.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if len(res.Data) == 0 {
			t.Fatalf("read at %d below the high watermark %d returned nothing", off, hw)
		}
		for pos := 0; pos < len(res.Data); {
			h, size, err := batch.Check(res.Data[pos:], 0)
			noErr(t, err)
			recs, err := batch.Records(res.Data[pos:], &h)
			noErr(t, err)
			for _, r := range recs {
				if o := h.BaseOffset + int64(r.OffsetDelta); o >= off {
					out = append(out, rec{o, string(r.Key), string(r.Value)})
				}
			}
			off = h.LastOffset() + 1
			pos += size
		}
	}
	return out
}
