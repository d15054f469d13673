package log

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// RecoveryReport says what Open found and repaired.
type RecoveryReport struct {
	// Clean is true when the log was closed cleanly and nothing had to
	// be read to open it.
	Clean bool
	// Segments is the number of segments after recovery.
	Segments int
	// ScannedBytes counts the log bytes validated batch by batch.
	ScannedBytes int64
	// Truncations lists the data removed because it was torn or corrupt.
	Truncations []Truncation
	// RebuiltIndexes names the index files rebuilt from their log.
	RebuiltIndexes []string
	// CheckpointProblem is set when the checkpoint was unreadable (the
	// whole log was then validated).
	CheckpointProblem error
	// Duration is how long Open took.
	Duration time.Duration
}

// Truncation is data removed by recovery: everything in File from Position
// on (LostBytes bytes), and with it every offset from FirstLostOffset on.
type Truncation struct {
	File            string
	Position        int64
	LostBytes       int64
	FirstLostOffset int64
	Reason          error
}

func (t Truncation) String() string {
	return fmt.Sprintf("%s: truncated %d bytes at byte %d (offsets from %d lost): %v",
		t.File, t.LostBytes, t.Position, t.FirstLostOffset, t.Reason)
}

// LostBytes is the total of bytes removed by recovery.
func (r *RecoveryReport) LostBytes() int64 {
	var n int64
	for _, t := range r.Truncations {
		n += t.LostBytes
	}
	return n
}

