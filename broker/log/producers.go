package log

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// Producer state: what the log remembers of each idempotent or
// transactional producer that wrote to it, as Kafka's ProducerStateManager
// does. For every producer id: its epoch, the sequence ranges and offsets
// of its last five batches (a retried batch that matches one of them is a
// duplicate and gets the original offsets back), and the first offset of
// its ongoing transaction in this partition, if any. The oldest ongoing
// transaction bounds the last stable offset (LSO), below which
// read_committed consumers may read.
//
// The state is saved in a snapshot file when a segment rolls and at Close,
// named by the offset it is valid at ("<offset>.snapshot"). Open loads the
// snapshot at the recovery point and replays the batches it validates
// after it, so a restart never rescans old segments for producer state:
//
//	 0        4         6          8              16          20
//	+--------+---------+----------+--------------+-----------+---------+--------+
//	| "RNPS" | version | reserved | offset int64 | count u32 | entries | CRC-32C|
//	|        | u16 = 1 | u16      |              |           |         | of all |
//	+--------+---------+----------+--------------+-----------+---------+--------+
//
//	entry: producerID i64 | epoch i16 | txnFirstOffset i64 (-1: none) |
//	       coordinatorEpoch i32 | lastTimestamp i64 | batchCount u8 |
//	       batchCount x ( firstSeq i32 | lastSeq i32 | firstOffset i64 | lastOffset i64 )
//
// Aborted transactions are kept in a ".txnindex" file per segment (the one
// holding the abort marker), in Kafka's format, 34 bytes an entry:
//
//	| version i16 = 0 | producerID i64 | firstOffset i64 | lastOffset i64 | lastStableOffset i64 |
//
// A read_committed fetch gets the aborted transactions that overlap the
// batches it returns, and the client drops their records.

// Errors of idempotent and transactional appends.
var (
	// ErrOutOfOrderSequence: the batch's first sequence does not follow
	// the producer's last one (records would be lost or reordered).
	ErrOutOfOrderSequence = errors.New("broker/log: out of order sequence number")
	// ErrInvalidProducerEpoch: the batch or marker carries an older epoch
	// than the producer's current one: a fenced (zombie) producer.
	ErrInvalidProducerEpoch = errors.New("broker/log: producer epoch is older than the current one")
	// ErrInvalidTxnState: a non-transactional batch from a producer whose
	// transaction in this partition is still open.
	ErrInvalidTxnState = errors.New("broker/log: producer has a transaction open in this partition")
)

const (
	maxProducerBatches = 5 // as Kafka: batches remembered for duplicate detection
	snapshotSuffix     = ".snapshot"
	txnIndexSuffix     = ".txnindex"
	abortedEntrySize   = 34
)

var snapshotMagic = [4]byte{'R', 'N', 'P', 'S'}

type seqBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

type producerEntry struct {
	epoch            int16
	batches          []seqBatch // oldest first, at most maxProducerBatches
	txnFirst         int64      // first offset of the open transaction here, -1 when none
	coordinatorEpoch int32
	lastTimestamp    int64
}

func (e *producerEntry) clone() *producerEntry {
	c := *e
	c.batches = slices.Clone(e.batches)
	return &c
}

// AbortedTxn is an aborted transaction: the producer's records from
// FirstOffset to LastOffset (its abort marker) are to be skipped by
// read_committed consumers.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// producerState is the state of one log. REQUIRES: Log.mu for every use.
type producerState struct {
	producers map[int64]*producerEntry
	ongoing   map[int64]int64 // producer id -> first offset of its open transaction
}

func newProducerState() *producerState {
	return &producerState{producers: map[int64]*producerEntry{}, ongoing: map[int64]int64{}}
}

// nextSeq is the sequence after s; sequences wrap from MaxInt32 to 0.
func nextSeq(s int32) int32 {
	if s == math.MaxInt32 {
		return 0
	}
	return s + 1
}

func lastSeqOf(h *batch.Header) int32 {
	last := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if last > math.MaxInt32 {
		last -= math.MaxInt32 + 1
	}
	return int32(last)
}

