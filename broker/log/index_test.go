package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
)

func TestFileIndexSearch(t *testing.T) {
	t.Parallel()
	const base = 1000
	x := newOffsetIndex()
	x.entries = []offsetEntry{{10, 100}, {20, 200}, {30, 300}}
	atOrBelow := func(offset int64) func(offsetEntry) bool {
		return func(e offsetEntry) bool { return base+int64(e.rel) <= offset }
	}
	cases := []struct {
		name   string
		offset int64
		want   int
	}{
		{"segment base, before the first entry", base, -1},
		{"just before the first entry", base + 9, -1},
		{"exactly the first entry", base + 10, 0},
		{"between the first two", base + 15, 0},
		{"just before the second", base + 19, 0},
		{"exactly the second", base + 20, 1},
		{"exactly the last", base + 30, 2},
		{"after the last", base + 31, 2},
		{"far after the last", 1 << 40, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := x.search(atOrBelow(c.offset)); got != c.want {
				t.Fatalf("search(%d) = %d, want %d", c.offset, got, c.want)
			}
		})
	}
	t.Run("empty index", func(t *testing.T) {
		if got := newOffsetIndex().search(atOrBelow(1 << 40)); got != -1 {
			t.Fatalf("search in an empty index = %d", got)
		}
	})

	tx := newTimeIndex()
	tx.entries = []timeEntry{{100, 5}, {200, 9}, {300, 9}, {400, 20}}
	for _, c := range []struct {
		ts   int64
		want int
	}{{50, -1}, {100, -1}, {101, 0}, {200, 0}, {250, 1}, {300, 1}, {301, 2}, {400, 2}, {401, 3}, {1 << 50, 3}} {
		t.Run(fmt.Sprintf("time index, first timestamp %d", c.ts), func(t *testing.T) {
			if got := tx.search(func(e timeEntry) bool { return e.ts < c.ts }); got != c.want {
				t.Fatalf("search(ts < %d) = %d, want %d", c.ts, got, c.want)
			}
		})
	}
}

func TestFileIndexLoad(t *testing.T) {
	t.Parallel()
	off := func(es ...offsetEntry) []byte {
		var b []byte
		for _, e := range es {
			b = binary.BigEndian.AppendUint32(b, e.rel)
			b = binary.BigEndian.AppendUint32(b, e.pos)
		}
		return b
	}
	tim := func(es ...timeEntry) []byte {
		var b []byte
		for _, e := range es {
			b = binary.BigEndian.AppendUint64(b, uint64(e.ts))
			b = binary.BigEndian.AppendUint32(b, e.rel)
		}
		return b
	}
	// The offset index entries must stay below position 1000 and
	// relative offset 100; the time index ones below relative offset 100.
	validOff := func(e offsetEntry) bool { return e.pos < 1000 && e.rel < 100 }
	validTime := func(e timeEntry) bool { return e.rel < 100 }
	cases := []struct {
		name  string
		time  bool
		data  []byte
		count int // entries loaded; -1: rejected
	}{
		{"empty offset index", false, nil, 0},
		{"one entry", false, off(offsetEntry{3, 40}), 1},
		{"in order", false, off(offsetEntry{3, 40}, offsetEntry{7, 90}, offsetEntry{99, 999}), 3},
		{"partial trailing entry", false, append(off(offsetEntry{3, 40}), 0, 0, 0), -1},
		{"only a partial entry", false, []byte{0, 0, 0, 1, 0, 0, 0}, -1},
		{"one byte too many", false, append(off(offsetEntry{3, 40}, offsetEntry{7, 90}), 0), -1},
		{"offsets going backwards", false, off(offsetEntry{7, 40}, offsetEntry{3, 90}), -1},
		{"positions going backwards", false, off(offsetEntry{3, 90}, offsetEntry{7, 40}), -1},
		{"repeated offset", false, off(offsetEntry{3, 40}, offsetEntry{3, 90}), -1},
		{"repeated position", false, off(offsetEntry{3, 40}, offsetEntry{7, 40}), -1},
		{"repeated entry", false, off(offsetEntry{3, 40}, offsetEntry{3, 40}), -1},
		{"position past the log", false, off(offsetEntry{3, 40}, offsetEntry{7, 1000}), -1},
		{"offset past the segment", false, off(offsetEntry{100, 40}), -1},
		{"misordered entry after good ones", false, off(offsetEntry{1, 10}, offsetEntry{2, 20}, offsetEntry{4, 40}, offsetEntry{3, 50}), -1},

		{"empty time index", true, nil, 0},
		{"time entries in order", true, tim(timeEntry{10, 1}, timeEntry{20, 1}, timeEntry{30, 8}), 3},
		{"time partial trailing entry", true, append(tim(timeEntry{10, 1}), 1, 2, 3, 4, 5, 6, 7, 8), -1},
		{"time one byte short", true, tim(timeEntry{10, 1}, timeEntry{20, 2})[:23], -1},
		{"timestamps repeated", true, tim(timeEntry{10, 1}, timeEntry{10, 2}), -1},
		{"timestamps going backwards", true, tim(timeEntry{10, 1}, timeEntry{5, 2}), -1},
		{"time offsets going backwards", true, tim(timeEntry{10, 5}, timeEntry{20, 4}), -1},
		{"time offset past the segment", true, tim(timeEntry{10, 5}, timeEntry{20, 100}), -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			var n, flushed int
			if c.time {
				x := newTimeIndex()
				if err := x.open(path); err != nil {
					t.Fatal(err)
				}
				defer x.close()
				err, n, flushed = x.load(validTime), len(x.entries), x.flushed
			} else {
				x := newOffsetIndex()
				if err := x.open(path); err != nil {
					t.Fatal(err)
				}
				defer x.close()
				err, n, flushed = x.load(validOff), len(x.entries), x.flushed
			}
			if c.count < 0 {
				if !errors.Is(err, errCorruptIndex) {
					t.Fatalf("load: %v, want errCorruptIndex", err)
				}
				if n != 0 || flushed != 0 {
					t.Fatalf("a rejected load left %d entries (%d flushed)", n, flushed)
				}
				return
			}
			if err != nil || n != c.count || flushed != c.count {
				t.Fatalf("load: %v, %d entries (%d flushed), want %d", err, n, flushed, c.count)
			}
		})
	}
}

