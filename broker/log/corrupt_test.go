package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

// Byte positions of batch header fields (see package batch).
const (
	hdrBaseOffset      = 0
	hdrLength          = 8
	hdrMagic           = 16
	hdrCRC             = 17
	hdrAttributes      = 21
	hdrLastOffsetDelta = 23
	hdrFirstTimestamp  = 27
)

// editFile replaces the content of path with edit(content).
func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordsIn decodes the records of the batches in b, a .log file's bytes.
func recordsIn(t *testing.T, b []byte) []rec {
	t.Helper()
	var out []rec
	for pos := 0; pos < len(b); {
		h, size, err := batch.Check(b[pos:], 0)
		if err != nil {
			t.Fatalf("at %d: %v", pos, err)
		}
		recs, err := batch.Records(b[pos:], &h)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, rec{offset: h.BaseOffset + int64(r.OffsetDelta), ts: h.FirstTimestamp + r.TimestampDelta,
				key: string(r.Key), value: string(r.Value), null: r.Value == nil})
		}
		pos += size
	}
	return out
}

// fillLog appends n batches of 5 records each (values "b<i>-<j>",
// growing timestamps from 1000) and returns the log end offset.
func fillLog(t *testing.T, l *Log, n int) int64 {
	t.Helper()
	var r AppendResult
	for i := 0; i < n; i++ {
		r = mustAppend(t, l, mkBatch(t, batch.CodecNone, fmt.Sprintf("b%d", i), 5, int64(1000+10*i)))
	}
	return r.LastOffset + 1
}

// checkReadsEveryOffset reads each offset below the high watermark with a
// tiny maxBytes and checks that the first batch returned holds it.
func checkReadsEveryOffset(t *testing.T, l *Log) {
	t.Helper()
	start, hw, _ := l.Offsets()
	for off := start; off < hw; off++ {
		res, err := l.Read(off, 1)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		h, _, err := batch.Check(res.Data, 0)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		if h.BaseOffset > off || h.LastOffset() < off {
			t.Fatalf("read %d returned the batch [%d, %d]", off, h.BaseOffset, h.LastOffset())
		}
	}
}

