package log

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

// I/O failures. Not parallel: they swap the package's I/O functions.

// A failed fsync: nobody waiting on it is told the data is durable, the log
// refuses every later append (the state of the file is unknown, as after
// PostgreSQL's fsync failures), reads of what was durable go on, and a
// reopen recovers whatever the file holds.
func TestFsyncFailureFailsTheLog(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, nil)
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "ok", 3, 1))

	var mu sync.Mutex
	fail := true
	syncFile = func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return syscall.EIO
		}
		return fdatasync(f)
	}
	defer func() { syncFile = fdatasync }()

	if _, err := l.Append(mkBatch(t, batch.CodecNone, "lost", 2, 1)); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("append with a failing fsync: %v, want ErrFailed wrapping EIO", err)
	}
	if hw := l.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d after a failed fsync, want 3 (the durable end)", hw)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if _, err := l.Append(mkBatch(t, batch.CodecNone, "after", 1, 1)); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after a failed fsync: %v, want ErrFailed until reopened", err)
	}
	checkContiguous(t, readAll(t, l), 0, 3)
	l.Close()

	l = mustOpen(t, dir, nil)
	defer l.Close()
	got := readAll(t, l)
	if len(got) < 3 || got[0].value != "ok-0" {
		t.Fatalf("after reopen: %v", got)
	}
	if r := mustAppend(t, l, mkBatch(t, batch.CodecNone, "again", 1, 1)); r.BaseOffset != int64(len(got)) {
		t.Fatalf("append after reopen at %d, want %d", r.BaseOffset, len(got))
	}
}

// A failed write is undone: the append fails, nothing of it is visible or
// stays in the file, and the log goes on.
func TestWriteFailureIsUndone(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, dir, nil)
	defer l.Close()
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "ok", 3, 1))
	writeFile = func(f *os.File, b []byte, off int64) (int, error) {
		n, _ := f.WriteAt(b[:len(b)/2], off) // a torn write
		return n, syscall.ENOSPC
	}
	_, err := l.Append(mkBatch(t, batch.CodecNone, "torn", 4, 1))
	writeFile = func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append with a failing write: %v", err)
	}
	if r := mustAppend(t, l, mkBatch(t, batch.CodecNone, "next", 2, 1)); r.BaseOffset != 3 {
		t.Fatalf("next append at %d, want 3: the failed one must not take offsets", r.BaseOffset)
	}
	got := readAll(t, l)
	checkContiguous(t, got, 0, 5)
	if got[3].value != "next-0" {
		t.Fatalf("record 3 is %q, want next-0", got[3].value)
	}
}
