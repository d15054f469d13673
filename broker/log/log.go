package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// Log is one partition's log: a directory of segments. Append, Read and the
// other methods are safe for concurrent use. Appends are serialized; reads
// run in parallel with each other and with the fsync of earlier appends.
//
// Lock order: mu before smu. The group-commit syncer never holds smu while
// taking mu.
type Log struct {
	dir  string
	opts Options // REQUIRES: mu (SetOptions replaces it)
	// now is the clock: Options.Now at Open. SetOptions keeps it, so
	// that it can be read without mu.
	now func() time.Time

	// maint serializes retention, compaction and DeleteRecords: the
	// operations that remove or replace whole segments.
	maint sync.Mutex

	mu struct {
		sync.RWMutex
		segments  []*segment // sorted by base; the last one is active
		logStart  int64
		leo       int64 // log end offset: the next offset to assign
		failed    error // set once a write failed; appends refuse
		producers *producerState
		closed    bool
		cleanedTo int64 // active base at the last compaction
	}

	smu struct {
		sync.Mutex
		cond      *sync.Cond
		durable   int64 // every offset below is fsynced
		lastFlush time.Time
		busy      int              // fsyncs running
		covering  int64            // the largest log end a running fsync covers
		syncing   map[*segment]int // fsyncs running per segment
		err       error
		watch     chan struct{} // closed when the high watermark moves
	}

	recovery RecoveryReport
	stats    struct{ appends, bytes, fsyncs, rolls atomic.Int64 }
}

// Stats is a snapshot of a log's counters since Open.
type Stats struct {
	Appends int64 // successful Append calls
	Bytes   int64 // bytes appended
	Fsyncs  int64 // fdatasyncs run by group commit (rolls and Close not counted)
	Rolls   int64 // segments rolled
}

// Stats returns the counters. Safe to call concurrently with anything.
func (l *Log) Stats() Stats {
	return Stats{
		Appends: l.stats.appends.Load(),
		Bytes:   l.stats.bytes.Load(),
		Fsyncs:  l.stats.fsyncs.Load(),
		Rolls:   l.stats.rolls.Load(),
	}
}

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset     int64 // offset of the first record appended
	LastOffset     int64 // offset of the last record appended
	LogAppendTime  int64 // broker time of the append in ms, -1 for CreateTime topics
	LogStartOffset int64
	// Duplicate is set when the batch was a producer's retry of a batch
	// already stored: nothing was written, and the offsets are those of
	// the stored batch (Kafka answers a retry the same way).
	Duplicate bool
}

// ReadResult is what Read returns: whole stored batches, as stored.
type ReadResult struct {
	// Data holds zero or more complete batches. The first may start
	// before the requested offset (the batch that contains it). The
	// caller owns Data.
	Data             []byte
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	// Aborted lists, for ReadCommitted, the aborted transactions whose
	// records may be in Data; the reader skips them (Kafka clients do).
	Aborted []AbortedTxn
}

// Open opens or creates the log in dir, recovering it when it was not
// closed cleanly. The report of what recovery did is in Recovery().
func Open(dir string, opts *Options) (*Log, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: o, now: o.Now}
	l.smu.cond = sync.NewCond(&l.smu.Mutex)
	l.smu.syncing = map[*segment]int{}
	if err := l.recover(); err != nil {
		l.closeSegments()
		return nil, err
	}
	return l, nil
}

// Dir is the directory of the log.
func (l *Log) Dir() string { return l.dir }

// Recovery reports what Open found and repaired.
func (l *Log) Recovery() RecoveryReport { return l.recovery }

// SetOptions replaces the options (after a topic config change). Fields
// that cannot be changed on an open log are ignored: the clock (Now).
func (l *Log) SetOptions(opts Options) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	opts.Now = l.now
	l.mu.Lock()
	l.opts = opts
	l.mu.Unlock()
	return nil
}

// Options returns the options in force.
func (l *Log) Options() Options {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.opts
}

// Append validates and appends one or more concatenated batches (the
// records of one partition in a produce request) and assigns their
// offsets. Either every batch is appended or none is. Append rewrites the
// base offsets (and for LogAppendTime topics the timestamps) in data, in
// place. With the default durable policy it returns once the data is
// fsynced.
//
// Batches of idempotent and transactional producers (producer id >= 0) are
// checked against the producer state: a retry of one of a producer's last
// five batches returns the stored offsets with Duplicate set, and writes
// nothing.
//
// Errors: *BatchError for invalid input (wrapping ErrControlBatch for a
// transaction marker, which only AppendControl writes), ErrTooLarge, ErrOutOfOrderSequence,
// ErrInvalidProducerEpoch, ErrInvalidTxnState, ErrFailed after an earlier
// I/O error, ErrClosed.
func (l *Log) Append(data []byte) (AppendResult, error) {
	return l.append(data, false)
}

// AppendCoordinator is Append for batches a coordinator writes on behalf
// of a producer (the group coordinator's transactional offset commits):
// their producer epoch is checked and their transaction tracked, but they
// carry no sequence numbers (BaseSequence -1), as Kafka's
// coordinator-origin appends.
func (l *Log) AppendCoordinator(data []byte) (AppendResult, error) {
	return l.append(data, true)
}

func (l *Log) append(data []byte, coordinator bool) (AppendResult, error) {
	if len(data) == 0 {
		return AppendResult{}, ErrEmptyAppend
	}
	var hdrs [4]batch.Header
	l.mu.RLock()
	maxBytes := l.opts.MaxMessageBytes // SetOptions may change it
	l.mu.RUnlock()
	headers, err := check(data, hdrs[:0], maxBytes)
	if err != nil {
		return AppendResult{}, err
	}

	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	staged := map[int64]*producerEntry{}
	for i := range headers {
		dup, err := l.mu.producers.validate(staged, &headers[i], coordinator)
		if err == nil && dup != nil && len(headers) > 1 {
			err = fmt.Errorf("%w: batch %d of %d is a retry", ErrOutOfOrderSequence, i, len(headers))
		}
		if err != nil || dup != nil {
			start, durable := l.mu.logStart, l.opts.Durable()
			l.mu.Unlock()
			if err != nil {
				return AppendResult{}, err
			}
			// A retry: answer once what it duplicates is as durable as a
			// fresh append would be.
			if durable {
				if err := l.waitDurable(dup.lastOffset + 1); err != nil {
					return AppendResult{}, err
				}
			}
			return AppendResult{BaseOffset: dup.firstOffset, LastOffset: dup.lastOffset, LogAppendTime: -1,
				LogStartOffset: start, Duplicate: true}, nil
		}
	}
	res, err := l.appendLocked(data, headers)
	if err == nil {
		for i := range headers {
			l.mu.producers.apply(&headers[i])
		}
	}
	return l.finishAppend(res, err)
}

