package log

import (
	"fmt"
	"os"
	"time"
)

// Group commit. An appender that needs its data durable calls waitDurable
// with the end of its append. If no running fsync will cover that end, it
// becomes a syncer: it notes the log end offset, fdatasyncs the active
// segment without holding any lock, and then marks everything up to that
// end durable, releasing every appender that wrote before the fsync
// started. Up to maxSyncers fsyncs run at once: an appender that wrote
// after the running fsync started need not wait for it to finish before
// its own can start, so one slow fsync does not stall every appender
// twice. Completion order does not matter: an fdatasync covers every write
// finished before it was called, and writes finish under l.mu before the
// log end they reach is published.

// maxSyncers bounds the fsyncs running at once on one log.
const maxSyncers = 2

// waitDurable returns once every offset below end is fsynced.
func (l *Log) waitDurable(end int64) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	for l.smu.durable < end {
		if l.smu.err != nil {
			return l.smu.err
		}
		if l.smu.covering >= end || l.smu.busy >= maxSyncers {
			l.smu.cond.Wait()
			continue
		}
		l.smu.busy++
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
			l.smu.syncing[s]++ // retention and compaction leave it alone meanwhile
			l.smu.covering = max(l.smu.covering, leo)
			l.smu.Unlock()
		}
		l.mu.RUnlock()

		err := ErrClosed
		if !closed {
			l.stats.fsyncs.Add(1)
			err = syncFile(s.f)
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
		l.smu.busy--
		if !closed {
			if l.smu.syncing[s]--; l.smu.syncing[s] == 0 {
				delete(l.smu.syncing, s)
			}
		}
		if err != nil {
			l.smu.err = err
		} else if leo > l.smu.durable {
			l.smu.durable = leo
			l.smu.lastFlush = l.now()
			l.notifyLocked()
		}
		l.smu.cond.Broadcast()
	}
	return nil
}

// syncFile and writeFile are the I/O of the append path; tests replace
// them to inject failures.
var (
	syncFile  = fdatasync
	writeFile = func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }
)

// testHookSyncer, when set by a test, runs in the syncer before it reads
// the log end offset that its fsync will cover.
var testHookSyncer func()

// markDurable records that every offset below end is on disk.
func (l *Log) markDurable(end int64) {
	l.smu.Lock()
	if end > l.smu.durable {
		l.smu.durable = end
		l.smu.lastFlush = l.now()
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

// isSyncing reports whether an fsync is running on s.
func (l *Log) isSyncing(s *segment) bool {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.smu.syncing[s] > 0
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