// TestRecoverDamagedActiveSegment damages the active segment of a log
// whose process died (no Close) and expects recovery to cut it at the
// first bad batch, report exactly that, and keep everything before.
func TestRecoverDamagedActiveSegment(t *testing.T) {
	t.Parallel()
	const batches = 40 // of 5 records, about 150 bytes each
	cases := []struct {
		name string
		// damage edits the active segment's bytes; bs are its batches.
		// It returns the index in bs of the first batch that must be
		// lost (len(bs) when only bytes past the last batch are).
		damage func(b []byte, bs []storedBatch) ([]byte, int)
		want   error
	}{
		{"flipped record byte in a middle batch", func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[4].pos+int64(bs[4].hdr.Size())-3] ^= 0x10
			return b, 4
		}, batch.ErrCRC},
		{"flipped record byte in the first batch", func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[0].pos+batch.HeaderSize+2] ^= 0x01
			return b, 0
		}, batch.ErrCRC},
		{"flipped record byte in the last batch", func(b []byte, bs []storedBatch) ([]byte, int) {
			i := len(bs) - 1
			b[bs[i].pos+int64(bs[i].hdr.Size())-1] ^= 0xff
			return b, i
		}, batch.ErrCRC},
		{"flipped timestamp in a header", func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[2].pos+hdrFirstTimestamp+7] ^= 0x04
			return b, 2
		}, batch.ErrCRC},
		{"flipped stored crc", func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[3].pos+hdrCRC] ^= 0x80
			return b, 3
		}, batch.ErrCRC},
		{"unknown magic", func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[1].pos+hdrMagic] = 1
			return b, 1
		}, batch.ErrUnknownMagic},
		{"length below a header", func(b []byte, bs []storedBatch) ([]byte, int) {
			binary.BigEndian.PutUint32(b[bs[2].pos+hdrLength:], 3)
			return b, 2
		}, batch.ErrBadLength},
		{"length one byte longer", func(b []byte, bs []storedBatch) ([]byte, int) {
			binary.BigEndian.PutUint32(b[bs[2].pos+hdrLength:], uint32(bs[2].hdr.Length+1))
			return b, 2
		}, batch.ErrCRC},
		{"length past the end of the file", func(b []byte, bs []storedBatch) ([]byte, int) {
			binary.BigEndian.PutUint32(b[bs[2].pos+hdrLength:], 1<<20)
			return b, 2
		}, batch.ErrShort},
		{"negative last offset delta", func(b []byte, bs []storedBatch) ([]byte, int) {
			binary.BigEndian.PutUint32(b[bs[5].pos+hdrLastOffsetDelta:], 0xffffffff)
			return b, 5
		}, batch.ErrBadHeader},
		{"base offset going backwards", func(b []byte, bs []storedBatch) ([]byte, int) {
			binary.BigEndian.PutUint64(b[bs[6].pos+hdrBaseOffset:], uint64(bs[5].hdr.BaseOffset))
			return b, 6
		}, errOffsetOrder},
		{"base offset overlapping the previous batch by one", func(b []byte, bs []storedBatch) ([]byte, int) {
			binary.BigEndian.PutUint64(b[bs[6].pos+hdrBaseOffset:], uint64(bs[5].hdr.LastOffset()))
			return b, 6
		}, errOffsetOrder},
		{"torn last batch", func(b []byte, bs []storedBatch) ([]byte, int) {
			return b[:len(b)-7], len(bs) - 1
		}, batch.ErrShort},
		{"torn header of an extra batch", func(b []byte, bs []storedBatch) ([]byte, int) {
			return append(b, b[bs[0].pos:bs[0].pos+20]...), len(bs)
		}, batch.ErrShort},
		// A filesystem can extend a file on a crash without its data.
		{"zeroed tail", func(b []byte, bs []storedBatch) ([]byte, int) {
			return append(b, make([]byte, 4096)...), len(bs)
		}, batch.ErrBadLength},
		{"zeroed last batch", func(b []byte, bs []storedBatch) ([]byte, int) {
			i := len(bs) - 1
			clear(b[bs[i].pos:])
			return b, i
		}, batch.ErrBadLength},
		{"zeroed tail shorter than a length field", func(b []byte, bs []storedBatch) ([]byte, int) {
			return append(b, make([]byte, batch.LogOverhead-1)...), len(bs)
		}, batch.ErrShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 2048, IndexIntervalBytes: 256}
			l := mustOpen(t, dir, opts)
			leo := fillLog(t, l, batches)
			abandon(l)

			bases := segmentBases(t, dir)
			if len(bases) < 2 {
				t.Fatalf("want several segments, have %d", len(bases))
			}
			active := segPath(dir, bases[len(bases)-1], logSuffix)
			bs := batchesIn(t, active)
			var at int
			editFile(t, active, func(b []byte) []byte {
				b, at = c.damage(b, bs)
				return b
			})
			damagedSize := fileSize(t, active)
			last := bs[len(bs)-1]
			want := Truncation{File: active, Position: last.pos + int64(last.hdr.Size()), FirstLostOffset: leo}
			if at < len(bs) {
				want.Position, want.FirstLostOffset = bs[at].pos, bs[at].hdr.BaseOffset
			}
			want.LostBytes = damagedSize - want.Position

			l = mustOpen(t, dir, opts)
			defer l.Close()
			rep := l.Recovery()
			if len(rep.Truncations) != 1 {
				t.Fatalf("truncations %v, want one", rep.Truncations)
			}
			got := rep.Truncations[0]
			if !errors.Is(got.Reason, c.want) {
				t.Errorf("reason %v, want %v", got.Reason, c.want)
			}
			got.Reason = nil
			if got != want {
				t.Errorf("truncation\n got %+v\nwant %+v", got, want)
			}
			if rep.Clean || rep.LostBytes() != want.LostBytes || rep.Segments != len(bases) {
				t.Errorf("report %+v", rep)
			}
			if n := fileSize(t, active); n != want.Position {
				t.Errorf("active segment is %d bytes after recovery, want %d", n, want.Position)
			}
			got0 := readAll(t, l)
			checkContiguous(t, got0, 0, want.FirstLostOffset)
			for _, r := range got0 {
				// Record j of batch i is offset 5i+j with value "b<i>-<j>".
				if v := fmt.Sprintf("b%d-%d", r.offset/5, r.offset%5); r.value != v {
					t.Fatalf("offset %d holds %q, want %q", r.offset, r.value, v)
				}
			}
			checkReadsEveryOffset(t, l)
			if r := mustAppend(t, l, mkBatch(t, batch.CodecNone, "new", 2, 5000)); r.BaseOffset != want.FirstLostOffset {
				t.Fatalf("next append at %d, want %d", r.BaseOffset, want.FirstLostOffset)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			// Recovery is done once: the next open finds a clean log.
			l = mustOpen(t, dir, opts)
			if rep := l.Recovery(); !rep.Clean || len(rep.Truncations) != 0 {
				t.Fatalf("second open: %+v", rep)
			}
			checkContiguous(t, readAll(t, l), 0, want.FirstLostOffset+2)
		})
	}
}

