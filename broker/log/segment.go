package log

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
)

// File name suffixes in a partition directory.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	cleanedSuffix   = ".cleaned" // compaction output, not yet committed
	swapSuffix      = ".swap"    // compaction output, committed, not yet renamed
)

// indexSuffixes are the files kept beside each .log.
var indexSuffixes = []string{indexSuffix, timeIndexSuffix, txnIndexSuffix}

func segmentName(base int64, suffix string) string { return fmt.Sprintf("%020d%s", base, suffix) }

// segment is one .log file with its two indexes. The fields of the active
// segment are guarded by Log.mu; other segments are immutable except for
// the compactor swapping them whole (under Log.mu).
type segment struct {
	dir  string
	base int64
	f    *os.File
	size int64 // bytes of valid batches in f

	idx   *fileIndex[offsetEntry]
	tidx  *fileIndex[timeEntry]
	txidx *fileIndex[AbortedTxn] // aborted transactions whose marker is here

	next       int64 // offset after the last batch; exact for the active segment
	maxTS      int64 // largest batch max timestamp seen, -1 when empty
	maxTSOff   int64 // last offset of the batch that set maxTS
	firstTS    int64 // first timestamp of the first batch, -1 when empty (segment.ms)
	sinceIndex int   // log bytes since the last offset index entry
	created    time.Time
	extra      string // appended to every file name: cleanedSuffix while compacting

	missingIndex bool // an index file did not exist when the segment was opened
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentName(s.base, suffix)+s.extra)
}

// openSegment opens (creating when missing) the three files of the segment
// at base. It does not load or check anything.
func openSegment(dir string, base int64) (*segment, error) {
	return openSegmentFiles(dir, base, "")
}

// openSegmentFiles is openSegment for file names ending in extra.
func openSegmentFiles(dir string, base int64, extra string) (*segment, error) {
	s := &segment{dir: dir, base: base, next: base, maxTS: -1, maxTSOff: -1, firstTS: -1,
		idx: newOffsetIndex(), tidx: newTimeIndex(), txidx: newTxnIndex(), extra: extra}
	f, err := os.OpenFile(s.path(logSuffix), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	s.f = f
	for _, suf := range indexSuffixes {
		if _, err := os.Stat(s.path(suf)); os.IsNotExist(err) {
			s.missingIndex = true
		}
	}
	if err := s.idx.open(s.path(indexSuffix)); err != nil {
		s.close()
		return nil, err
	}
	if err := s.tidx.open(s.path(timeIndexSuffix)); err != nil {
		s.close()
		return nil, err
	}
	if err := s.txidx.open(s.path(txnIndexSuffix)); err != nil {
		s.close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		s.close()
		return nil, err
	}
	s.size = st.Size()
	return s, nil
}

func (s *segment) close() error {
	var errs []error
	if s.f != nil {
		errs = append(errs, s.f.Close())
		s.f = nil
	}
	errs = append(errs, s.idx.close(), s.tidx.close(), s.txidx.close())
	return errors.Join(errs...)
}

// remove closes the segment and deletes its files.
func (s *segment) remove() error {
	err := s.close()
	for _, suf := range append([]string{logSuffix, snapshotSuffix}, indexSuffixes...) {
		if e := os.Remove(s.path(suf)); e != nil && !os.IsNotExist(e) && err == nil {
			err = e
		}
	}
	return err
}

func (s *segment) rel(offset int64) uint32 { return uint32(offset - s.base) }

// track updates the in-memory index state for a batch stored at pos. It
// follows Kafka's order: the max timestamp first, then an index entry for
// this batch when IndexIntervalBytes have passed since the last one.
func (s *segment) track(h *batch.Header, pos int64, interval int) {
	if s.firstTS < 0 && pos == 0 {
		s.firstTS = h.FirstTimestamp
	}
	if h.MaxTimestamp > s.maxTS {
		s.maxTS, s.maxTSOff = h.MaxTimestamp, h.LastOffset()
	}
	if pos > 0 && s.sinceIndex >= interval {
		s.idx.add(offsetEntry{s.rel(h.BaseOffset), uint32(pos)})
		s.maybeTimeEntry()
		s.sinceIndex = 0
	}
	s.sinceIndex += h.Size()
	s.next = h.LastOffset() + 1
}

// maybeTimeEntry adds a time index entry when the max timestamp grew.
func (s *segment) maybeTimeEntry() {
	if s.maxTS < 0 {
		return
	}
	if last, ok := s.tidx.last(); ok && last.ts >= s.maxTS {
		return
	}
	s.tidx.add(timeEntry{s.maxTS, s.rel(s.maxTSOff)})
}

// each reads and validates the batches from pos to the end of the file and
// calls fn with each (b is only valid during the call). It stops at the
// first batch that is torn or corrupt, or when fn fails, and returns where
// the valid data ends plus the reason (nil at a clean end of file).
func (s *segment) each(pos int64, maxBatch int, fn func(pos int64, b []byte, h *batch.Header) error) (end int64, stop error) {
	st, err := s.f.Stat()
	if err != nil {
		return pos, err
	}
	fileSize := st.Size()
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, pos, fileSize-pos), 1<<20)
	buf := make([]byte, 0, 64<<10)
	for pos < fileSize {
		head, err := r.Peek(batch.LogOverhead)
		if err != nil {
			return pos, fmt.Errorf("%w: %d bytes left at the end of the file", batch.ErrShort, fileSize-pos)
		}
		size, err := batch.Frame(head, maxBatch)
		if err != nil {
			return pos, err
		}
		if int64(size) > fileSize-pos {
			return pos, fmt.Errorf("%w: batch of %d bytes, %d left in the file", batch.ErrShort, size, fileSize-pos)
		}
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return pos, err
		}
		h, _, err := batch.Check(buf, maxBatch)
		if err != nil {
			return pos, err
		}
		if err := fn(pos, buf, &h); err != nil {
			return pos, err
		}
		pos += int64(size)
	}
	return pos, nil
}

