// Package posfile reads and writes position files: the small JSON files in
// which sources keep how far they have read (their offsets files). Each
// source defines its own content and checks it; posfile only decodes,
// encodes and replaces the file crash-safely.
package posfile

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// CorruptError reports a position file whose content does not decode as
// JSON into the value given to Read.
type CorruptError struct {
	Path string // the file
	Err  error  // the decoding error
}

// Error returns "<path>: corrupt: <decoding error>".
func (e *CorruptError) Error() string { return e.Path + ": corrupt: " + e.Err.Error() }

// Unwrap returns the decoding error.
func (e *CorruptError) Unwrap() error { return e.Err }

// Read decodes the JSON in the file at path into v. It returns ok false
// and no error when the file does not exist, the error of os.ReadFile
// unchanged when it cannot be read, and a *CorruptError when its content
// does not decode.
func Read(path string, v any) (ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, &CorruptError{Path: path, Err: err}
	}
	return true, nil
}

// Write replaces the file at path with v encoded as JSON and a newline,
// so that a crash leaves either the old or the new content
// (fsutil.WriteFileAtomic: path+".tmp", fsync, rename, fsync of the
// directory). Its errors are those of json.Marshal and the file system,
// unchanged.
func Write(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Dir(path), filepath.Base(path), append(b, '\n'))
}
