package log

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

// FuzzRecoverTail writes n valid batches, crashes (no Close), appends
// arbitrary bytes to the active segment and opens the log. Recovery must
// keep every batch written before the garbage, accept only valid batches
// after them, and be idempotent: a second crash and open finds the same
// log and truncates nothing more.
func FuzzRecoverTail(f *testing.F) {
	valid := mkBatch(f, batch.CodecNone, "tail", 3, 5000)
	at := func(b []byte, base int64) []byte {
		b = slices.Clone(b)
		batch.SetBaseOffset(b, base)
		return b
	}
	zstd := mkBatch(f, batch.CodecZstd, "tail", 4, 5000)
	f.Add(uint8(3), []byte{})
	f.Add(uint8(3), at(valid, 3*4))                        // a valid continuation: kept
	f.Add(uint8(3), at(valid, 100))                        // a gap in offsets: kept
	f.Add(uint8(3), at(valid, 0))                          // offsets going backwards
	f.Add(uint8(3), valid[:len(valid)/2])                  // torn
	f.Add(uint8(2), append(at(valid, 2*3), valid[:30]...)) // valid, then torn
	f.Add(uint8(0), at(zstd, 0))
	f.Add(uint8(1), zstd[:len(zstd)-1])
	f.Add(uint8(5), make([]byte, 100)) // zeroed tail
	f.Add(uint8(5), make([]byte, 5))
	f.Add(uint8(7), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff\xff\xffgarbage"))
	f.Add(uint8(4), append(at(valid, 4*5), 0xff))

	f.Fuzz(func(t *testing.T, nb uint8, tail []byte) {
		n := int(nb % 12)
		dir := t.TempDir()
		// Not durable: appends skip the fsync, which a crash of the
		// process (not of the machine) does not need.
		opts := &Options{SegmentBytes: 1024, IndexIntervalBytes: 128, FlushMessages: 1 << 30, RetentionMs: -1}
		l := mustOpen(t, dir, opts)
		for i := 0; i < n; i++ {
			// Batch i holds 1+i%4 records "b<i>-<j>".
			mustAppend(t, l, mkBatch(t, batch.CodecNone, fmt.Sprintf("b%d", i), 1+i%4, int64(1000+i)))
		}
		want := readAll(t, l)
		_, _, prefixEnd := l.Offsets()
		prefixSize := l.Size()
		abandon(l)

		bases := segmentBases(t, dir)
		active := segPath(dir, bases[len(bases)-1], logSuffix)
		activeSize := fileSize(t, active)
		fd, err := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fd.Write(tail); err != nil {
			t.Fatal(err)
		}
		if err := fd.Close(); err != nil {
			t.Fatal(err)
		}

		l, err = Open(dir, opts)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		rep := l.Recovery()
		start, hw, leo := l.Offsets()
		if start != 0 || hw < prefixEnd || leo != hw {
			t.Fatalf("offsets %d, %d, %d after recovery; the valid prefix ends at %d; %+v", start, hw, leo, prefixEnd, rep)
		}
		if l.Size() < prefixSize {
			t.Fatalf("log of %d bytes, the valid prefix has %d", l.Size(), prefixSize)
		}
		for _, tr := range rep.Truncations {
			if tr.File != active || tr.Position < activeSize || tr.FirstLostOffset < prefixEnd {
				t.Fatalf("truncation into the valid prefix (active %s of %d bytes, prefix end %d): %v", active, activeSize, prefixEnd, tr)
			}
		}
		if got := readRange(t, l, 0, prefixEnd); !slices.Equal(got, want) {
			t.Fatalf("valid prefix after recovery\n%v\nwant\n%v", got, want)
		}
		// Whatever recovery kept after the prefix is whole valid batches.
		var kept []batch.Header
		for off := prefixEnd; off < hw; {
			res, err := l.Read(off, 1<<20)
			if err != nil || len(res.Data) == 0 {
				t.Fatalf("read %d below hw %d: %d bytes, %v", off, hw, len(res.Data), err)
			}
			for pos := 0; pos < len(res.Data); {
				h, size, err := batch.Check(res.Data[pos:], 0)
				if err != nil {
					t.Fatalf("read %d: batch at %d of the result: %v", off, pos, err)
				}
				if h.LastOffset() < off {
					t.Fatalf("read %d returned the batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
				}
				kept = append(kept, h)
				off = h.LastOffset() + 1
				pos += size
			}
		}
		size := l.Size()

		// A second crash and recovery changes nothing.
		abandon(l)
		l = mustOpen(t, dir, opts)
		rep2 := l.Recovery()
		start2, hw2, leo2 := l.Offsets()
		if len(rep2.Truncations) != 0 || start2 != start || hw2 != hw || leo2 != leo || l.Size() != size {
			t.Fatalf("second recovery: offsets %d, %d, %d (first %d, %d, %d), size %d (first %d), %+v",
				start2, hw2, leo2, start, hw, leo, l.Size(), size, rep2)
		}
		if got := readRange(t, l, 0, prefixEnd); !slices.Equal(got, want) {
			t.Fatalf("valid prefix after the second recovery\n%v\nwant\n%v", got, want)
		}
		r, err := l.Append(mkBatch(t, batch.CodecNone, "after", 2, 9000))
		if err != nil || r.BaseOffset != leo {
			t.Fatalf("append after recovery: %+v, %v; want base %d (kept %d tail batches)", r, err, leo, len(kept))
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