// validate checks a data batch from a producer against the state (and the
// batches of the same append checked before it, kept in staged). It returns
// the remembered batch when h is a retry of it.
func (ps *producerState) validate(staged map[int64]*producerEntry, h *batch.Header, coordinator bool) (*seqBatch, error) {
	if h.ProducerID < 0 {
		return nil, nil
	}
	e := staged[h.ProducerID]
	if e == nil {
		if cur := ps.producers[h.ProducerID]; cur != nil {
			e = cur.clone()
		}
	}
	if coordinator {
		// Written by a coordinator for the producer (transactional
		// offsets): no sequence, only the epoch is checked.
		if e != nil && h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
		}
		return nil, nil
	}
	last := lastSeqOf(h)
	switch {
	case e == nil || h.ProducerEpoch > e.epoch || len(e.batches) == 0:
		if e != nil && h.ProducerEpoch < e.epoch {
			return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
		}
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d epoch %d starts at sequence %d, want 0", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		if e == nil {
			e = &producerEntry{txnFirst: -1}
		}
		if h.ProducerEpoch > e.epoch {
			e.batches = nil
		}
	case h.ProducerEpoch < e.epoch:
		return nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	default:
		for i := range e.batches {
			if b := &e.batches[i]; b.firstSeq == h.BaseSequence && b.lastSeq == last {
				dup := *b
				return &dup, nil
			}
		}
		if want := nextSeq(e.batches[len(e.batches)-1].lastSeq); h.BaseSequence != want {
			return nil, fmt.Errorf("%w: producer %d sent sequence %d, expected %d", ErrOutOfOrderSequence, h.ProducerID, h.BaseSequence, want)
		}
	}
	if !h.IsTransactional() && e.txnFirst >= 0 {
		return nil, fmt.Errorf("%w: producer %d", ErrInvalidTxnState, h.ProducerID)
	}
	e.epoch = h.ProducerEpoch
	staged[h.ProducerID] = e
	// The offsets are not known yet; apply records them with the batch.
	e.batches = append(e.batches, seqBatch{firstSeq: h.BaseSequence, lastSeq: last, firstOffset: -1})
	if len(e.batches) > maxProducerBatches {
		e.batches = e.batches[1:]
	}
	return nil, nil
}

// apply records a stored data batch (with its final offsets) in the state.
// It is used after a validated append and when replaying during recovery.
func (ps *producerState) apply(h *batch.Header) {
	if h.ProducerID < 0 || h.IsControl() {
		return
	}
	e := ps.producers[h.ProducerID]
	if e == nil {
		e = &producerEntry{txnFirst: -1}
		ps.producers[h.ProducerID] = e
	}
	if h.ProducerEpoch > e.epoch {
		e.epoch, e.batches = h.ProducerEpoch, nil
	}
	if h.BaseSequence >= 0 { // a coordinator's batch carries no sequence
		e.batches = append(e.batches, seqBatch{h.BaseSequence, lastSeqOf(h), h.BaseOffset, h.LastOffset()})
		if len(e.batches) > maxProducerBatches {
			e.batches = slices.Delete(e.batches, 0, len(e.batches)-maxProducerBatches)
		}
	}
	e.lastTimestamp = h.MaxTimestamp
	if h.IsTransactional() && e.txnFirst < 0 {
		e.txnFirst = h.BaseOffset
		ps.ongoing[h.ProducerID] = h.BaseOffset
	}
}

// checkMarker validates a transaction marker for producer pid.
func (ps *producerState) checkMarker(pid int64, epoch int16) error {
	if e := ps.producers[pid]; e != nil && epoch < e.epoch {
		return fmt.Errorf("%w: marker for producer %d epoch %d, current %d", ErrInvalidProducerEpoch, pid, epoch, e.epoch)
	}
	return nil
}

// endTxn records a transaction marker stored at offset. For an abort it
// returns the aborted transaction to index (ok false when the producer had
// nothing open here). lso is the last stable offset before the marker.
func (ps *producerState) endTxn(pid int64, epoch int16, commit bool, coordinatorEpoch int32, offset, lso int64) (AbortedTxn, bool) {
	e := ps.producers[pid]
	if e == nil {
		e = &producerEntry{txnFirst: -1}
		ps.producers[pid] = e
	}
	if epoch > e.epoch {
		e.epoch, e.batches = epoch, nil
	}
	e.coordinatorEpoch = coordinatorEpoch
	first := e.txnFirst
	e.txnFirst = -1
	delete(ps.ongoing, pid)
	if commit || first < 0 {
		return AbortedTxn{}, false
	}
	return AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: offset, LastStableOffset: lso}, true
}

