// Package fsutil holds the file operations that crash-safe storage needs:
// the broker's logs and metadata, the file source's offsets and the file
// sink's commits; and the lock that keeps two processes out of one data
// directory.
package fsutil

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrLocked is wrapped by Lock's error when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

// WriteFileAtomic replaces dir/name with data so that a crash leaves either
// the old or the new content: write "name.tmp", fsync it, rename it over
// name, fsync dir.
func WriteFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = SyncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// SyncDir fsyncs a directory, making the renames and creations in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
