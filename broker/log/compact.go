package log

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// CompactStats describes one compaction pass.
type CompactStats struct {
	Segments       int   // segments examined
	Rewritten      int   // segments replaced by a smaller copy
	RecordsRemoved int64 // superseded records and expired tombstones dropped
	BytesBefore    int64
	BytesAfter     int64
}

// Compact applies cleanup.policy=compact to the segments before the active
// one: it keeps only the newest record of each key, and drops tombstones
// (null values) once their segment's newest timestamp is older than
// delete.retention.ms. Offsets never change: a batch keeps its base offset
// and offset range even when records inside it are removed, and a batch
// that loses every record is removed whole. Records without a key, control
// batches and the active segment are never touched.
//
// Each changed segment is rewritten beside the original as
// "<base>.log.cleaned" (with its indexes), fsynced, then committed by a
// rename to "<base>.log.swap" and renamed into place; Open finishes a
// committed swap and discards an uncommitted one. Appends and reads run
// during the whole pass except for the pointer swap of each segment.
//
// The key map holds every distinct key of the compacted segments in memory.
func (l *Log) Compact() (CompactStats, error) {
	var st CompactStats
	l.maint.Lock()
	defer l.maint.Unlock()
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return st, ErrClosed
	}
	opts := l.opts
	segs := append([]*segment(nil), l.mu.segments[:len(l.mu.segments)-1]...)
	activeBase := l.active().base
	fresh := activeBase > l.mu.cleanedTo
	l.mu.RUnlock()
	if !opts.Compact || !fresh || len(segs) == 0 {
		return st, nil
	}
	st.Segments = len(segs)

	latest := map[string]int64{}
	for _, s := range segs {
		st.BytesBefore += s.size
		if _, err := s.each(0, 0, func(_ int64, b []byte, h *batch.Header) error {
			if h.IsControl() {
				return nil
			}
			recs, err := batch.Records(b, h)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Key != nil {
					latest[string(r.Key)] = h.BaseOffset + int64(r.OffsetDelta)
				}
			}
			return nil
		}); err != nil {
			return st, fmt.Errorf("broker/log: compact %s: %w", s.path(logSuffix), err)
		}
	}

	horizon := l.now().UnixMilli() - opts.DeleteRetentionMs.Milliseconds()
	for _, s := range segs {
		if l.isSyncing(s) {
			st.BytesAfter += s.size
			continue
		}
		ns, removed, err := l.cleanSegment(s, latest, s.maxTS < horizon, opts.IndexIntervalBytes)
		if err != nil {
			return st, err
		}
		st.RecordsRemoved += removed
		if ns == nil {
			st.BytesAfter += s.size
			continue
		}
		if err := l.swap(s, ns); err != nil {
			return st, err
		}
		st.Rewritten++
		st.BytesAfter += ns.size
	}
	l.mu.Lock()
	l.mu.cleanedTo = activeBase
	l.mu.Unlock()
	return st, nil
}

// cleanSegment writes the compacted copy of s, or returns nil when nothing
// in s would be removed.
func (l *Log) cleanSegment(s *segment, latest map[string]int64, dropTombstones bool, indexInterval int) (*segment, int64, error) {
	var ns *segment
	var w *bufio.Writer
	var removed int64
	var kept [][]byte // batches of s seen before the first removal
	_, err := s.each(0, 0, func(_ int64, b []byte, h *batch.Header) error {
		out, changed := b, false
		if !h.IsControl() {
			recs, err := batch.Records(b, h)
			if err != nil {
				return err
			}
			var keep []byte
			n := int32(0)
			for _, r := range recs {
				off := h.BaseOffset + int64(r.OffsetDelta)
				superseded := r.Key != nil && latest[string(r.Key)] != off
				if superseded || (r.Key != nil && r.Value == nil && dropTombstones) {
					continue
				}
				keep = append(keep, r.Raw...)
				n++
			}
			if n < h.RecordCount {
				changed = true
				removed += int64(h.RecordCount - n)
				out = nil
				if n > 0 {
					nh := *h
					nh.RecordCount = n
					if out, err = batch.Assemble(nh, keep); err != nil {
						return err
					}
				}
			}
		}
		if ns == nil && !changed {
			kept = append(kept, append([]byte(nil), b...))
			return nil
		}
		if ns == nil {
			var err error
			if ns, err = openSegmentFiles(s.dir, s.base, cleanedSuffix); err != nil {
				return err
			}
			if err := ns.f.Truncate(0); err != nil {
				return err
			}
			ns.size = 0
			// Compaction keeps transactional records and markers, so the
			// aborted transactions stay as they are.
			ns.txidx.entries, ns.txidx.flushed = slices.Clone(s.txidx.entries), 0
			w = bufio.NewWriterSize(ns.f, 1<<20)
			for _, k := range kept {
				if err := ns.write(w, k, indexInterval); err != nil {
					return err
				}
			}
			kept = nil
		}
		if out == nil {
			return nil
		}
		return ns.write(w, out, indexInterval)
	})
	if err == nil && ns != nil {
		ns.maybeTimeEntry()
		err = errors.Join(w.Flush(), ns.f.Sync(), ns.syncIndexes())
	}
	if err != nil {
		if ns != nil {
			ns.remove()
		}
		return nil, 0, fmt.Errorf("broker/log: compact %s: %w", s.path(logSuffix), err)
	}
	return ns, removed, nil
}

// write appends one batch through w and indexes it.
func (s *segment) write(w *bufio.Writer, b []byte, interval int) error {
	h, err := batch.ParseHeader(b)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	s.track(&h, s.size, interval)
	s.size += int64(len(b))
	return nil
}

// swap commits the compacted ns in place of s (see Compact).
// REQUIRES: l.maint.
func (l *Log) swap(s, ns *segment) error {
	logCleaned := ns.path(logSuffix)
	swapName := s.path(logSuffix) + swapSuffix
	steps := []struct{ from, to string }{
		{logCleaned, swapName}, // the commit point
		{ns.path(indexSuffix), s.path(indexSuffix)},
		{ns.path(timeIndexSuffix), s.path(timeIndexSuffix)},
		{ns.path(txnIndexSuffix), s.path(txnIndexSuffix)},
		{swapName, s.path(logSuffix)},
	}
	for i, st := range steps {
		if err := os.Rename(st.from, st.to); err != nil {
			if i == 0 {
				ns.remove()
			}
			return fmt.Errorf("broker/log: compact: %w", err)
		}
		if i == 0 {
			if err := fsutil.SyncDir(l.dir); err != nil {
				return err
			}
		}
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		return err
	}
	ns.extra = ""
	ns.created = s.created
	l.mu.Lock()
	for i, cur := range l.mu.segments {
		if cur == s {
			l.mu.segments[i] = ns
		}
	}
	l.mu.Unlock()
	return s.close()
}