// firstUnstable is the first offset of the oldest open transaction, or -1.
func (ps *producerState) firstUnstable() int64 {
	first := int64(-1)
	for _, off := range ps.ongoing {
		if first < 0 || off < first {
			first = off
		}
	}
	return first
}

// marshal encodes the state as of offset (see the diagram above).
func (ps *producerState) marshal(offset int64) []byte {
	be := binary.BigEndian
	b := append([]byte(nil), snapshotMagic[:]...)
	b = be.AppendUint16(b, 1)
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, uint64(offset))
	b = be.AppendUint32(b, uint32(len(ps.producers)))
	ids := make([]int64, 0, len(ps.producers))
	for id := range ps.producers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := ps.producers[id]
		b = be.AppendUint64(b, uint64(id))
		b = be.AppendUint16(b, uint16(e.epoch))
		b = be.AppendUint64(b, uint64(e.txnFirst))
		b = be.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = be.AppendUint64(b, uint64(e.lastTimestamp))
		b = append(b, byte(len(e.batches)))
		for _, s := range e.batches {
			b = be.AppendUint32(b, uint32(s.firstSeq))
			b = be.AppendUint32(b, uint32(s.lastSeq))
			b = be.AppendUint64(b, uint64(s.firstOffset))
			b = be.AppendUint64(b, uint64(s.lastOffset))
		}
	}
	return be.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errCorruptSnapshot = errors.New("broker/log: corrupt producer snapshot")

// unmarshalSnapshot decodes a snapshot; it never panics on bad input.
func unmarshalSnapshot(b []byte) (*producerState, int64, error) {
	be := binary.BigEndian
	if len(b) < 24 || [4]byte(b[:4]) != snapshotMagic || be.Uint16(b[4:]) != 1 {
		return nil, 0, fmt.Errorf("%w: bad header", errCorruptSnapshot)
	}
	if be.Uint32(b[len(b)-4:]) != crc32.Checksum(b[:len(b)-4], castagnoli) {
		return nil, 0, fmt.Errorf("%w: CRC mismatch", errCorruptSnapshot)
	}
	offset := int64(be.Uint64(b[8:]))
	n := be.Uint32(b[16:])
	p, end := b[20:len(b)-4], 0
	ps := newProducerState()
	for i := uint32(0); i < n; i++ {
		if len(p)-end < 31 {
			return nil, 0, fmt.Errorf("%w: truncated entry %d", errCorruptSnapshot, i)
		}
		q := p[end:]
		id := int64(be.Uint64(q))
		e := &producerEntry{
			epoch:            int16(be.Uint16(q[8:])),
			txnFirst:         int64(be.Uint64(q[10:])),
			coordinatorEpoch: int32(be.Uint32(q[18:])),
			lastTimestamp:    int64(be.Uint64(q[22:])),
		}
		nb := int(q[30])
		end += 31
		if nb > maxProducerBatches || len(p)-end < nb*24 {
			return nil, 0, fmt.Errorf("%w: entry %d has %d batches", errCorruptSnapshot, i, nb)
		}
		for j := 0; j < nb; j++ {
			q := p[end:]
			e.batches = append(e.batches, seqBatch{int32(be.Uint32(q)), int32(be.Uint32(q[4:])), int64(be.Uint64(q[8:])), int64(be.Uint64(q[16:]))})
			end += 24
		}
		ps.producers[id] = e
		if e.txnFirst >= 0 {
			ps.ongoing[id] = e.txnFirst
		}
	}
	if end != len(p) {
		return nil, 0, fmt.Errorf("%w: %d trailing bytes", errCorruptSnapshot, len(p)-end)
	}
	return ps, offset, nil
}

