package log

import (
	"fmt"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
)

// compactedView is what a compacted log must hold: for records in the
// compacted segments the newest per key (tombstones included unless
// dropped), everything from the active segment, and unkeyed records.
func TestCompactKeepsLatestPerKey(t *testing.T) {
	t.Parallel()
	for _, codec := range []int{batch.CodecNone, batch.CodecZstd} {
		t.Run(codecName(codec), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 2048, Compact: true, RetentionMs: -1}
			l := mustOpen(t, dir, opts)
			for i := 0; i < 200; i++ {
				b := batch.NewBuilder(codec)
				for j := 0; j < 4; j++ {
					k := fmt.Sprintf("key-%d", (i*4+j)%13)
					v := fmt.Sprintf("v%d", i*4+j)
					b.Add([]byte(k), []byte(v), 1000)
				}
				if i%50 == 0 {
					b.Add(nil, []byte("unkeyed"), 1000)
				}
				data, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				mustAppend(t, l, data)
			}
			before := readAll(t, l)
			l.mu.RLock()
			activeBase := l.active().base
			l.mu.RUnlock()

			st, err := l.Compact()
			if err != nil {
				t.Fatal(err)
			}
			if st.Rewritten == 0 || st.RecordsRemoved == 0 || st.BytesAfter >= st.BytesBefore {
				t.Fatalf("nothing compacted: %+v", st)
			}
			after := readAll(t, l)

			// Expected: the newest offset per key among offsets below the
			// active segment; every record at or above it; unkeyed ones.
			latest := map[string]int64{}
			for _, r := range before {
				if r.offset < activeBase && r.key != "" {
					latest[r.key] = r.offset
				}
			}
			var want []rec
			for _, r := range before {
				if r.offset >= activeBase || r.key == "" || latest[r.key] == r.offset {
					want = append(want, r)
				}
			}
			if len(after) != len(want) {
				t.Fatalf("after compaction %d records, want %d (removed %d)", len(after), len(want), st.RecordsRemoved)
			}
			for i := range want {
				if after[i] != want[i] {
					t.Fatalf("record %d: got %+v, want %+v", i, after[i], want[i])
				}
			}
			if int64(len(before)-len(after)) != st.RecordsRemoved {
				t.Fatalf("stats say %d removed, %d were", st.RecordsRemoved, len(before)-len(after))
			}
			// A second pass without new segments does nothing.
			if st2, _ := l.Compact(); st2.Rewritten != 0 {
				t.Fatalf("second pass rewrote %d segments", st2.Rewritten)
			}
			// Compacted segments survive a clean reopen and a crash reopen.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, crash := range []bool{false, true} {
				l = mustOpen(t, dir, opts)
				if got := readAll(t, l); len(got) != len(want) {
					t.Fatalf("reopened (crash=%v): %d records, want %d", crash, len(got), len(want))
				}
				if !crash {
					l.Close()
				}
			}
			// The offsets keep going after the last one.
			if r := mustAppend(t, l, mkKV(t, "key-1", []byte("x"), 1000)); r.BaseOffset != before[len(before)-1].offset+1 {
				t.Fatalf("next offset %d", r.BaseOffset)
			}
			l.Close()
		})
	}
}

func TestCompactTombstones(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour.Milliseconds()
	clk := newClock(10 * day)
	l := mustOpen(t, t.TempDir(), &Options{SegmentBytes: 256, Compact: true, Now: clk.Now})
	defer l.Close()
	ts := 10 * day
	mustAppend(t, l, mkKV(t, "a", []byte("1"), ts))
	mustAppend(t, l, mkKV(t, "b", []byte("1"), ts))
	mustAppend(t, l, mkKV(t, "a", nil, ts)) // tombstone for a
	for i := 0; i < 10; i++ {
		mustAppend(t, l, mkKV(t, "c", []byte(fmt.Sprint(i)), ts)) // pushes a and b out of the active segment
	}
	if _, err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	keys := func() map[string][]rec {
		m := map[string][]rec{}
		for _, r := range readAll(t, l) {
			m[r.key] = append(m[r.key], r)
		}
		return m
	}
	m := keys()
	if len(m["a"]) != 1 || !m["a"][0].null {
		t.Fatalf("within delete.retention.ms key a should be just its tombstone: %+v", m["a"])
	}
	if len(m["b"]) != 1 || m["b"][0].value != "1" {
		t.Fatalf("key b: %+v", m["b"])
	}
	// A day later the tombstone goes, after a new roll makes the pass run.
	clk.Set(12 * day)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, mkKV(t, "d", []byte(fmt.Sprint(i)), ts))
	}
	if _, err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	m = keys()
	if len(m["a"]) != 0 {
		t.Fatalf("tombstone for a outlived delete.retention.ms: %+v", m["a"])
	}
	if len(m["b"]) != 1 {
		t.Fatalf("key b lost: %+v", m["b"])
	}
}

// Compaction runs beside appends and reads; run with -race.
func TestCompactConcurrentWithAppends(t *testing.T) {
	t.Parallel()
	l := mustOpen(t, t.TempDir(), &Options{SegmentBytes: 4096, Compact: true, RetentionMs: -1})
	defer l.Close()
	const n = 1500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			if _, err := l.Append(mkKV(t, fmt.Sprintf("k%d", i%7), []byte(fmt.Sprint(i)), 1000)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	passes, rewritten := 0, 0
	for running := true; running; passes++ {
		select {
		case <-done:
			running = false
		default:
		}
		st, err := l.Compact()
		if err != nil {
			t.Fatal(err)
		}
		rewritten += st.Rewritten
		readAll(t, l)
	}
	if rewritten == 0 {
		t.Fatal("no segment was compacted while appends ran")
	}
	appended := int64(n)
	t.Logf("%d compaction passes rewrote %d segments during %d appends", passes, rewritten, n)
	got := readAll(t, l)
	if len(got) == 0 || got[len(got)-1].offset != appended-1 {
		t.Fatalf("last record %v, appended up to %d", got[len(got)-1], appended-1)
	}
	for i := 1; i < len(got); i++ {
		if got[i].offset <= got[i-1].offset {
			t.Fatalf("offsets reordered at %d: %d after %d", i, got[i].offset, got[i-1].offset)
		}
	}
}
