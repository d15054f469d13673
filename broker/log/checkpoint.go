package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// The recovery checkpoint, one per partition directory, file "checkpoint".
// It is replaced atomically (write a temp file, fsync, rename, fsync the
// directory). All integers big-endian:
//
//	 0        4         6        8                 16                24
//	+--------+---------+--------+-----------------+-----------------+
//	| "RNCP" | version | flags  | recoveryPoint   | logStartOffset  |
//	|        | uint16=1| uint16 | int64           | int64           |
//	+--------+---------+--------+-----------------+-----------------+
//	 24                32                40               44
//	+-----------------+-----------------+----------------+
//	| logEndOffset    | activeSize      | CRC-32C of     |
//	| int64           | int64           | bytes 0..39    |
//	+-----------------+-----------------+----------------+
//
// flags bit 0 (clean) is set only by Close, after every file was fsynced;
// Open clears it before the log is written to again. recoveryPoint is the
// offset below which the log and both indexes are known to be on disk: a
// restart trusts everything below it and validates only what follows.
// activeSize is the size of the last segment's .log at a clean close; a
// different size at open means the files changed since and the tail is
// validated anyway.

const (
	checkpointFile    = "checkpoint"
	checkpointSize    = 44
	checkpointVersion = 1
	flagClean         = 1
)

var checkpointMagic = [4]byte{'R', 'N', 'C', 'P'}

var errCorruptCheckpoint = errors.New("broker/log: corrupt checkpoint")

type checkpoint struct {
	clean         bool
	recoveryPoint int64
	logStart      int64
	logEnd        int64
	activeSize    int64
}

func (c *checkpoint) marshal() []byte {
	b := make([]byte, checkpointSize)
	copy(b, checkpointMagic[:])
	be := binary.BigEndian
	be.PutUint16(b[4:], checkpointVersion)
	if c.clean {
		be.PutUint16(b[6:], flagClean)
	}
	be.PutUint64(b[8:], uint64(c.recoveryPoint))
	be.PutUint64(b[16:], uint64(c.logStart))
	be.PutUint64(b[24:], uint64(c.logEnd))
	be.PutUint64(b[32:], uint64(c.activeSize))
	be.PutUint32(b[40:], crc32.Checksum(b[:40], castagnoli))
	return b
}

func unmarshalCheckpoint(b []byte) (checkpoint, error) {
	be := binary.BigEndian
	switch {
	case len(b) != checkpointSize:
		return checkpoint{}, fmt.Errorf("%w: %d bytes, want %d", errCorruptCheckpoint, len(b), checkpointSize)
	case [4]byte(b[:4]) != checkpointMagic:
		return checkpoint{}, fmt.Errorf("%w: bad magic %q", errCorruptCheckpoint, b[:4])
	case be.Uint16(b[4:]) != checkpointVersion:
		return checkpoint{}, fmt.Errorf("%w: version %d", errCorruptCheckpoint, be.Uint16(b[4:]))
	case be.Uint32(b[40:]) != crc32.Checksum(b[:40], castagnoli):
		return checkpoint{}, fmt.Errorf("%w: CRC mismatch", errCorruptCheckpoint)
	}
	c := checkpoint{
		clean:         be.Uint16(b[6:])&flagClean != 0,
		recoveryPoint: int64(be.Uint64(b[8:])),
		logStart:      int64(be.Uint64(b[16:])),
		logEnd:        int64(be.Uint64(b[24:])),
		activeSize:    int64(be.Uint64(b[32:])),
	}
	if c.recoveryPoint < 0 || c.logStart < 0 || c.logEnd < c.logStart || c.activeSize < 0 {
		return checkpoint{}, fmt.Errorf("%w: offsets out of range", errCorruptCheckpoint)
	}
	return c, nil
}

func readCheckpoint(dir string) (checkpoint, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	if os.IsNotExist(err) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, err
	}
	c, err := unmarshalCheckpoint(b)
	return c, err == nil, err
}

func writeCheckpoint(dir string, c checkpoint) error {
	return fsutil.WriteFileAtomic(dir, checkpointFile, c.marshal())
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
