// Package proctest holds what the tests that run child processes (the
// kill -9 tests of the broker, the log and the pipelines, and the CLI's)
// share.
package proctest

import (
	"bytes"
	"sync"
)

// Buffer collects a child's output; it may be read while the child
// writes.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