// withSegments calls fn with the segments of l, holding its lock.
func withSegments(l *Log, fn func(segs []*segment)) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	fn(l.mu.segments)
}

func TestSegmentFind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Two segments, the second with base > 0, both with several index
	// entries; batches of 1 to 7 records.
	l := mustOpen(t, dir, &Options{SegmentBytes: 3000, IndexIntervalBytes: 300})
	defer l.Close()
	for i := 0; i < 40; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 1+i%7, int64(i)))
	}
	bases := segmentBases(t, dir)
	if len(bases) < 2 {
		t.Fatalf("want at least 2 segments, have %v", bases)
	}
	for si, base := range bases[:2] {
		bs := batchesIn(t, segPath(dir, base, logSuffix))
		type tc struct {
			name        string
			offset, end int64
			want        int64
		}
		var segSize int64
		var s *segment
		withSegments(l, func(segs []*segment) { s = segs[si] })
		segSize = s.size
		if len(s.idx.entries) < 3 {
			t.Fatalf("segment %d has %d index entries, want several", base, len(s.idx.entries))
		}
		cases := []tc{
			{"below the segment base", base - 1, segSize, 0},
			{"past the end", bs[len(bs)-1].hdr.LastOffset() + 1, segSize, segSize},
			{"far past the end", 1 << 40, segSize, segSize},
			{"offset beyond a shorter end", bs[3].hdr.BaseOffset, bs[2].pos, bs[2].pos},
			{"offset just before a shorter end", bs[2].hdr.LastOffset(), bs[3].pos, bs[2].pos},
		}
		for i, b := range bs {
			h := b.hdr
			cases = append(cases,
				tc{fmt.Sprintf("batch %d start", i), h.BaseOffset, segSize, b.pos},
				tc{fmt.Sprintf("batch %d middle", i), h.BaseOffset + int64(h.LastOffsetDelta)/2, segSize, b.pos},
				tc{fmt.Sprintf("batch %d end", i), h.LastOffset(), segSize, b.pos})
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("segment %d %s", base, c.name), func(t *testing.T) {
				var got int64
				var err error
				withSegments(l, func([]*segment) { got, err = s.find(c.offset, c.end) })
				if err != nil || got != c.want {
					t.Fatalf("find(%d, %d) = %d, %v; want %d", c.offset, c.end, got, err, c.want)
				}
			})
		}
	}
}