// TestRecoverDamagedMiddleSegment damages a segment that is neither the
// active one nor below the checkpoint's recovery point: recovery validates
// it, truncates it at the damage, and deletes the segments after it,
// reporting each as lost.
func TestRecoverDamagedMiddleSegment(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// recoveryPoint is the index of the segment whose base the
		// checkpoint holds; -1 removes the checkpoint.
		recoveryPoint int
		seg           int // the damaged segment
		damage        func(b []byte, bs []storedBatch) ([]byte, int)
		want          error
	}{
		{"flipped byte in the segment at the recovery point", 1, 1, func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[3].pos+int64(bs[3].hdr.Size())-2] ^= 1
			return b, 3
		}, batch.ErrCRC},
		{"flipped byte in a later segment", 1, 2, func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[5].pos+batch.HeaderSize] ^= 0x20
			return b, 5
		}, batch.ErrCRC},
		{"first batch of a segment zeroed", 1, 2, func(b []byte, bs []storedBatch) ([]byte, int) {
			clear(b[:bs[1].pos])
			return b, 0
		}, batch.ErrBadLength},
		{"torn end of a middle segment", 1, 2, func(b []byte, bs []storedBatch) ([]byte, int) {
			return b[:len(b)-30], len(bs) - 1
		}, batch.ErrShort},
		{"no checkpoint, damage in the first segment", -1, 0, func(b []byte, bs []storedBatch) ([]byte, int) {
			b[bs[2].pos+hdrAttributes+1] ^= 0x40
			return b, 2
		}, batch.ErrCRC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 2048, IndexIntervalBytes: 256}
			l := mustOpen(t, dir, opts)
			leo := fillLog(t, l, 80)
			abandon(l)
			bases := segmentBases(t, dir)
			if len(bases) < 5 {
				t.Fatalf("want at least 5 segments, have %d", len(bases))
			}
			// The checkpoint says a crash happened with the recovery
			// point at bases[recoveryPoint], as when a crash hits a roll
			// before the new checkpoint is written.
			if c.recoveryPoint >= 0 {
				if err := writeCheckpoint(dir, checkpoint{recoveryPoint: bases[c.recoveryPoint], logEnd: leo}); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Remove(filepath.Join(dir, checkpointFile)); err != nil {
				t.Fatal(err)
			}
			sizes := make([]int64, len(bases))
			for i, b := range bases {
				sizes[i] = fileSize(t, segPath(dir, b, logSuffix))
			}
			damaged := segPath(dir, bases[c.seg], logSuffix)
			bs := batchesIn(t, damaged)
			var at int
			editFile(t, damaged, func(b []byte) []byte {
				b, at = c.damage(b, bs)
				return b
			})
			want := []Truncation{{File: damaged, Position: bs[at].pos, LostBytes: fileSize(t, damaged) - bs[at].pos,
				FirstLostOffset: bs[at].hdr.BaseOffset}}
			for i := c.seg + 1; i < len(bases); i++ {
				want = append(want, Truncation{File: segPath(dir, bases[i], logSuffix), LostBytes: sizes[i],
					FirstLostOffset: bs[at].hdr.BaseOffset})
			}
			var wantScanned int64
			for i := max(c.recoveryPoint, 0); i < c.seg; i++ {
				wantScanned += sizes[i]
			}
			wantScanned += bs[at].pos

			l = mustOpen(t, dir, opts)
			defer l.Close()
			rep := l.Recovery()
			if len(rep.Truncations) != len(want) {
				t.Fatalf("truncations %v, want %d", rep.Truncations, len(want))
			}
			for i, got := range rep.Truncations {
				if !errors.Is(got.Reason, c.want) {
					t.Errorf("truncation %d: reason %v, want %v", i, got.Reason, c.want)
				}
				got.Reason = nil
				if got != want[i] {
					t.Errorf("truncation %d\n got %+v\nwant %+v", i, got, want[i])
				}
			}
			if rep.Segments != c.seg+1 || rep.ScannedBytes != wantScanned || rep.Clean {
				t.Errorf("report: %d segments (want %d), scanned %d bytes (want %d), clean %v",
					rep.Segments, c.seg+1, rep.ScannedBytes, wantScanned, rep.Clean)
			}
			if got := segmentBases(t, dir); !slices.Equal(got, bases[:c.seg+1]) {
				t.Errorf("segments left on disk %v, want %v", got, bases[:c.seg+1])
			}
			for _, b := range bases[c.seg+1:] {
				for _, suf := range []string{indexSuffix, timeIndexSuffix} {
					if _, err := os.Stat(segPath(dir, b, suf)); !os.IsNotExist(err) {
						t.Errorf("%s of a lost segment: %v", suf, err)
					}
				}
			}
			firstLost := bs[at].hdr.BaseOffset
			checkContiguous(t, readAll(t, l), 0, firstLost)
			checkReadsEveryOffset(t, l)
			if r := mustAppend(t, l, mkBatch(t, batch.CodecNone, "new", 3, 9000)); r.BaseOffset != firstLost {
				t.Fatalf("next append at %d, want %d", r.BaseOffset, firstLost)
			}
			if l.Segments() != c.seg+1 {
				t.Fatalf("the damaged segment should have become the active one; %d segments", l.Segments())
			}
		})
	}
}