// AppendControl writes a transaction marker for producer pid: a control
// batch that commits or aborts the producer's open transaction in this
// partition, as the transaction coordinator does through
// WriteTxnMarkers in Kafka. An abort is added to the transaction index.
// Errors: ErrInvalidProducerEpoch for an epoch older than the producer's,
// ErrFailed, ErrClosed.
func (l *Log) AppendControl(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (AppendResult, error) {
	data, err := controlBatch(pid, epoch, commit, coordinatorEpoch, l.now().UnixMilli())
	if err != nil {
		return AppendResult{}, err
	}
	h, _ := batch.ParseHeader(data)
	l.mu.Lock()
	if err := l.writable(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if err := l.mu.producers.checkMarker(pid, epoch); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	lso := l.lastStable(l.mu.leo)
	res, err := l.appendLocked(data, []batch.Header{h})
	if err == nil {
		if a, ok := l.mu.producers.endTxn(pid, epoch, commit, coordinatorEpoch, res.BaseOffset, lso); ok {
			l.active().txidx.add(a)
		}
	}
	return l.finishAppend(res, err)
}

// appendLocked assigns offsets to the checked batches of data and writes
// them to the active segment, rolling it first when due. It returns with
// l.mu still held. REQUIRES: l.mu held for writing.
func (l *Log) appendLocked(data []byte, headers []batch.Header) (AppendResult, error) {
	now := l.now()
	active := l.active()
	end := l.mu.leo
	for i := range headers {
		end += int64(headers[i].LastOffsetDelta) + 1
	}
	// Relative offsets in the indexes are 32 bits: like Kafka, roll before
	// an offset would lie more than MaxInt32 past the segment's base.
	offsetsFull := end-1-active.base > math.MaxInt32
	if active.size > 0 && (offsetsFull || active.size+int64(len(data)) > l.opts.SegmentBytes || l.segmentAged(active, headers, now)) {
		if err := l.roll(); err != nil {
			return AppendResult{}, err
		}
		active = l.active()
	}
	res := AppendResult{BaseOffset: l.mu.leo, LogAppendTime: -1, LogStartOffset: l.mu.logStart}
	if l.opts.LogAppendTime {
		res.LogAppendTime = now.UnixMilli()
	}
	pos := 0
	for i := range headers {
		h := &headers[i]
		size := h.Size()
		batch.SetBaseOffset(data[pos:], l.mu.leo)
		h.BaseOffset = l.mu.leo
		if l.opts.LogAppendTime {
			batch.SetLogAppendTime(data[pos:], size, res.LogAppendTime)
			h.MaxTimestamp = res.LogAppendTime
		}
		l.mu.leo = h.LastOffset() + 1
		pos += size
	}
	start := active.size
	if _, err := writeFile(active.f, data, start); err != nil {
		l.mu.leo = res.BaseOffset
		if terr := active.f.Truncate(start); terr != nil {
			l.mu.failed = fmt.Errorf("%w: write: %w; truncate: %w", ErrFailed, err, terr)
		}
		return AppendResult{}, fmt.Errorf("broker/log: append to %s: %w", active.path(logSuffix), err)
	}
	pos = 0
	for i := range headers {
		active.track(&headers[i], start+int64(pos), l.opts.IndexIntervalBytes)
		pos += headers[i].Size()
	}
	active.size += int64(len(data))
	l.stats.appends.Add(1)
	l.stats.bytes.Add(int64(len(data)))
	res.LastOffset = l.mu.leo - 1
	return res, nil
}

// finishAppend releases l.mu after appendLocked and applies the flush
// policy: it waits for the fsync when the append must be durable.
func (l *Log) finishAppend(res AppendResult, err error) (AppendResult, error) {
	if err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	durable, _ := l.durableState()
	flush := l.mu.leo-durable >= l.opts.FlushMessages
	l.mu.Unlock()
	if flush {
		if err := l.waitDurable(res.LastOffset + 1); err != nil {
			return AppendResult{}, err
		}
	} else if !l.opts.Durable() {
		l.smu.Lock()
		l.notifyLocked() // readers see written records at once
		l.smu.Unlock()
	}
	return res, nil
}

// controlBatch encodes a transaction marker as Kafka does: a control,
// transactional batch with one record whose key is (version 0, type) and
// value (version 0, coordinator epoch).
func controlBatch(pid int64, epoch int16, commit bool, coordinatorEpoch int32, now int64) ([]byte, error) {
	typ := uint16(0)
	if commit {
		typ = 1
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), typ)
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(coordinatorEpoch))
	rec := batch.AppendRecord(nil, &batch.Record{Key: key, Value: value})
	return batch.Assemble(batch.Header{
		Attributes: batch.AttrControl | batch.AttrTransactional, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: -1, RecordCount: 1,
	}, rec)
}

// markerType decodes a control batch's record: commit (true) or abort.
func markerType(b []byte, h *batch.Header) (commit bool, coordinatorEpoch int32, err error) {
	recs, err := batch.Records(b, h)
	if err != nil {
		return false, 0, err
	}
	if len(recs) != 1 || len(recs[0].Key) < 4 {
		return false, 0, fmt.Errorf("%w: control batch at offset %d has no marker", batch.ErrBadRecords, h.BaseOffset)
	}
	if len(recs[0].Value) >= 6 {
		coordinatorEpoch = int32(binary.BigEndian.Uint32(recs[0].Value[2:]))
	}
	return binary.BigEndian.Uint16(recs[0].Key[2:]) == 1, coordinatorEpoch, nil
}