// writeSnapshot saves the state valid at offset, and deletes the snapshots
// that are neither at offset nor at a segment's base (bases). A snapshot at
// a segment's base lives as long as the segment (segment.remove deletes
// it): recovery from any recovery point finds the one it needs.
func (ps *producerState) writeSnapshot(dir string, offset int64, bases []int64) error {
	if err := fsutil.WriteFileAtomic(dir, segmentName(offset, snapshotSuffix), ps.marshal(offset)); err != nil {
		return err
	}
	offs, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	for _, o := range offs {
		if _, isBase := slices.BinarySearch(bases, o); o != offset && !isBase {
			os.Remove(filepath.Join(dir, segmentName(o, snapshotSuffix)))
		}
	}
	return nil
}

// loadSnapshot reads the snapshot valid exactly at offset.
func loadSnapshot(dir string, offset int64) (*producerState, error) {
	b, err := os.ReadFile(filepath.Join(dir, segmentName(offset, snapshotSuffix)))
	if err != nil {
		return nil, err
	}
	ps, at, err := unmarshalSnapshot(b)
	if err == nil && at != offset {
		err = fmt.Errorf("%w: holds offset %d, named %d", errCorruptSnapshot, at, offset)
	}
	return ps, err
}

// listSnapshots returns the offsets of the snapshot files in dir, sorted.
func listSnapshots(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var offs []int64
	for _, e := range entries {
		if o, ok := parseBase(e.Name()); ok && strings.HasSuffix(e.Name(), snapshotSuffix) {
			offs = append(offs, o)
		}
	}
	slices.Sort(offs)
	return offs, nil
}

// removeSnapshotsAfter deletes snapshots for offsets past end (the log was
// truncated before them).
func removeSnapshotsAfter(dir string, end int64) {
	offs, _ := listSnapshots(dir)
	for _, o := range offs {
		if o > end {
			os.Remove(filepath.Join(dir, segmentName(o, snapshotSuffix)))
		}
	}
}

func newTxnIndex() *fileIndex[AbortedTxn] {
	return &fileIndex[AbortedTxn]{
		size: abortedEntrySize,
		put: func(b []byte, e AbortedTxn) {
			be := binary.BigEndian
			be.PutUint16(b, 0)
			be.PutUint64(b[2:], uint64(e.ProducerID))
			be.PutUint64(b[10:], uint64(e.FirstOffset))
			be.PutUint64(b[18:], uint64(e.LastOffset))
			be.PutUint64(b[26:], uint64(e.LastStableOffset))
		},
		get: func(b []byte) AbortedTxn {
			be := binary.BigEndian
			return AbortedTxn{int64(be.Uint64(b[2:])), int64(be.Uint64(b[10:])), int64(be.Uint64(b[18:])), int64(be.Uint64(b[26:]))}
		},
		inOrder:  func(p, c AbortedTxn) bool { return c.LastOffset > p.LastOffset },
		describe: "transaction index",
	}
}

// abortedIn returns the aborted transactions of the segments that overlap
// the offsets [from, to). REQUIRES: Log.mu.
func (l *Log) abortedIn(from, to int64) []AbortedTxn {
	var out []AbortedTxn
	for _, s := range l.mu.segments {
		x := s.txidx
		i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset >= from })
		for _, a := range x.entries[i:] {
			if a.FirstOffset < to {
				out = append(out, a)
			}
		}
	}
	return out
}

// ProducerInfo describes a producer the log has state for.
type ProducerInfo struct {
	ProducerID       int64
	Epoch            int16
	LastSequence     int32 // -1 when the producer wrote no batch here
	LastTimestamp    int64
	CoordinatorEpoch int32
	TxnStartOffset   int64 // -1 without an open transaction
}

// Producers lists the producers the log tracks, by id.
func (l *Log) Producers() []ProducerInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]ProducerInfo, 0, len(l.mu.producers.producers))
	for id, e := range l.mu.producers.producers {
		p := ProducerInfo{ProducerID: id, Epoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp,
			CoordinatorEpoch: e.coordinatorEpoch, TxnStartOffset: e.txnFirst}
		if n := len(e.batches); n > 0 {
			p.LastSequence = e.batches[n-1].lastSeq
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return out
}