// recover loads the segments, validating what the checkpoint does not
// vouch for, and installs the result in l.
func (l *Log) recover() error {
	began := time.Now()
	rep := &l.recovery
	rebuild, err := l.finishSwaps()
	if err != nil {
		return err
	}
	bases, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	ckpt, haveCkpt, err := readCheckpoint(l.dir)
	if err != nil {
		rep.CheckpointProblem = err
		l.opts.Logger.Warn("unreadable checkpoint; validating the whole log", "dir", l.dir, "err", err)
	}

	// vouched: everything in segment i is below the recovery point, or the
	// log was closed cleanly and its last segment has not changed since.
	vouched := func(i int) bool {
		if !haveCkpt {
			return false
		}
		if i < len(bases)-1 {
			return bases[i+1] <= ckpt.recoveryPoint
		}
		st, err := os.Stat(filepath.Join(l.dir, segmentName(bases[i], logSuffix)))
		return err == nil && ckpt.clean && st.Size() == ckpt.activeSize && ckpt.logEnd >= bases[i]
	}
	// The producer state comes from the snapshot taken where validation
	// starts (the log end after a clean close); the batches validated
	// after it are replayed on top. Without that snapshot every segment is
	// validated and replayed from the start.
	firstUnvouched := len(bases)
	for i := range bases {
		if !vouched(i) {
			firstUnvouched = i
			break
		}
	}
	ps, replayAll := newProducerState(), true
	if haveCkpt {
		at := ckpt.logEnd
		if firstUnvouched < len(bases) {
			at = bases[firstUnvouched]
		}
		if snap, err := loadSnapshot(l.dir, at); err == nil {
			ps, replayAll = snap, false
		} else if len(bases) > 0 {
			l.opts.Logger.Warn("no usable producer snapshot; validating the whole log", "dir", l.dir, "offset", at, "err", err)
		}
	}
	l.mu.producers = ps

	var segs []*segment
	before := map[int64][]byte{} // producer state before replaying a segment, by base
	expectNext := int64(0)
	for i, base := range bases {
		s, err := openSegment(l.dir, base)
		if err != nil {
			closeAll(segs)
			return err
		}
		last := i == len(bases)-1
		if base < expectNext {
			// Overlaps the segment before it: it cannot be trusted
			// and it cannot follow; drop it and what comes after.
			l.dropFrom(rep, s, bases[i:], expectNext, fmt.Errorf("%w: segment starts at %d, before %d", errOffsetOrder, base, expectNext))
			break
		}
		isVouched := !replayAll && vouched(i)
		trusted := isVouched && !rebuild[base]
		if isVouched {
			end := ckpt.logEnd
			if !last {
				end = bases[i+1]
			}
			if err := s.txidx.load(func(a AbortedTxn) bool { return a.LastOffset >= base && a.LastOffset < end }); err != nil {
				// Only a replay from an older snapshot could rebuild it.
				l.opts.Logger.Warn("transaction index unusable; read_committed reads of this segment may include aborted records",
					"segment", s.path(logSuffix), "err", err)
			}
		}
		if trusted {
			if err := l.loadIndexes(s, last, ckpt.logEnd, bases, i); err != nil {
				l.opts.Logger.Warn("rebuilding index", "segment", s.path(logSuffix), "err", err)
				rep.RebuiltIndexes = append(rep.RebuiltIndexes, s.path(indexSuffix))
				trusted = false
			}
		}
		if !trusted {
			s.idx.keep(0)
			s.tidx.keep(0)
			var replay func([]byte, *batch.Header) error
			if !isVouched {
				s.txidx.keep(0)
				replay = l.replayer(ps, s)
				before[base] = ps.marshal(base)
			}
			limit := int64(math.MaxInt64)
			if !last {
				limit = bases[i+1]
			}
			end, stop := s.scan(0, max(expectNext, base), limit, l.opts.IndexIntervalBytes, 0, replay)
			rep.ScannedBytes += end
			if stop != nil {
				l.truncate(rep, s, end, stop)
				if err := s.syncFiles(); err != nil {
					closeAll(append(segs, s))
					return err
				}
				segs = append(segs, s)
				for _, b := range bases[i+1:] {
					l.removeLost(rep, b, s.next, stop)
				}
				break
			}
			if !last {
				s.maybeTimeEntry() // as roll does: the last entry holds the segment's largest timestamp
			}
			if err := s.syncFiles(); err != nil {
				closeAll(append(segs, s))
				return err
			}
		}
		segs = append(segs, s)
		expectNext = s.next
	}

	if len(segs) == 0 {
		base := int64(0)
		if haveCkpt {
			base = ckpt.logStart
		}
		s, err := openSegment(l.dir, base)
		if err == nil {
			err = fsutil.SyncDir(l.dir)
		}
		if err != nil {
			return err
		}
		segs = append(segs, s)
	}
	active := segs[len(segs)-1]
	active.created = l.now()
	if active.size > 0 && active.firstTS < 0 {
		var buf [batch.HeaderSize]byte
		if h, err := active.readHeader(0, buf[:]); err == nil {
			active.firstTS = h.FirstTimestamp
		}
	}
	l.mu.segments = segs
	l.mu.leo = active.next
	l.mu.logStart = segs[0].base
	if haveCkpt && ckpt.logStart > l.mu.logStart {
		l.mu.logStart = min(ckpt.logStart, l.mu.leo)
	}
	l.smu.durable = l.mu.leo
	l.smu.lastFlush = l.now()
	removeSnapshotsAfter(l.dir, l.mu.leo)
	// A crash from now on validates the active segment again, from the
	// snapshot at its base: make sure there is one.
	if snap, ok := before[active.base]; ok || active.size == 0 {
		if !ok {
			snap = ps.marshal(active.base)
		}
		if _, err := os.Stat(filepath.Join(l.dir, segmentName(active.base, snapshotSuffix))); os.IsNotExist(err) {
			if err := fsutil.WriteFileAtomic(l.dir, segmentName(active.base, snapshotSuffix), snap); err != nil {
				return err
			}
		}
	}
	rep.Clean = haveCkpt && ckpt.clean && rep.ScannedBytes == 0 && len(rep.Truncations) == 0 && len(rep.RebuiltIndexes) == 0
	rep.Segments = len(segs)
	// From here on the log may change: the checkpoint must not say clean.
	if err := l.checkpointLocked(false); err != nil {
		return err
	}
	rep.Duration = time.Since(began)
	for _, t := range rep.Truncations {
		l.opts.Logger.Warn("recovery truncated the log", "file", t.File, "position", t.Position,
			"lost_bytes", t.LostBytes, "first_lost_offset", t.FirstLostOffset, "reason", t.Reason)
	}
	return nil
}

// loadIndexes loads a trusted segment's indexes, checking them against the
// segment, and sets its timestamp and end state.
func (l *Log) loadIndexes(s *segment, last bool, logEnd int64, bases []int64, i int) error {
	end := logEnd
	if !last {
		end = bases[i+1]
	}
	s.next = end
	if s.missingIndex && s.size > 0 {
		return fmt.Errorf("%w: %s or %s is missing", errCorruptIndex, s.path(indexSuffix), s.path(timeIndexSuffix))
	}
	if err := s.idx.load(func(e offsetEntry) bool {
		return int64(e.pos) < s.size && s.base+int64(e.rel) < end
	}); err != nil {
		return err
	}
	if err := s.tidx.load(func(e timeEntry) bool { return s.base+int64(e.rel) < end }); err != nil {
		s.idx.keep(0)
		return err
	}
	if e, ok := s.tidx.last(); ok {
		s.maxTS, s.maxTSOff = e.ts, s.base+int64(e.rel)
	} else if s.size > 0 {
		s.idx.keep(0)
		return fmt.Errorf("%w: %s has no entry for a non-empty segment", errCorruptIndex, s.path(timeIndexSuffix))
	}
	return nil
}