// segmentAged reports whether segment.ms has passed for the active segment.
// Like Kafka, it compares the incoming batches' max timestamp with the first
// timestamp of the segment, or, when records carry no timestamp, the wall
// clock with the segment's creation.
func (l *Log) segmentAged(s *segment, headers []batch.Header, now time.Time) bool {
	limit := l.opts.SegmentMs.Milliseconds()
	if s.firstTS >= 0 {
		for i := range headers {
			if headers[i].MaxTimestamp-s.firstTS >= limit {
				return true
			}
		}
		return false
	}
	return now.Sub(s.created) >= l.opts.SegmentMs
}

// check validates every batch of data and returns their headers.
func check(data []byte, headers []batch.Header, maxMessageBytes int) ([]batch.Header, error) {
	for pos, i := 0, 0; pos < len(data); i++ {
		h, size, err := batch.Check(data[pos:], 0)
		if err != nil {
			return nil, &BatchError{Index: i, Position: pos, Err: err}
		}
		if h.IsControl() {
			return nil, &BatchError{Index: i, Position: pos, Err: ErrControlBatch}
		}
		if int64(h.RecordCount) != int64(h.LastOffsetDelta)+1 {
			// Kafka's check for client batches: offsets must be dense.
			return nil, &BatchError{Index: i, Position: pos,
				Err: fmt.Errorf("%w: %d records for an offset range of %d", batch.ErrBadHeader, h.RecordCount, int64(h.LastOffsetDelta)+1)}
		}
		if maxMessageBytes > 0 && size > maxMessageBytes {
			return nil, &BatchError{Index: i, Position: pos,
				Err: fmt.Errorf("%w: %d > %d", ErrTooLarge, size, maxMessageBytes)}
		}
		headers = append(headers, h)
		pos += size
	}
	return headers, nil
}

// writable reports why appends are refused, if they are.
// REQUIRES: l.mu.
func (l *Log) writable() error {
	switch {
	case l.mu.closed:
		return ErrClosed
	case l.mu.failed != nil:
		return l.mu.failed
	}
	return nil
}

// active is the last segment. REQUIRES: l.mu (read or write).
func (l *Log) active() *segment { return l.mu.segments[len(l.mu.segments)-1] }

// roll makes the active segment inactive (fsynced, indexes written) and
// starts a new one at the log end offset, then advances the recovery point
// to it. REQUIRES: l.mu held for writing.
func (l *Log) roll() error {
	old := l.active()
	old.maybeTimeEntry()
	if err := errors.Join(old.f.Sync(), old.syncIndexes()); err != nil {
		l.mu.failed = fmt.Errorf("%w: roll: %w", ErrFailed, err)
		return l.mu.failed
	}
	l.markDurable(l.mu.leo)
	if err := l.mu.producers.writeSnapshot(l.dir, l.mu.leo, l.bases()); err != nil {
		return fmt.Errorf("broker/log: roll to offset %d: %w", l.mu.leo, err)
	}
	s, err := openSegment(l.dir, l.mu.leo)
	if err == nil {
		if err = fsutil.SyncDir(l.dir); err != nil {
			s.remove()
		}
	}
	if err != nil {
		return fmt.Errorf("broker/log: roll to offset %d: %w", l.mu.leo, err)
	}
	s.created = l.now()
	l.mu.segments = append(l.mu.segments, s)
	l.stats.rolls.Add(1)
	return l.checkpointLocked(false)
}

// bases lists the base offsets of the segments. REQUIRES: l.mu.
func (l *Log) bases() []int64 {
	out := make([]int64, len(l.mu.segments))
	for i, s := range l.mu.segments {
		out[i] = s.base
	}
	return out
}

