package log

import (
	"errors"
	"fmt"
)

// Errors returned by the log. Batch validation errors come from package
// batch (batch.ErrCRC, batch.ErrBadLength, batch.ErrUnknownMagic, ...)
// wrapped in a *BatchError.
var (
	// ErrOffsetOutOfRange is returned by Read for an offset below the log
	// start offset or above the high watermark.
	ErrOffsetOutOfRange = errors.New("broker/log: offset out of range")
	// ErrClosed is returned by calls on a closed log.
	ErrClosed = errors.New("broker/log: log is closed")
	// ErrFailed is returned once a write or fsync has failed: the state
	// of the file on disk is unknown, so the log refuses further appends
	// until it is reopened (and recovered).
	ErrFailed = errors.New("broker/log: log failed after an I/O error")
	// ErrEmptyAppend is returned for an append of zero bytes.
	ErrEmptyAppend = errors.New("broker/log: empty append")
	// ErrControlBatch is returned when Append is given a control batch
	// (a transaction marker): only AppendControl writes those.
	ErrControlBatch = errors.New("broker/log: control batches are written by the broker only")
	// ErrTooLarge is returned when a batch exceeds max.message.bytes.
	ErrTooLarge = errors.New("broker/log: batch larger than max.message.bytes")
)

// BatchError reports an invalid batch in an append: which batch of the
// request, at which byte position, and why. Nothing of the append was
// written.
type BatchError struct {
	Index    int   // 0-based batch number in the appended bytes
	Position int   // byte position of the batch in the appended bytes
	Err      error // batch.ErrCRC, batch.ErrBadLength, ...
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("broker/log: batch %d at byte %d rejected: %v", e.Index, e.Position, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }
