//go:build !unix

package fsutil

import "os"

// Lock creates the file at path but cannot lock it on this platform: two
// holders are not detected.
func Lock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