// TestSegmentFindTime checks findTime against its contract on batches
// with unordered timestamps: every batch before the returned position
// holds only records older than ts, and the position is a batch start.
func TestSegmentFindTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := mustOpen(t, dir, &Options{IndexIntervalBytes: 200})
	defer l.Close()
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 60; i++ {
		ts := make([]int64, 1+rnd.IntN(4))
		for j := range ts {
			ts[j] = int64(10*i + rnd.IntN(300)) // growing, with overlap
		}
		mustAppend(t, l, mkBatchTS(t, batch.CodecNone, "v", ts...))
	}
	bs := batchesIn(t, segPath(dir, 0, logSuffix))
	var s *segment
	withSegments(l, func(segs []*segment) { s = segs[0] })
	if len(s.tidx.entries) < 5 {
		t.Fatalf("%d time index entries, want several", len(s.tidx.entries))
	}
	maxTS := slices.MaxFunc(bs, func(a, b storedBatch) int { return int(a.hdr.MaxTimestamp - b.hdr.MaxTimestamp) }).hdr.MaxTimestamp
	skipped := 0
	for ts := int64(-1); ts <= maxTS+2; ts++ {
		var pos int64
		withSegments(l, func([]*segment) { pos = s.findTime(ts) })
		i := slices.IndexFunc(bs, func(b storedBatch) bool { return b.pos == pos })
		if i < 0 {
			t.Fatalf("findTime(%d) = %d, not a batch start", ts, pos)
		}
		for _, b := range bs[:i] {
			if b.hdr.MaxTimestamp >= ts {
				t.Fatalf("findTime(%d) = %d skips batch at %d with max timestamp %d", ts, pos, b.pos, b.hdr.MaxTimestamp)
			}
		}
		if i > 0 {
			skipped++
		}
	}
	if ts := bs[0].hdr.FirstTimestamp; s.findTime(ts) != 0 {
		t.Fatalf("findTime of the first timestamp = %d, want 0", s.findTime(ts))
	}
	if skipped == 0 {
		t.Fatal("findTime never skipped a batch: the time index is not used")
	}
}

func TestReadBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := mustOpen(t, dir, &Options{SegmentBytes: 1500, IndexIntervalBytes: 200, RetentionMs: -1})
	t.Cleanup(func() { l.Close() }) // after the parallel subtests
	for i := 0; i < 30; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 5, int64(i)))
	}
	size := len(mkBatch(t, batch.CodecNone, "v", 5, 0)) // every batch has this size
	if _, err := l.DeleteRecords(12); err != nil {
		t.Fatal(err)
	}
	start, hw, _ := l.Offsets()
	if start != 12 || hw != 150 {
		t.Fatalf("offsets [%d, %d), want [12, 150)", start, hw)
	}
	bases := segmentBases(t, dir)
	segEnd := bases[1] - 1 // last offset of segment 0
	cases := []struct {
		name     string
		offset   int64
		maxBytes int
		batches  int   // whole batches expected; 0: no data
		first    int64 // base offset of the first batch returned
		err      error
	}{
		{"maxBytes 0 still returns a batch", 20, 0, 1, 20, nil},
		{"maxBytes 1 still returns a batch", 20, 1, 1, 20, nil},
		{"maxBytes below a header", 20, batch.HeaderSize - 1, 1, 20, nil},
		{"maxBytes smaller than the batch", 20, size - 1, 1, 20, nil},
		{"maxBytes exactly one batch", 20, size, 1, 20, nil},
		{"maxBytes one batch and a bit", 20, size + 10, 1, 20, nil},
		{"maxBytes two batches", 20, 2 * size, 2, 20, nil},
		{"offset inside a batch", 23, 2 * size, 2, 20, nil},
		{"last offset of a batch", 24, size, 1, 20, nil},
		{"at the log start", 12, size, 1, 10, nil},
		{"last batch of a segment stops at the segment", segEnd, 10 * size, 1, segEnd - 4, nil},
		{"next segment", segEnd + 1, size, 1, segEnd + 1, nil},
		{"last batch", hw - 1, 10 * size, 1, hw - 5, nil},
		{"at the high watermark", hw, size, 0, 0, nil},
		{"past the high watermark", hw + 1, size, 0, 0, ErrOffsetOutOfRange},
		{"far past the high watermark", 1 << 40, size, 0, 0, ErrOffsetOutOfRange},
		{"below the log start", 11, size, 0, 0, ErrOffsetOutOfRange},
		{"offset 0 below the log start", 0, size, 0, 0, ErrOffsetOutOfRange},
		{"negative", -1, size, 0, 0, ErrOffsetOutOfRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, err := l.Read(c.offset, c.maxBytes)
			if !errors.Is(err, c.err) {
				t.Fatalf("Read(%d, %d): %v, want %v", c.offset, c.maxBytes, err, c.err)
			}
			if res.HighWatermark != hw || res.LogStartOffset != start {
				t.Fatalf("Read returned hw %d start %d, want %d %d", res.HighWatermark, res.LogStartOffset, hw, start)
			}
			var got []batch.Header
			for pos := 0; pos < len(res.Data); {
				h, n, err := batch.Check(res.Data[pos:], 0)
				if err != nil {
					t.Fatalf("batch %d of the result: %v", len(got), err)
				}
				got = append(got, h)
				pos += n
			}
			if len(got) != c.batches {
				t.Fatalf("Read(%d, %d) returned %d batches (%d bytes), want %d", c.offset, c.maxBytes, len(got), len(res.Data), c.batches)
			}
			if len(got) > 0 && got[0].BaseOffset != c.first {
				t.Fatalf("first batch at %d, want %d", got[0].BaseOffset, c.first)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		l := mustOpen(t, t.TempDir(), nil)
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 1, 1))
		l.Close()
		if _, err := l.Read(0, 100); !errors.Is(err, ErrClosed) {
			t.Fatalf("read on a closed log: %v", err)
		}
	})
}

