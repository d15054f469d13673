package log

import (
	"fmt"
	"time"
)

// Group commit. An appender that needs its data durable calls waitDurable
// with the end of its append. If no fsync is running it becomes the syncer:
// it notes the log end offset, fsyncs the active segment without holding
// any lock, and then marks everything up to that end durable, which
// releases every appender that wrote before the fsync started. Appenders
// arriving during an fsync wait for it and then, if still not covered, one
// of them runs the next: one fsync serves every batch written while the
// previous one ran.

// waitDurable returns once every offset below end is fsynced.
func (l *Log) waitDurable(end int64) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	for l.smu.durable < end {
		if l.smu.err != nil {
			return l.smu.err
		}
		if l.smu.busy {
			l.smu.cond.Wait()
			continue
		}
		l.smu.busy = true
		l.smu.Unlock()

		if testHookSyncer != nil {
			testHookSyncer()
		}
		l.mu.RLock()
		closed := l.mu.closed
		var s *segment
		var leo int64
		if !closed {
			s, leo = l.active(), l.mu.leo
			l.smu.Lock()
			l.smu.syncing = s // retention and compaction leave it alone meanwhile
			l.smu.Unlock()
		}
		l.mu.RUnlock()

		err := ErrClosed
		if !closed {
			l.stats.fsyncs.Add(1)
			err = fdatasync(s.f)
		}
		if err != nil && !closed {
			l.mu.Lock()
			if l.mu.failed == nil {
				l.mu.failed = fmt.Errorf("%w: fsync %s: %w", ErrFailed, s.path(logSuffix), err)
			}
			err = l.mu.failed
			l.mu.Unlock()
		}

		l.smu.Lock()
		l.smu.busy, l.smu.syncing = false, nil
		if err != nil {
			l.smu.err = err
		} else if leo > l.smu.durable {
			l.smu.durable = leo
			l.smu.lastFlush = l.opts.Now()
			l.notifyLocked()
		}
		l.smu.cond.Broadcast()
	}
	return nil
}

// testHookSyncer, when set by a test, runs in the syncer before it reads
// the log end offset that its fsync will cover.
var testHookSyncer func()

// markDurable records that every offset below end is on disk.
func (l *Log) markDurable(end int64) {
	l.smu.Lock()
	if end > l.smu.durable {
		l.smu.durable = end
		l.smu.lastFlush = l.opts.Now()
		l.notifyLocked()
	}
	l.smu.cond.Broadcast()
	l.smu.Unlock()
}

// durableState returns the durable end and the time of the last flush.
func (l *Log) durableState() (int64, time.Time) {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.smu.durable, l.smu.lastFlush
}

// syncingSegment is the segment an fsync is running on, if any.
func (l *Log) syncingSegment() *segment {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.smu.syncing
}

// Watch returns a channel that is closed the next time the high watermark
// moves (or the log closes). Fetch long polls wait on it: take the channel,
// read, and if there was nothing new wait for the channel.
func (l *Log) Watch() <-chan struct{} {
	l.smu.Lock()
	defer l.smu.Unlock()
	if l.smu.watch == nil {
		l.smu.watch = make(chan struct{})
	}
	return l.smu.watch
}

// notifyLocked wakes the watchers. REQUIRES: l.smu.
func (l *Log) notifyLocked() {
	if l.smu.watch != nil {
		close(l.smu.watch)
		l.smu.watch = nil
	}
}
