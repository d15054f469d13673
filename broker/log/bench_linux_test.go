//go:build linux && (amd64 || arm64)

package log

import (
	"os"
	"syscall"
)

// benchFdatasync is the raw baseline's fdatasync: the system call, with
// nothing around it.
func benchFdatasync(f *os.File) error {
	fd := int(f.Fd())
	for {
		if err := syscall.Fdatasync(fd); err != syscall.EINTR {
			return err
		}
	}
}

const benchCanDropCache = true

// benchDropCache evicts the file at path from the page cache
// (posix_fadvise POSIX_FADV_DONTNEED). Dirty pages stay: call it on files
// that were fsynced.
func benchDropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	const fadvDontNeed = 4
	if _, _, e := syscall.Syscall6(syscall.SYS_FADVISE64, f.Fd(), 0, 0, fadvDontNeed, 0, 0); e != 0 {
		return e
	}
	return nil
}