// TestOffsetForTimestamp compares OffsetForTimestamp with a brute-force
// search over every record, on logs with unordered timestamps inside
// batches, across batches and across segments, for every codec.
func TestOffsetForTimestamp(t *testing.T) {
	t.Parallel()
	for _, codec := range []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLz4, batch.CodecZstd} {
		t.Run(codecName(codec), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 1200, IndexIntervalBytes: 150, RetentionMs: -1}
			l := mustOpen(t, dir, opts)
			rnd := rand.New(rand.NewPCG(uint64(codec), 7))
			for i := 0; i < 50; i++ {
				ts := make([]int64, 1+rnd.IntN(6))
				for j := range ts {
					// Timestamps drift up but jump back often, also to
					// before earlier segments.
					ts[j] = int64(1000 + 20*i + rnd.IntN(400) - 200)
				}
				mustAppend(t, l, mkBatchTS(t, codec, "v", ts...))
			}
			if l.Segments() < 3 {
				t.Fatalf("want several segments, have %d", l.Segments())
			}
			check := func(t *testing.T, l *Log, what string) {
				t.Helper()
				recs := readAll(t, l)
				start, _, _ := l.Offsets()
				// Each record's timestamp and the one after it, and
				// the ends; sampled, because some codecs decode slowly
				// under the race detector.
				targets := []int64{0, 700}
				for _, r := range recs {
					targets = append(targets, r.ts, r.ts+1)
				}
				slices.Sort(targets)
				targets = slices.Compact(targets)
				for len(targets) > 80 {
					i := 1 + rnd.IntN(len(targets)-2) // keep the first and the last
					targets = slices.Delete(targets, i, i+1)
				}
				for _, ts := range targets {
					i := slices.IndexFunc(recs, func(r rec) bool { return r.ts >= ts && r.offset >= start })
					off, gotTS, found, err := l.OffsetForTimestamp(ts)
					if err != nil {
						t.Fatalf("%s: OffsetForTimestamp(%d): %v", what, ts, err)
					}
					if i < 0 {
						if found {
							t.Fatalf("%s: OffsetForTimestamp(%d) = %d (ts %d), want none", what, ts, off, gotTS)
						}
						continue
					}
					if !found || off != recs[i].offset || gotTS != recs[i].ts {
						t.Fatalf("%s: OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", what, ts, off, gotTS, found, recs[i].offset, recs[i].ts)
					}
				}
			}
			check(t, l, "while appending")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, opts)
			check(t, l, "after a clean reopen")
			abandon(l)
			l = mustOpen(t, dir, opts)
			defer l.Close()
			check(t, l, "after a crash")
			if _, err := l.DeleteRecords(37); err != nil {
				t.Fatal(err)
			}
			check(t, l, "after DeleteRecords")
		})
	}
}