// TestRecoverDamagedIndex damages the index files of a cleanly closed log.
// Open must notice, rebuild the index from its log (and report it), and
// the rebuilt file must be the one that was lost.
func TestRecoverDamagedIndex(t *testing.T) {
	t.Parallel()
	putEntry := func(b []byte, i int, rel, pos uint32) {
		binary.BigEndian.PutUint32(b[i*offsetEntrySize:], rel)
		binary.BigEndian.PutUint32(b[i*offsetEntrySize+4:], pos)
	}
	entry := func(b []byte, i int) (rel, pos uint32) {
		return binary.BigEndian.Uint32(b[i*offsetEntrySize:]), binary.BigEndian.Uint32(b[i*offsetEntrySize+4:])
	}
	remove := func(t *testing.T, path string) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(f func([]byte) []byte) func(*testing.T, string) {
		return func(t *testing.T, path string) { editFile(t, path, f) }
	}
	cases := []struct {
		name   string
		suffix string // the file damaged
		damage func(t *testing.T, path string)
	}{
		{"missing", indexSuffix, remove},
		{"partial trailing entry", indexSuffix, edit(func(b []byte) []byte { return append(b, 0, 0, 1) })},
		{"last entry cut short", indexSuffix, edit(func(b []byte) []byte { return b[:len(b)-3] })},
		{"entries out of order", indexSuffix, edit(func(b []byte) []byte {
			r1, p1 := entry(b, 1)
			r2, p2 := entry(b, 2)
			putEntry(b, 1, r2, p2)
			putEntry(b, 2, r1, p1)
			return b
		})},
		{"entry repeated", indexSuffix, edit(func(b []byte) []byte {
			return append(b[:2*offsetEntrySize:2*offsetEntrySize], b[offsetEntrySize:]...)
		})},
		{"position past the log", indexSuffix, edit(func(b []byte) []byte {
			n := len(b) / offsetEntrySize
			rel, _ := entry(b, n-1)
			putEntry(b, n-1, rel, 1<<30)
			return b
		})},
		{"offset past the segment", indexSuffix, edit(func(b []byte) []byte {
			n := len(b) / offsetEntrySize
			_, pos := entry(b, n-1)
			putEntry(b, n-1, 1<<30, pos)
			return b
		})},
		{"garbage", indexSuffix, edit(func(b []byte) []byte {
			for i := range b {
				b[i] = byte(i*7 + 3)
			}
			return b
		})},
		{"missing time index", timeIndexSuffix, remove},
		{"time index with a partial entry", timeIndexSuffix, edit(func(b []byte) []byte { return b[:len(b)-1] })},
		{"time index going backwards", timeIndexSuffix, edit(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[timeEntrySize:], 1)
			return b
		})},
	}
	for _, c := range cases {
		for _, which := range []string{"old segment", "active segment"} {
			t.Run(c.name+" of the "+which, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				opts := &Options{SegmentBytes: 4096, IndexIntervalBytes: 256}
				l := mustOpen(t, dir, opts)
				leo := fillLog(t, l, 60)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				bases := segmentBases(t, dir)
				if len(bases) < 2 {
					t.Fatalf("want several segments, have %d", len(bases))
				}
				base := bases[0]
				if which == "active segment" {
					base = bases[len(bases)-1]
				}
				idxPath, logPath := segPath(dir, base, indexSuffix), segPath(dir, base, logSuffix)
				origIdx := readFile(t, idxPath)
				if len(origIdx) < 3*offsetEntrySize {
					t.Fatalf("index of %d has only %d bytes", base, len(origIdx))
				}
				c.damage(t, segPath(dir, base, c.suffix))

				l = mustOpen(t, dir, opts)
				rep := l.Recovery()
				if !slices.Equal(rep.RebuiltIndexes, []string{idxPath}) {
					t.Errorf("rebuilt indexes %q, want %q", rep.RebuiltIndexes, idxPath)
				}
				if rep.Clean || len(rep.Truncations) != 0 || rep.ScannedBytes != fileSize(t, logPath) {
					t.Errorf("report %+v, want %d bytes scanned", rep, fileSize(t, logPath))
				}
				checkContiguous(t, readAll(t, l), 0, leo)
				checkReadsEveryOffset(t, l)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if got := readFile(t, idxPath); !bytes.Equal(got, origIdx) {
					t.Errorf("rebuilt index\n%x\nwant\n%x", got, origIdx)
				}
				l = mustOpen(t, dir, opts)
				defer l.Close()
				if rep := l.Recovery(); !rep.Clean {
					t.Errorf("reopen after the rebuild: %+v", rep)
				}
			})
		}
	}
}

