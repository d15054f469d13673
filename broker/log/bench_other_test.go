//go:build !(linux && (amd64 || arm64))

package log

import (
	"errors"
	"os"
)

// benchFdatasync is the raw baseline's sync: f.Sync, like the log's
// fdatasync outside Linux.
func benchFdatasync(f *os.File) error { return f.Sync() }

const benchCanDropCache = false

func benchDropCache(string) error { return errors.ErrUnsupported }
