package log

import (
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// EnforceRetention applies cleanup.policy=delete: it deletes the oldest
// segments while they are past retention.ms (by their newest timestamp) or
// while the log without them is still at least retention.bytes, and any
// segment wholly below the log start offset (after DeleteRecords). The
// active segment is rolled and deleted too when it has expired by time. It
// returns the number of segments deleted. Appends and reads go on meanwhile,
// except for the moment the segment list changes.
func (l *Log) EnforceRetention() (int, error) {
	l.maint.Lock()
	defer l.maint.Unlock()
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	now := l.now().UnixMilli()
	expired := func(s *segment) bool {
		return l.opts.Delete && l.opts.RetentionMs >= 0 && s.maxTS < now-l.opts.RetentionMs.Milliseconds()
	}
	var total int64
	for _, s := range l.mu.segments {
		total += s.size
	}
	segs := l.mu.segments
	n := 0
	for ; n < len(segs)-1; n++ {
		s := segs[n]
		belowStart := segs[n+1].base <= l.mu.logStart
		tooBig := l.opts.Delete && l.opts.RetentionBytes >= 0 && total-s.size >= l.opts.RetentionBytes
		if l.isSyncing(s) || !(belowStart || expired(s) || tooBig) {
			break
		}
		total -= s.size
	}
	if active := segs[len(segs)-1]; n == len(segs)-1 && active.size > 0 && expired(active) && !l.isSyncing(active) {
		if err := l.roll(); err != nil {
			l.mu.Unlock()
			return 0, err
		}
		segs, n = l.mu.segments, n+1
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	removed := segs[:n:n]
	l.mu.segments = append([]*segment(nil), segs[n:]...)
	l.mu.logStart = max(l.mu.logStart, l.mu.segments[0].base)
	err := l.checkpointLocked(false)
	l.mu.Unlock()

	// No reader can reach the removed segments any more.
	for _, s := range removed {
		err = errors.Join(err, s.remove())
	}
	return n, errors.Join(err, fsutil.SyncDir(l.dir))
}

// DeleteRecords advances the log start offset to offset (-1 means the high
// watermark), as Kafka's DeleteRecords does, and deletes the segments that
// fall wholly below it. It returns the new log start offset. Errors:
// ErrOffsetOutOfRange past the high watermark.
func (l *Log) DeleteRecords(offset int64) (int64, error) {
	l.maint.Lock()
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		l.maint.Unlock()
		return 0, ErrClosed
	}
	hw := l.highWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		start := l.mu.logStart
		l.mu.Unlock()
		l.maint.Unlock()
		return start, fmt.Errorf("%w: %d not in [0, %d]", ErrOffsetOutOfRange, offset, hw)
	}
	var err error
	if offset > l.mu.logStart {
		l.mu.logStart = offset
		err = l.checkpointLocked(false)
	}
	start := l.mu.logStart
	l.mu.Unlock()
	l.maint.Unlock()
	if err != nil {
		return start, err
	}
	_, err = l.EnforceRetention()
	return start, err
}