// TestRecoverCorruptCheckpoint damages the checkpoint of a cleanly closed
// log: Open must say so, validate the whole log and lose nothing.
func TestRecoverCorruptCheckpoint(t *testing.T) {
	t.Parallel()
	resum := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[40:], crc32.Checksum(b[:40], castagnoli))
		return b
	}
	cases := []struct {
		name    string
		damage  func([]byte) []byte // nil removes the file
		problem bool                // CheckpointProblem must be set
	}{
		{"flipped byte", func(b []byte) []byte { b[12] ^= 1; return b }, true},
		{"flipped crc", func(b []byte) []byte { b[43] ^= 1; return b }, true},
		{"cut short", func(b []byte) []byte { return b[:20] }, true},
		{"empty", func(b []byte) []byte { return nil }, true},
		{"longer", func(b []byte) []byte { return append(b, 0) }, true},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return resum(b) }, true},
		{"unknown version", func(b []byte) []byte { b[5] = 9; return resum(b) }, true},
		{"log end below log start", func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[16:], 1<<40)
			return resum(b)
		}, true},
		{"missing", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 4096, IndexIntervalBytes: 256}
			l := mustOpen(t, dir, opts)
			leo := fillLog(t, l, 60)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, checkpointFile)
			if c.damage == nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				editFile(t, path, c.damage)
			}
			var total int64
			for _, b := range segmentBases(t, dir) {
				total += fileSize(t, segPath(dir, b, logSuffix))
			}

			l = mustOpen(t, dir, opts)
			rep := l.Recovery()
			if c.problem != (rep.CheckpointProblem != nil) || (c.problem && !errors.Is(rep.CheckpointProblem, errCorruptCheckpoint)) {
				t.Errorf("checkpoint problem %v, want one: %v", rep.CheckpointProblem, c.problem)
			}
			if rep.Clean || rep.ScannedBytes != total || len(rep.Truncations) != 0 {
				t.Errorf("report %+v, want the whole log (%d bytes) validated", rep, total)
			}
			checkContiguous(t, readAll(t, l), 0, leo)
			checkReadsEveryOffset(t, l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, opts)
			defer l.Close()
			if rep := l.Recovery(); !rep.Clean || rep.CheckpointProblem != nil {
				t.Errorf("reopen: %+v", rep)
			}
			checkContiguous(t, readAll(t, l), 0, leo)
		})
	}
}

