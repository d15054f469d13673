package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/internal/fsutil"
)

// offsetsVersion is the version of the OffsetsFile format.
const offsetsVersion = 1

// offsetsJSON is the content of OffsetsFile.
type offsetsJSON struct {
	Version int    `json:"version"`
	Stream  string `json:"stream"`
	Mode    string `json:"mode"`
	Next    int64  `json:"next"`
}

// readOffsets reads the offsets file at path, written for stream in mode.
// It returns the position, or ok false when the file does not exist.
func readOffsets(path, stream, mode string) (next int64, ok bool, _ error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres source: %s: %w", fieldOffsetsFile, err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("postgres source: %s: %s: "+format, append([]any{fieldOffsetsFile, path}, args...)...)
	}
	var o offsetsJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return 0, false, corrupt("corrupt: %w", err)
	}
	switch {
	case o.Version != offsetsVersion:
		return 0, false, corrupt("unknown version %d", o.Version)
	case o.Stream != stream:
		return 0, false, corrupt("holds the position of %q, not %q", o.Stream, stream)
	case o.Mode != mode:
		return 0, false, corrupt("holds a position of %s mode, not %s", o.Mode, mode)
	}
	return o.Next, true, nil
}

// writeOffsets replaces the offsets file at path so that a crash leaves
// either the old or the new content (fsutil.WriteFileAtomic: path+".tmp",
// fsync, rename, fsync of the directory).
func writeOffsets(path, stream, mode string, next int64) error {
	b, err := json.Marshal(offsetsJSON{Version: offsetsVersion, Stream: stream, Mode: mode, Next: next})
	if err != nil {
		return fmt.Errorf("postgres source: %s: %w", fieldOffsetsFile, err)
	}
	if err := fsutil.WriteFileAtomic(filepath.Dir(path), filepath.Base(path), append(b, '\n')); err != nil {
		return fmt.Errorf("postgres source: %s: %w", fieldOffsetsFile, err)
	}
	return nil
}
