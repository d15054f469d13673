package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/internal/fsutil"
)

const lockFile = ".lock"

// lockDir takes an exclusive flock on dir/.lock, as Kafka does, so that two
// stores never write one directory. The lock is released when the returned
// file is closed, or by the kernel when the process dies. (Off unix the
// file is created and not locked: two stores are not detected.)
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := fsutil.Lock(path)
	switch {
	case errors.Is(err, fsutil.ErrLocked):
		return nil, fmt.Errorf("%w: %s is locked by another store (another runnel process, or an open Store in this one)", ErrLocked, path)
	case err != nil:
		return nil, fmt.Errorf("broker/store: %w", err)
	}
	return f, nil
}