// TestRebuiltSegmentKeepsItsLargestTimestamp rebuilds the indexes of a
// segment that is not the active one, then closes and reopens the log.
// The segment's time index must still end with its largest timestamp, as
// the index written when the segment rolled did: OffsetForTimestamp and
// retention.ms use that entry for a trusted segment.
func TestRebuiltSegmentKeepsItsLargestTimestamp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		interval int // IndexIntervalBytes
		damage   func(t *testing.T, dir string)
	}{
		{"lost checkpoint", 256, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, checkpointFile), func(b []byte) []byte { return b[:3] })
		}},
		{"damaged offset index", 256, func(t *testing.T, dir string) {
			editFile(t, segPath(dir, 0, indexSuffix), func(b []byte) []byte { return b[:len(b)-1] })
		}},
		{"lost checkpoint, segment smaller than the index interval", 8192, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, checkpointFile), func(b []byte) []byte { return b[:3] })
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 4096, IndexIntervalBytes: c.interval}
			l := mustOpen(t, dir, opts)
			fillLog(t, l, 60) // batch i holds timestamps 1000+10i .. 1000+10i+4
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			bases := segmentBases(t, dir)
			seg0 := batchesIn(t, segPath(dir, 0, logSuffix))
			last := seg0[len(seg0)-1].hdr
			origTidx := readFile(t, segPath(dir, 0, timeIndexSuffix))
			c.damage(t, dir)

			l = mustOpen(t, dir, opts)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, opts)
			defer l.Close()
			if rep := l.Recovery(); !rep.Clean {
				t.Errorf("second open after the rebuild is not clean: %+v", rep)
			}
			if got := readFile(t, segPath(dir, 0, timeIndexSuffix)); !bytes.Equal(got, origTidx) {
				t.Errorf("rebuilt time index of segment 0\n%x\nwant\n%x", got, origTidx)
			}
			// The last record of segment 0 is the first at its timestamp.
			off, ts, found, err := l.OffsetForTimestamp(last.MaxTimestamp)
			if err != nil || !found || off != last.LastOffset() || ts != last.MaxTimestamp {
				t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d (segment 0 ends at %d)",
					last.MaxTimestamp, off, ts, found, err, last.LastOffset(), bases[1])
			}
		})
	}
}