// scan validates the batches from pos on (see each), checks that offsets
// only grow from expectNext on and stay below limit (the next segment's
// base) and within the 32-bit reach of the indexes, and rebuilds the
// in-memory index state. replay, when not nil, sees every valid batch in
// order.
func (s *segment) scan(pos, expectNext, limit int64, interval, maxBatch int, replay func([]byte, *batch.Header) error) (end int64, stop error) {
	limit = min(limit, s.base+math.MaxInt32+1)
	return s.each(pos, maxBatch, func(pos int64, b []byte, h *batch.Header) error {
		if h.BaseOffset < expectNext {
			return fmt.Errorf("%w: base offset %d, expected at least %d", errOffsetOrder, h.BaseOffset, expectNext)
		}
		if h.LastOffset() >= limit || h.LastOffset() < h.BaseOffset {
			return fmt.Errorf("%w: batch [%d, %d] does not fit segment %d (next offset limit %d)", errOffsetOrder, h.BaseOffset, h.LastOffset(), s.base, limit)
		}
		if replay != nil {
			if err := replay(b, h); err != nil {
				return err
			}
		}
		s.track(h, pos, interval)
		expectNext = h.LastOffset() + 1
		return nil
	})
}

var errOffsetOrder = errors.New("broker/log: batch offsets go backwards")

// readHeader reads the batch header at pos.
func (s *segment) readHeader(pos int64, buf []byte) (batch.Header, error) {
	n, err := s.f.ReadAt(buf[:batch.HeaderSize], pos)
	if n < batch.HeaderSize {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return batch.Header{}, fmt.Errorf("broker/log: read header at %s:%d: %w", s.path(logSuffix), pos, err)
	}
	return batch.ParseHeader(buf)
}

// find returns the position of the first batch whose last offset is >=
// offset, or end when no such batch lies before end.
func (s *segment) find(offset, end int64) (int64, error) {
	pos := int64(0)
	if i := s.idx.search(func(e offsetEntry) bool { return int64(e.rel)+s.base <= offset }); i >= 0 {
		pos = int64(s.idx.entries[i].pos)
	}
	var buf [batch.HeaderSize]byte
	for pos < end {
		h, err := s.readHeader(pos, buf[:])
		if err != nil {
			return 0, err
		}
		if h.LastOffset() >= offset {
			return pos, nil
		}
		pos += int64(h.Size())
	}
	return end, nil
}

// findTime returns the position to start scanning for the first record
// with a timestamp >= ts: every batch before it has only older records.
func (s *segment) findTime(ts int64) int64 {
	i := s.tidx.search(func(e timeEntry) bool { return e.ts < ts })
	if i < 0 {
		return 0
	}
	after := s.base + int64(s.tidx.entries[i].rel) + 1
	if j := s.idx.search(func(e offsetEntry) bool { return int64(e.rel)+s.base <= after }); j >= 0 {
		return int64(s.idx.entries[j].pos)
	}
	return 0
}

// syncIndexes writes pending index entries and fsyncs the index files.
func (s *segment) syncIndexes() error {
	return errors.Join(s.idx.sync(), s.tidx.sync(), s.txidx.sync())
}