// checkpointLocked writes the checkpoint with the recovery point at the
// active segment's base (or, when clean, at the log end). REQUIRES: l.mu.
func (l *Log) checkpointLocked(clean bool) error {
	active := l.active()
	c := checkpoint{clean: clean, recoveryPoint: active.base, logStart: l.mu.logStart, logEnd: l.mu.leo}
	if clean {
		c.recoveryPoint, c.activeSize = l.mu.leo, active.size
	}
	return writeCheckpoint(l.dir, c)
}

// HighWatermark is the offset below which records are readable: the log
// end offset, or with the durable policy the fsynced end.
func (l *Log) HighWatermark() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.highWatermark()
}

// REQUIRES: l.mu.
func (l *Log) highWatermark() int64 {
	if !l.opts.Durable() {
		return l.mu.leo
	}
	l.smu.Lock()
	defer l.smu.Unlock()
	return min(l.smu.durable, l.mu.leo)
}

// lastStable is the last stable offset given the high watermark hw: the
// first offset of the oldest open transaction, if it is below hw.
// REQUIRES: l.mu.
func (l *Log) lastStable(hw int64) int64 {
	if f := l.mu.producers.firstUnstable(); f >= 0 && f < hw {
		return f
	}
	return hw
}

// LastStableOffset is the offset below which every transaction is decided:
// the limit of read_committed reads.
func (l *Log) LastStableOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastStable(l.highWatermark())
}

// Offsets returns the log start offset, the high watermark and the log end
// offset.
func (l *Log) Offsets() (start, hw, end int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.logStart, l.highWatermark(), l.mu.leo
}

// Size is the total size of the .log files in bytes.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segments {
		n += s.size
	}
	return n
}

// Segments is the number of segments.
func (l *Log) Segments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.mu.segments)
}

// Read returns stored batches starting with the one that holds offset, up
// to about maxBytes (at least one whole batch when one is there) and never
// past the high watermark. Reading at the high watermark returns no data.
// Errors: ErrOffsetOutOfRange below the log start or past the high
// watermark, ErrClosed.
func (l *Log) Read(offset int64, maxBytes int) (ReadResult, error) {
	return l.read(offset, maxBytes, false)
}

// ReadCommitted is Read for read_committed consumers: it stops at the last
// stable offset and lists the aborted transactions that the data may hold.
func (l *Log) ReadCommitted(offset int64, maxBytes int) (ReadResult, error) {
	return l.read(offset, maxBytes, true)
}

func (l *Log) read(offset int64, maxBytes int, committed bool) (ReadResult, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.mu.closed {
		return ReadResult{}, ErrClosed
	}
	hw := l.highWatermark()
	res := ReadResult{HighWatermark: hw, LastStableOffset: l.lastStable(hw), LogStartOffset: l.mu.logStart}
	if offset < l.mu.logStart || offset > hw {
		return res, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.mu.logStart, hw)
	}
	limit := hw
	if committed {
		limit = res.LastStableOffset
	}
	if offset >= limit {
		return res, nil
	}
	segs := l.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	for i = max(i, 0); i < len(segs); i++ {
		s := segs[i]
		pos, err := s.find(offset, s.size)
		if err != nil {
			return res, err
		}
		if pos == s.size {
			continue // compacted away: the next segment has what follows
		}
		data, end, err := readBatches(s, pos, maxBytes, limit)
		res.Data = data
		if committed && len(data) > 0 {
			res.Aborted = l.abortedIn(offset, end)
		}
		return res, err
	}
	return res, nil
}