// TestRecoverInterruptedCompaction leaves the files of a compaction that
// crashed at each step of its protocol: uncommitted output is deleted, a
// committed swap replaces the segment, and its indexes are rebuilt.
func TestRecoverInterruptedCompaction(t *testing.T) {
	t.Parallel()
	opts := &Options{SegmentBytes: 2048, IndexIntervalBytes: 128, Compact: true}

	// before holds a log ready for compaction; after the same log
	// compacted, whose segment 0 is what a crashed compaction wrote.
	before, after := t.TempDir(), t.TempDir()
	l := mustOpen(t, before, opts)
	for i := 0; i < 120; i++ {
		key := fmt.Sprintf("key%d", i%7) // superseded later
		if i%3 == 0 {
			key = fmt.Sprintf("unique%d", i) // kept
		}
		mustAppend(t, l, mkKV(t, key, []byte(fmt.Sprintf("value%d", i)), int64(1000+i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	copyDir(t, before, after)
	l = mustOpen(t, after, opts)
	if st, err := l.Compact(); err != nil || st.Rewritten == 0 {
		t.Fatalf("compact: %+v, %v", st, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	beforeLog := readFile(t, segPath(before, 0, logSuffix))
	compacted := readFile(t, segPath(after, 0, logSuffix))
	compactedIdx := readFile(t, segPath(after, 0, indexSuffix))
	compactedTidx := readFile(t, segPath(after, 0, timeIndexSuffix))
	if len(compacted) >= len(beforeLog) || len(compactedIdx) == 0 {
		t.Fatalf("segment 0 went from %d to %d bytes, index %d bytes", len(beforeLog), len(compacted), len(compactedIdx))
	}
	// After the swap of segment 0 alone: its compacted records, then the
	// records of the other segments as they were.
	wantRecs := recordsIn(t, compacted)
	l = mustOpen(t, before, opts)
	_, hw, _ := l.Offsets()
	wantRecs = append(wantRecs, readRange(t, l, segmentBases(t, before)[1], hw)...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	write := func(t *testing.T, dir, name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := func(suffix string) string { return segmentName(0, suffix) }
	cases := []struct {
		name      string
		files     map[string][]byte // extra files left in the directory
		committed bool
	}{
		{"cleaned output not yet committed", map[string][]byte{
			name(logSuffix) + cleanedSuffix:       compacted,
			name(indexSuffix) + cleanedSuffix:     compactedIdx,
			name(timeIndexSuffix) + cleanedSuffix: {1, 2, 3},
		}, false},
		{"cleaned log half written", map[string][]byte{
			name(logSuffix) + cleanedSuffix: compacted[:len(compacted)/2],
		}, false},
		{"leftover checkpoint temp file", map[string][]byte{
			checkpointFile + ".tmp": {'R', 'N'},
		}, false},
		{"committed, indexes not moved", map[string][]byte{
			name(logSuffix) + swapSuffix:          compacted,
			name(indexSuffix) + cleanedSuffix:     compactedIdx,
			name(timeIndexSuffix) + cleanedSuffix: {1, 2, 3},
		}, true},
		{"committed, indexes moved", map[string][]byte{
			name(logSuffix) + swapSuffix: compacted,
			name(indexSuffix):            compactedIdx,
			name(timeIndexSuffix):        compactedTidx,
		}, true},
		{"committed, indexes lost", map[string][]byte{
			name(logSuffix) + swapSuffix: compacted,
			name(indexSuffix):            []byte("garbage"),
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			copyDir(t, before, dir)
			for n, b := range c.files {
				write(t, dir, n, b)
			}
			l := mustOpen(t, dir, opts)
			defer l.Close()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if _, ok := c.files[e.Name()]; ok && e.Name() != name(indexSuffix) && e.Name() != name(timeIndexSuffix) {
					t.Errorf("%s is still there after Open", e.Name())
				}
			}
			rep := l.Recovery()
			if len(rep.Truncations) != 0 {
				t.Errorf("truncations %v", rep.Truncations)
			}
			got := readAll(t, l)
			if !c.committed {
				checkReadsEveryOffset(t, l)
				if !bytes.Equal(readFile(t, segPath(dir, 0, logSuffix)), beforeLog) {
					t.Fatal("segment 0 changed")
				}
				checkContiguous(t, got, 0, 120)
				return
			}
			if !bytes.Equal(readFile(t, segPath(dir, 0, logSuffix)), compacted) {
				t.Fatal("segment 0 is not the committed compaction output")
			}
			if rep.ScannedBytes < int64(len(compacted)) {
				t.Errorf("scanned %d bytes, want at least the swapped segment's %d", rep.ScannedBytes, len(compacted))
			}
			if !slices.Equal(got, wantRecs) {
				t.Errorf("records after the swap\n%v\nwant\n%v", got, wantRecs)
			}
			// Compaction leaves holes: a read returns the next record.
			for off, i := int64(0), 0; off < wantRecs[len(wantRecs)-1].offset; off++ {
				for wantRecs[i].offset < off {
					i++
				}
				res, err := l.Read(off, 1)
				if err != nil {
					t.Fatalf("read %d: %v", off, err)
				}
				recs := recordsIn(t, res.Data)
				for len(recs) > 0 && recs[0].offset < off {
					recs = recs[1:]
				}
				if len(recs) == 0 || recs[0] != wantRecs[i] {
					t.Fatalf("read %d returned %v, want %v first", off, recs, wantRecs[i])
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if idx := readFile(t, segPath(dir, 0, indexSuffix)); !bytes.Equal(idx, compactedIdx) {
				t.Errorf("rebuilt index\n%x\nwant\n%x", idx, compactedIdx)
			}
			if tidx := readFile(t, segPath(dir, 0, timeIndexSuffix)); !bytes.Equal(tidx, compactedTidx) {
				t.Errorf("rebuilt time index\n%x\nwant\n%x", tidx, compactedTidx)
			}
		})
	}
}
