package txn

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/internal/fsutil"
)

const (
	idBlockFile = "producer-id-block"
	idBlockSize = 1000
)

// idAllocator hands out producer ids from blocks reserved on disk.
type idAllocator struct {
	dir string
	mu  sync.Mutex
	// next is the next id to hand out; end is the first id not reserved.
	next, end int64
}

func openIDs(dir string) (*idAllocator, error) {
	a := &idAllocator{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, idBlockFile))
	switch {
	case os.IsNotExist(err):
		return a, nil
	case err != nil:
		return nil, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("broker/txn: %s: want a non-negative number, have %q", filepath.Join(dir, idBlockFile), b)
	}
	a.next, a.end = n, n // the block in use before was lost with the process
	return a, nil
}

// next returns a producer id never handed out before.
func (a *idAllocator) allocate() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == a.end {
		end := a.end + idBlockSize
		if err := fsutil.WriteFileAtomic(a.dir, idBlockFile, []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
			return 0, fmt.Errorf("broker/txn: reserving producer ids: %w", err)
		}
		a.end = end
	}
	id := a.next
	a.next++
	return id, nil
}