// readBatches reads whole batches from pos: about maxBytes, at least one,
// none that reaches limit. It returns them and the offset after the last.
func readBatches(s *segment, pos int64, maxBytes int, limit int64) ([]byte, int64, error) {
	want := min(int64(max(maxBytes, batch.HeaderSize)), s.size-pos)
	buf := make([]byte, want)
	if _, err := s.f.ReadAt(buf, pos); err != nil {
		return nil, 0, fmt.Errorf("broker/log: read %s at %d: %w", s.path(logSuffix), pos, err)
	}
	n, end := 0, int64(0)
	for n < len(buf) {
		h, err := batch.ParseHeader(buf[n:])
		if err != nil {
			break // a partial header at the end of buf
		}
		if h.LastOffset() >= limit {
			break
		}
		size := h.Size()
		if n+size > len(buf) {
			if n > 0 {
				break
			}
			// The first batch is larger than maxBytes: return it whole.
			full := make([]byte, size)
			if _, err := s.f.ReadAt(full, pos); err != nil {
				return nil, 0, fmt.Errorf("broker/log: read %s at %d: %w", s.path(logSuffix), pos, err)
			}
			return full, h.LastOffset() + 1, nil
		}
		n += size
		end = h.LastOffset() + 1
	}
	return buf[:n], end, nil
}

// OffsetForTimestamp returns the offset and timestamp of the first record
// whose timestamp is >= ts (Kafka ListOffsets by time). found is false when
// every readable record is older.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	hw := l.highWatermark()
	for _, s := range l.mu.segments {
		if s.maxTS < ts {
			continue
		}
		var hbuf [batch.HeaderSize]byte
		for pos := s.findTime(ts); pos < s.size; {
			h, err := s.readHeader(pos, hbuf[:])
			if err != nil {
				return 0, 0, false, err
			}
			if h.BaseOffset >= hw {
				return 0, 0, false, nil
			}
			if h.MaxTimestamp >= ts && !h.IsControl() && h.LastOffset() >= l.mu.logStart {
				b := make([]byte, h.Size())
				if _, err := s.f.ReadAt(b, pos); err != nil {
					return 0, 0, false, err
				}
				recs, err := batch.Records(b, &h)
				if err != nil {
					return 0, 0, false, fmt.Errorf("broker/log: %s at %d: %w", s.path(logSuffix), pos, err)
				}
				for _, r := range recs {
					off, rts := h.BaseOffset+int64(r.OffsetDelta), h.FirstTimestamp+r.TimestampDelta
					if h.Attributes&batch.AttrLogAppendTime != 0 {
						rts = h.MaxTimestamp
					}
					if rts >= ts && off >= l.mu.logStart && off < hw {
						return off, rts, true, nil
					}
				}
			}
			pos += int64(h.Size())
		}
	}
	return 0, 0, false, nil
}

// Flush fsyncs everything appended so far.
func (l *Log) Flush() error {
	l.mu.RLock()
	leo := l.mu.leo
	l.mu.RUnlock()
	return l.waitDurable(leo)
}

// Tick runs the timed parts of the flush policy (flush.ms). The owner
// calls it periodically; it is cheap when there is nothing to do.
func (l *Log) Tick() error {
	l.mu.RLock()
	durable, last := l.durableState()
	due := l.opts.FlushMs > 0 && l.mu.leo > durable && l.now().Sub(last) >= l.opts.FlushMs
	l.mu.RUnlock()
	if due {
		return l.Flush()
	}
	return nil
}

// Close flushes and fsyncs everything, writes the clean checkpoint and
// closes the files. It is idempotent.
func (l *Log) Close() error {
	l.maint.Lock()
	defer l.maint.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil
	}
	l.mu.closed = true
	var err error
	if l.mu.failed == nil {
		active := l.active()
		active.maybeTimeEntry()
		err = errors.Join(active.f.Sync(), active.syncIndexes())
		if err == nil {
			err = l.mu.producers.writeSnapshot(l.dir, l.mu.leo, l.bases())
		}
		if err == nil {
			err = l.checkpointLocked(true)
		}
	}
	l.smu.Lock()
	if err == nil && l.mu.failed == nil && l.mu.leo > l.smu.durable {
		l.smu.durable = l.mu.leo // appenders waiting on an fsync: Close did it
	}
	l.smu.err = ErrClosed
	l.notifyLocked()
	l.smu.cond.Broadcast()
	l.smu.Unlock()
	return errors.Join(err, l.closeSegments())
}

func (l *Log) closeSegments() error {
	var errs []error
	for _, s := range l.mu.segments {
		errs = append(errs, s.close())
	}
	l.mu.segments = nil
	return errors.Join(errs...)
}
