package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/runnel-io/runnel/broker/log"
)

// MaintenanceStats sums one RunMaintenance pass over every partition.
type MaintenanceStats struct {
	Partitions      int              // partitions visited
	SegmentsDeleted int              // by retention (EnforceRetention)
	Compaction      log.CompactStats // summed over partitions
	Duration        time.Duration
}

// RunMaintenance runs, for every partition log: Tick (flush.ms),
// EnforceRetention (retention.ms, retention.bytes, DeleteRecords) and
// Compact (cleanup.policy=compact). The janitor goroutine calls it every
// BackgroundInterval; with BackgroundInterval 0 the owner calls it. A
// failure on one partition is logged and does not stop the others; the
// returned error joins them all. A partition whose topic is deleted during
// the pass is skipped. Appends and reads go on during the pass (see
// log.Log.EnforceRetention and Compact). Errors: ErrClosed, and the
// failures above.
func (s *Store) RunMaintenance() (MaintenanceStats, error) {
	return s.maintain(true)
}

// maintain is RunMaintenance, with retention only when retention says so.
func (s *Store) maintain(retention bool) (MaintenanceStats, error) {
	began := time.Now()
	var st MaintenanceStats
	s.mu.RLock()
	if s.mu.closed {
		s.mu.RUnlock()
		return st, ErrClosed
	}
	topics := make([]*topic, 0, len(s.mu.topics))
	for _, t := range s.mu.topics {
		topics = append(topics, t)
	}
	s.mu.RUnlock()

	var errs []error
	fail := func(t *topic, p int, step string, err error) {
		if errors.Is(err, log.ErrClosed) {
			return // deleted, or the store is closing
		}
		s.opts.Logger.Error("background maintenance failed", "topic", t.name, "partition", p, "step", step, "err", err)
		errs = append(errs, fmt.Errorf("broker/store: %s of %s: %w", step, partitionDir(t.name, p), err))
	}
	for _, t := range topics {
		for p, l := range t.logs {
			select {
			case <-s.stop:
				return st, errors.Join(append(errs, ErrClosed)...)
			default:
			}
			st.Partitions++
			if err := l.Tick(); err != nil {
				fail(t, p, "flush", err)
			}
			if retention {
				n, err := l.EnforceRetention()
				if err != nil {
					fail(t, p, "retention", err)
				}
				if n > 0 {
					start, _, _ := l.Offsets()
					s.opts.Logger.Info("retention deleted segments", "topic", t.name, "partition", p,
						"segments", n, "log_start_offset", start)
				}
				st.SegmentsDeleted += n
			}
			cs, err := l.Compact()
			if err != nil {
				fail(t, p, "compaction", err)
			}
			if cs.Rewritten > 0 {
				s.opts.Logger.Info("compacted", "topic", t.name, "partition", p, "segments", cs.Segments,
					"rewritten", cs.Rewritten, "records_removed", cs.RecordsRemoved,
					"bytes_before", cs.BytesBefore, "bytes_after", cs.BytesAfter)
			}
			st.Compaction.Segments += cs.Segments
			st.Compaction.Rewritten += cs.Rewritten
			st.Compaction.RecordsRemoved += cs.RecordsRemoved
			st.Compaction.BytesBefore += cs.BytesBefore
			st.Compaction.BytesAfter += cs.BytesAfter
		}
	}
	st.Duration = time.Since(began)
	return st, errors.Join(errs...)
}

// janitor runs the maintenance every BackgroundInterval until Close,
// with retention every RetentionCheckInterval. It logs (maintain does)
// and never stops on an error.
func (s *Store) janitor() {
	defer s.bg.Done()
	t := time.NewTicker(s.opts.BackgroundInterval)
	defer t.Stop()
	lastRetention := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			retention := now.Sub(lastRetention) >= s.opts.RetentionCheckInterval
			if retention {
				lastRetention = now
			}
			s.maintain(retention)
			if testHookJanitor != nil {
				testHookJanitor(s, retention)
			}
		}
	}
}

// testHookJanitor, when set by a test, is called after each janitor pass.
var testHookJanitor func(s *Store, retention bool)
