//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const lockFile = ".lock"

// lockDir takes an exclusive flock on dir/.lock, as Kafka does, so that two
// stores never write one directory. The lock is released when the returned
// file is closed, or by the kernel when the process dies.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another store (another runnel process, or an open Store in this one)", ErrLocked, path)
		}
		return nil, fmt.Errorf("broker/store: lock %s: %w", path, err)
	}
	return f, nil
}
