package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// An index file is a flat array of fixed-size big-endian entries, appended
// in order and kept in memory:
//
//	.index      | relativeOffset uint32 | position uint32 |            8 bytes
//	.timeindex  | timestamp int64       | relativeOffset uint32 |     12 bytes
//
// relativeOffset is the batch's base offset minus the segment's base offset.
// The offset index holds one entry per IndexIntervalBytes of log: the base
// offset and file position of the batch that starts there. A time index
// entry (T, R) says that every record with relative offset <= R has a
// timestamp <= T; T grows strictly from entry to entry.
//
// Entries are written to the file lazily (on roll, checkpoint and close);
// after a crash the entries past the recovery point are rebuilt from the log.

type offsetEntry struct {
	rel uint32
	pos uint32
}

type timeEntry struct {
	ts  int64
	rel uint32
}

const (
	offsetEntrySize = 8
	timeEntrySize   = 12
)

var errCorruptIndex = errors.New("broker/log: corrupt index")

// fileIndex is an index file and its entries. Not safe for concurrent use:
// the owning segment's lock rules apply.
type fileIndex[E any] struct {
	f        *os.File
	entries  []E
	flushed  int // entries already written to f
	size     int
	put      func([]byte, E)
	get      func([]byte) E
	inOrder  func(prev, cur E) bool
	describe string
}

func newOffsetIndex() *fileIndex[offsetEntry] {
	return &fileIndex[offsetEntry]{
		size: offsetEntrySize,
		put: func(b []byte, e offsetEntry) {
			binary.BigEndian.PutUint32(b, e.rel)
			binary.BigEndian.PutUint32(b[4:], e.pos)
		},
		get: func(b []byte) offsetEntry {
			return offsetEntry{binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])}
		},
		inOrder:  func(p, c offsetEntry) bool { return c.rel > p.rel && c.pos > p.pos },
		describe: "offset index",
	}
}

func newTimeIndex() *fileIndex[timeEntry] {
	return &fileIndex[timeEntry]{
		size: timeEntrySize,
		put: func(b []byte, e timeEntry) {
			binary.BigEndian.PutUint64(b, uint64(e.ts))
			binary.BigEndian.PutUint32(b[8:], e.rel)
		},
		get: func(b []byte) timeEntry {
			return timeEntry{int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:])}
		},
		inOrder:  func(p, c timeEntry) bool { return c.ts > p.ts && c.rel >= p.rel },
		describe: "time index",
	}
}

// open opens (creating) the file at path.
func (x *fileIndex[E]) open(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	x.f = f
	return nil
}

// load reads all entries from the file and checks that they are in order
// and that valid(e) holds for each. On any problem it returns
// errCorruptIndex with the detail and leaves no entries.
func (x *fileIndex[E]) load(valid func(E) bool) error {
	x.entries, x.flushed = x.entries[:0], 0
	st, err := x.f.Stat()
	if err != nil {
		return err
	}
	b := make([]byte, st.Size())
	if _, err := x.f.ReadAt(b, 0); err != nil && err != io.EOF {
		return err
	}
	if len(b)%x.size != 0 {
		return fmt.Errorf("%w: %s %s has %d bytes, not a multiple of %d", errCorruptIndex, x.describe, x.f.Name(), len(b), x.size)
	}
	entries := make([]E, 0, len(b)/x.size)
	for i := 0; i < len(b); i += x.size {
		e := x.get(b[i:])
		if !valid(e) || (len(entries) > 0 && !x.inOrder(entries[len(entries)-1], e)) {
			return fmt.Errorf("%w: %s %s entry %d out of range or out of order", errCorruptIndex, x.describe, x.f.Name(), i/x.size)
		}
		entries = append(entries, e)
	}
	x.entries, x.flushed = entries, len(entries)
	return nil
}

func (x *fileIndex[E]) add(e E) { x.entries = append(x.entries, e) }

func (x *fileIndex[E]) last() (E, bool) {
	if len(x.entries) == 0 {
		var zero E
		return zero, false
	}
	return x.entries[len(x.entries)-1], true
}

// keep drops all entries from n on, in memory and (at the next flush) on disk.
func (x *fileIndex[E]) keep(n int) {
	if n < len(x.entries) {
		x.entries = x.entries[:n]
	}
	if x.flushed > n {
		x.flushed = n
	}
}

// flush writes the entries not yet on disk and trims the file to them.
func (x *fileIndex[E]) flush() error {
	if x.flushed < len(x.entries) {
		buf := make([]byte, (len(x.entries)-x.flushed)*x.size)
		for i, e := range x.entries[x.flushed:] {
			x.put(buf[i*x.size:], e)
		}
		if _, err := x.f.WriteAt(buf, int64(x.flushed*x.size)); err != nil {
			return err
		}
	}
	x.flushed = len(x.entries)
	return x.f.Truncate(int64(x.flushed * x.size))
}

func (x *fileIndex[E]) sync() error {
	if err := x.flush(); err != nil {
		return err
	}
	return x.f.Sync()
}

func (x *fileIndex[E]) close() error {
	if x.f == nil {
		return nil
	}
	err := x.f.Close()
	x.f = nil
	return err
}

// search returns the index of the last entry for which before(e) holds,
// or -1. before must be true for a prefix of the entries.
func (x *fileIndex[E]) search(before func(E) bool) int {
	return sort.Search(len(x.entries), func(i int) bool { return !before(x.entries[i]) }) - 1
}
