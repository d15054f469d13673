//go:build !unix

package store

import (
	"os"
	"path/filepath"
)

const lockFile = ".lock"

// lockDir creates dir/.lock but cannot lock it on this platform: two
// stores on one directory are not detected.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
}