func TestOffsetForTimestampLogAppendTime(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(50_000)
	l := mustOpen(t, t.TempDir(), &Options{LogAppendTime: true, SegmentBytes: 600,
		Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	defer l.Close()
	var appended []AppendResult
	for i := 0; i < 20; i++ {
		now.Add(10)
		// CreateTime timestamps that would sort differently.
		appended = append(appended, mustAppend(t, l, mkBatchTS(t, batch.CodecZstd, "v", int64(100-i), 1, int64(1000*i))))
	}
	for _, c := range []struct {
		name string
		ts   int64
		want int // index in appended; -1 none
	}{
		{"before everything", 0, 0},
		{"first append time", 50_010, 0},
		{"just after the first", 50_011, 1},
		{"a middle one", 50_100, 9},
		{"the last", 50_200, 19},
		{"after the last", 50_201, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			off, ts, found, err := l.OffsetForTimestamp(c.ts)
			if err != nil {
				t.Fatal(err)
			}
			if c.want < 0 {
				if found {
					t.Fatalf("found %d at %d, want none", off, ts)
				}
				return
			}
			a := appended[c.want]
			if !found || off != a.BaseOffset || ts != a.LogAppendTime {
				t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", c.ts, off, ts, found, a.BaseOffset, a.LogAppendTime)
			}
		})
	}
}

func TestSegmentRollBySize(t *testing.T) {
	t.Parallel()
	size := int64(len(mkBatch(t, batch.CodecNone, "v", 5, 0))) // every batch below has this size
	cases := []struct {
		name         string
		segmentBytes int64
		appends      []int // batches per Append call
		wantBases    []int64
	}{
		{"exactly three batches fit", 3 * size, []int{1, 1, 1, 1, 1, 1, 1}, []int64{0, 15, 30}},
		{"one byte short of three", 3*size - 1, []int{1, 1, 1, 1, 1}, []int64{0, 10, 20}},
		{"batch larger than a segment", size / 2, []int{1, 1, 1}, []int64{0, 5, 10}},
		{"multi-batch append counts whole", 3 * size, []int{2, 2, 2}, []int64{0, 10, 20}},
		{"multi-batch append larger than a segment", 2 * size, []int{3, 1, 1, 3}, []int64{0, 15, 25}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := mustOpen(t, dir, &Options{SegmentBytes: c.segmentBytes})
			defer l.Close()
			total := int64(0)
			for i, n := range c.appends {
				var data []byte
				for j := 0; j < n; j++ {
					data = append(data, mkBatch(t, batch.CodecNone, "v", 5, int64(i))...)
				}
				mustAppend(t, l, data)
				total += int64(5 * n)
			}
			if got := segmentBases(t, dir); !slices.Equal(got, c.wantBases) {
				t.Fatalf("segments %v, want %v", got, c.wantBases)
			}
			checkContiguous(t, readAll(t, l), 0, total)
		})
	}
}

func TestSegmentRollByTime(t *testing.T) {
	t.Parallel()
	const segMs = 1000
	type step struct {
		advance int64 // ms added to the clock before the append
		ts      int64 // record timestamp; -1 for none
		roll    bool  // a new segment must start with this append
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"by record timestamps", []step{
			{0, 10_000, false},
			{0, 10_500, false},
			{0, 10_999, false},
			{0, 11_000, true}, // segment.ms after the first timestamp
			{0, 11_999, false},
			{0, 5_000, false}, // an old timestamp does not roll
			{0, 12_000, true},
		}},
		{"by record timestamps, ignoring the clock", []step{
			{0, 10_000, false},
			{5 * segMs, 10_100, false},
			{5 * segMs, 10_200, false},
		}},
		{"by the clock when records have no timestamp", []step{
			{0, -1, false},
			{segMs - 1, -1, false},
			{1, -1, true}, // segment.ms after the segment was created
			{segMs - 1, -1, false},
			{1, -1, true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var now atomic.Int64
			now.Store(1_000_000)
			dir := t.TempDir()
			l := mustOpen(t, dir, &Options{SegmentMs: segMs * time.Millisecond,
				Now: func() time.Time { return time.UnixMilli(now.Load()) }})
			defer l.Close()
			var want []int64
			for i, s := range c.steps {
				now.Add(s.advance)
				r := mustAppend(t, l, mkBatchTS(t, batch.CodecNone, "v", s.ts))
				if i == 0 || s.roll {
					want = append(want, r.BaseOffset)
				}
				if got := segmentBases(t, dir); !slices.Equal(got, want) {
					t.Fatalf("after step %d: segments %v, want %v", i, got, want)
				}
			}
		})
	}
}