// truncate cuts s at end, recording what was lost.
func (l *Log) truncate(rep *RecoveryReport, s *segment, end int64, reason error) {
	st, err := s.f.Stat()
	size := end
	if err == nil {
		size = st.Size()
	}
	rep.Truncations = append(rep.Truncations, Truncation{
		File: s.path(logSuffix), Position: end, LostBytes: size - end, FirstLostOffset: s.next, Reason: reason,
	})
	if err := s.f.Truncate(end); err != nil {
		l.opts.Logger.Error("truncate failed", "file", s.path(logSuffix), "err", err)
	}
	s.size = end
}

// dropFrom removes s and the segments after it.
func (l *Log) dropFrom(rep *RecoveryReport, s *segment, bases []int64, firstLost int64, reason error) {
	s.close()
	for _, b := range bases {
		l.removeLost(rep, b, firstLost, reason)
	}
}

// removeLost deletes the segment at base, recording it as lost.
func (l *Log) removeLost(rep *RecoveryReport, base, firstLost int64, reason error) {
	s := &segment{dir: l.dir, base: base, idx: newOffsetIndex(), tidx: newTimeIndex(), txidx: newTxnIndex()}
	var size int64
	if st, err := os.Stat(s.path(logSuffix)); err == nil {
		size = st.Size()
	}
	rep.Truncations = append(rep.Truncations, Truncation{
		File: s.path(logSuffix), LostBytes: size, FirstLostOffset: firstLost,
		Reason: fmt.Errorf("follows a truncated segment: %w", reason),
	})
	if err := s.remove(); err != nil {
		l.opts.Logger.Error("removing segment failed", "file", s.path(logSuffix), "err", err)
	}
}

// replayer returns the scan callback that rebuilds the producer state (and
// s's transaction index) from the batches validated during recovery.
func (l *Log) replayer(ps *producerState, s *segment) func([]byte, *batch.Header) error {
	return func(b []byte, h *batch.Header) error {
		if !h.IsControl() {
			ps.apply(h)
			return nil
		}
		commit, coordinatorEpoch, err := markerType(b, h)
		if err != nil {
			return err
		}
		lso := ps.firstUnstable()
		if lso < 0 {
			lso = h.BaseOffset
		}
		if a, ok := ps.endTxn(h.ProducerID, h.ProducerEpoch, commit, coordinatorEpoch, h.BaseOffset, lso); ok {
			s.txidx.add(a)
		}
		return nil
	}
}

// syncFiles fsyncs the log and writes and fsyncs its indexes.
func (s *segment) syncFiles() error {
	return errors.Join(s.f.Sync(), s.syncIndexes())
}

// finishSwaps completes or rolls back compactions interrupted by a crash:
// a ".log.swap" file is a committed compaction, renamed into place (its
// indexes are rebuilt); ".cleaned" and ".tmp" files are uncommitted and
// deleted. It returns the bases whose indexes must be rebuilt.
func (l *Log) finishSwaps() (map[int64]bool, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	rebuild := map[int64]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, logSuffix+swapSuffix):
			base, ok := parseBase(strings.TrimSuffix(name, swapSuffix))
			if !ok {
				continue
			}
			final := filepath.Join(l.dir, segmentName(base, logSuffix))
			if err := os.Rename(filepath.Join(l.dir, name), final); err != nil {
				return nil, err
			}
			// The offset and time indexes are rebuilt; the transaction
			// index is kept: compaction does not change it.
			for _, suf := range []string{indexSuffix, timeIndexSuffix} {
				os.Remove(filepath.Join(l.dir, segmentName(base, suf)))
			}
			rebuild[base] = true
		case strings.HasSuffix(name, cleanedSuffix), strings.HasSuffix(name, ".tmp"),
			strings.HasSuffix(name, swapSuffix):
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, err
			}
		}
	}
	if len(rebuild) > 0 {
		return rebuild, fsutil.SyncDir(l.dir)
	}
	return rebuild, nil
}

// listSegments returns the base offsets of the .log files in dir, sorted,
// and deletes index files that have no log.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	logs := map[int64]bool{}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseBase(e.Name()); ok && strings.HasSuffix(e.Name(), logSuffix) {
			logs[base] = true
			bases = append(bases, base)
		}
	}
	for _, e := range entries {
		name := e.Name()
		if base, ok := parseBase(name); ok && !logs[base] &&
			(strings.HasSuffix(name, indexSuffix) || strings.HasSuffix(name, timeIndexSuffix)) {
			os.Remove(filepath.Join(dir, name))
		}
	}
	slices.Sort(bases)
	return bases, nil
}

// parseBase parses "<20 digits>.<suffix>".
func parseBase(name string) (int64, bool) {
	if len(name) < 21 || name[20] != '.' {
		return 0, false
	}
	n, err := strconv.ParseInt(name[:20], 10, 64)
	return n, err == nil && n >= 0
}

func closeAll(segs []*segment) {
	for _, s := range segs {
		s.close()
	}
}
